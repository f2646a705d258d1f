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

/// `2026-11-25T09:30:00Z` or `2026-11-25` (midnight UTC).
pub fn parse_rfc3339_or_date(text: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    let instant = OffsetDateTime::parse(text, &Rfc3339).ok().or_else(|| {
        time::Date::parse(text, format_description!("[year]-[month]-[day]")).ok().map(|d| d.midnight().assume_utc())
    })?;
    Some((instant.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_minutes_in_utc() {
        assert_eq!(display_ms(1_795_253_400_000), "2026-11-21 09:30 UTC");
        assert_eq!(display_ms(0), "1970-01-01 00:00 UTC");
    }

    #[test]
    fn instants_parse_from_times_and_dates() {
        assert_eq!(parse_rfc3339_or_date("2026-11-21T09:30:00Z"), Some(1_795_253_400_000));
        assert_eq!(parse_rfc3339_or_date("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_rfc3339_or_date("soon"), None);
    }
}
