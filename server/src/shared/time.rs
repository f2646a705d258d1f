//! Times are unix milliseconds in UTC everywhere below the UI.
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;
use time::macros::format_description;

pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// The time billing and metering run at: the system clock, unless a test has set it. Clones
/// share one setting, so a test moves the whole running server through billing periods.
#[derive(Debug, Clone)]
pub struct Clock {
    frozen_at: Arc<AtomicI64>,
}

const NOT_SET: i64 = i64::MIN;

impl Clock {
    pub fn system() -> Self {
        Self { frozen_at: Arc::new(AtomicI64::new(NOT_SET)) }
    }

    pub fn now_ms(&self) -> i64 {
        match self.frozen_at.load(Ordering::Relaxed) {
            NOT_SET => now_ms(),
            frozen => frozen,
        }
    }

    /// Stops the clock at `ms` (tests only; nothing in the server calls it).
    pub fn set(&self, ms: i64) {
        self.frozen_at.store(ms, Ordering::Relaxed);
    }
}

/// `2026-11-25 09:30 UTC`: times as stored texts, mail, documents and logs show them.
pub fn display_ms(ms: i64) -> String {
    format_utc(ms, format_description!("[year]-[month]-[day] [hour]:[minute] UTC"))
}

/// `ms` in UTC by `format`, or the bare number for an instant the format cannot show.
fn format_utc(ms: i64, format: &(impl time::formatting::Formattable + ?Sized)) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// `09:00`, or `11-25 09h` with the day: a chart's hour in UTC.
pub fn display_utc_hour(ms: i64, with_day: bool) -> String {
    let Ok(t) = OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)) else { return String::new() };
    if with_day {
        format!("{:02}-{:02} {:02}h", t.month() as u8, t.day(), t.hour())
    } else {
        format!("{:02}:00", t.hour())
    }
}

/// `in 3 days`, `5 hours ago`, `in 12 minutes` or `now`: how far `to` is from `from`, in the
/// largest unit that still reads as a whole number of two or more (one unit below that).
pub fn duration_words(from: i64, to: i64) -> String {
    const MINUTE: u64 = 60_000;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    let span = to.abs_diff(from);
    let (count, unit) = match span {
        s if s >= 2 * DAY => (s / DAY, "day"),
        s if s >= 2 * HOUR => (s / HOUR, "hour"),
        s if s >= MINUTE => (s / MINUTE, "minute"),
        _ => return "now".to_owned(),
    };
    let words = format!("{count} {unit}{}", if count == 1 { "" } else { "s" });
    if to >= from { format!("in {words}") } else { format!("{words} ago") }
}

/// `ms` formatted by `pattern` (strftime) in `zone`, when the time zone database knows it.
pub fn format_in_zone(ms: i64, zone: &str, pattern: &str) -> Option<String> {
    let zone = jiff::tz::TimeZone::get(zone).ok()?;
    let instant = jiff::Timestamp::from_millisecond(ms).ok()?;
    Some(instant.to_zoned(zone).strftime(pattern).to_string())
}

/// Whether the time zone database knows `name` (`Europe/Paris`).
pub fn is_time_zone(name: &str) -> bool {
    name.len() <= 64 && jiff::tz::TimeZone::get(name).is_ok()
}

/// Every zone name the database knows, sorted: what a reader chooses from.
pub fn time_zone_names() -> Vec<String> {
    let mut names: Vec<String> = jiff::tz::db().available().map(|name| name.to_string()).collect();
    names.sort();
    names
}

/// `2026-11-25`: the UTC day of an instant, as date fields take it.
pub fn display_day(ms: i64) -> String {
    format_utc(ms, format_description!("[year]-[month]-[day]"))
}

/// `2026-11-25T09:30:00Z`: how instants travel in JSON.
pub fn display_rfc3339(ms: i64) -> String {
    format_utc(ms, &time::format_description::well_known::Rfc3339)
}

/// `2026-11-25T09:30:00Z` or `2026-11-25` (midnight UTC).
pub fn parse_rfc3339_or_date(text: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    let instant = OffsetDateTime::parse(text, &Rfc3339).ok();
    instant.map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64).or_else(|| parse_day(text))
}

/// `2026-11-25` → midnight UTC of that day.
pub fn parse_day(text: &str) -> Option<i64> {
    let day = time::Date::parse(text, format_description!("[year]-[month]-[day]")).ok()?;
    Some(day.midnight().assume_utc().unix_timestamp() * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_words_in_their_largest_whole_unit() {
        let (minute, hour, day) = (60_000, 3_600_000, 86_400_000);
        assert_eq!(duration_words(0, 3 * day + 5 * hour), "in 3 days");
        assert_eq!(duration_words(0, 36 * hour), "in 36 hours");
        assert_eq!(duration_words(0, 90 * minute), "in 90 minutes");
        assert_eq!(duration_words(0, minute), "in 1 minute");
        assert_eq!(duration_words(5 * hour, 0), "5 hours ago");
        assert_eq!(duration_words(0, 59_999), "now");
        assert_eq!(duration_words(i64::MIN, i64::MAX), "in 213503982334 days");
    }

    #[test]
    fn times_format_in_a_named_zone_and_unknown_zones_are_refused() {
        let at = 1_795_253_400_000; // 2026-11-21T09:30:00Z
        let pattern = "%Y-%m-%d %H:%M %Z";
        assert_eq!(display_ms(at), "2026-11-21 09:30 UTC");
        assert_eq!(format_in_zone(at, "Asia/Tokyo", pattern).as_deref(), Some("2026-11-21 18:30 JST"));
        assert_eq!(format_in_zone(at, "America/New_York", pattern).as_deref(), Some("2026-11-21 04:30 EST"));
        assert_eq!(format_in_zone(at, "Asia/Kolkata", "%m-%d %Hh").as_deref(), Some("11-21 15h"));
        assert_eq!(format_in_zone(at, "Mars/Olympus_Mons", pattern), None);
        assert_eq!(display_utc_hour(at, true), "11-21 09h");
        assert!(is_time_zone("Europe/Paris") && !is_time_zone("Europe/Atlantis"));
        assert!(time_zone_names().iter().any(|n| n == "America/Argentina/Buenos_Aires"));
    }

    #[test]
    fn a_set_clock_is_shared_by_its_clones() {
        let clock = Clock::system();
        let copy = clock.clone();
        assert!((copy.now_ms() - now_ms()).abs() < 60_000);
        clock.set(86_400_000);
        assert_eq!(copy.now_ms(), 86_400_000);
    }

    #[test]
    fn displays_minutes_in_utc() {
        assert_eq!(display_ms(1_795_253_400_000), "2026-11-21 09:30 UTC");
        assert_eq!(display_ms(0), "1970-01-01 00:00 UTC");
    }

    #[test]
    fn instants_round_trip_through_rfc3339() {
        assert_eq!(display_rfc3339(1_795_253_400_000), "2026-11-21T09:30:00Z");
        assert_eq!(parse_rfc3339_or_date(&display_rfc3339(1_795_253_400_123)), Some(1_795_253_400_123));
    }

    #[test]
    fn instants_parse_from_times_and_dates() {
        assert_eq!(parse_rfc3339_or_date("2026-11-21T09:30:00Z"), Some(1_795_253_400_000));
        assert_eq!(parse_rfc3339_or_date("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_rfc3339_or_date("soon"), None);
    }
}
