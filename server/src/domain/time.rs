//! Times are unix milliseconds in UTC everywhere below the UI.
use time::OffsetDateTime;
use time::macros::format_description;

pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// `2026-11-25 09:30 UTC`: what people read in the portal.
pub fn display_ms(ms: i64) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_minutes_in_utc() {
        assert_eq!(display_ms(1_795_253_400_000), "2026-11-21 09:30 UTC");
        assert_eq!(display_ms(0), "1970-01-01 00:00 UTC");
    }
}
