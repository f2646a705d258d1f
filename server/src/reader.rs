//! What the reader of a server function's answer sees: times in their zone (their choice, else
//! their browser's), set around every server function by `serve!`. Outside one (jobs, mail,
//! documents, exports) times read in UTC.
use app::api::backend::reader_time_zone;
use app::api::dto::Moment;

use crate::shared::time::{display_ms, display_rfc3339, display_utc_hour, format_in_zone};

/// `2026-11-25 18:30 JST`, or `2026-11-25 09:30 UTC` without a reader's zone.
pub fn display_time(ms: i64) -> String {
    reader_time_zone().and_then(|zone| format_in_zone(ms, &zone, "%Y-%m-%d %H:%M %Z")).unwrap_or_else(|| display_ms(ms))
}

/// A moment for a page to show on its own: the reader's time, and UTC for the hover.
pub fn moment(ms: i64) -> Moment {
    Moment { local: display_time(ms), utc: display_rfc3339(ms) }
}

/// `09:00`, or `11-25 09h` with the day: a chart's hour in the reader's zone.
pub fn display_hour(ms: i64, with_day: bool) -> String {
    let pattern = if with_day { "%m-%d %Hh" } else { "%H:00" };
    reader_time_zone()
        .and_then(|zone| format_in_zone(ms, &zone, pattern))
        .unwrap_or_else(|| display_utc_hour(ms, with_day))
}

#[cfg(test)]
mod tests {
    use app::api::backend::in_time_zone;

    use super::*;

    #[tokio::test]
    async fn times_read_in_the_readers_zone_and_in_utc_without_one() {
        let at = 1_795_253_400_000; // 2026-11-21T09:30:00Z
        let zoned = |zone: &str| in_time_zone(Some(zone.to_owned()), async move { display_time(at) });
        assert_eq!(display_time(at), "2026-11-21 09:30 UTC");
        assert_eq!(zoned("Asia/Tokyo").await, "2026-11-21 18:30 JST");
        assert_eq!(zoned("Mars/Olympus_Mons").await, "2026-11-21 09:30 UTC", "an unknown zone reads as UTC");
        assert_eq!(in_time_zone(Some("Asia/Kolkata".into()), async move { display_hour(at, true) }).await, "11-21 15h");
        assert_eq!(display_hour(at, false), "09:00");
        let tokyo = in_time_zone(Some("Asia/Tokyo".into()), async move { moment(at) }).await;
        assert_eq!((tokyo.local.as_str(), tokyo.utc_text().as_str()), ("2026-11-21 18:30 JST", "2026-11-21 09:30 UTC"));
    }
}
