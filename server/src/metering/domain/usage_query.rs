//! The usage API's question (`GET /v1/usage`): which hours, in which buckets. Pure: the bounds
//! are checked and the hourly totals summed here, read from the rollups elsewhere.
use std::collections::BTreeMap;

use crate::metering::domain::usage::{HOUR_MS, MAX_CUSTOM_DAYS, hour_of};
use crate::shared::time::{parse_day, parse_rfc3339_or_date};

const DAY_MS: i64 = 24 * HOUR_MS;
/// A year of days: enough for a report, small enough to answer in one response.
pub const MAX_DAY_BUCKETS: i64 = 366;
/// The most namespace-buckets one answer holds (four namespaces by the hour for 92 days): a
/// bigger question is asked by the day, for fewer days or one namespace at a time.
pub const MAX_ANSWER_BUCKETS: i64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Hour,
    Day,
}

impl Granularity {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "hour" => Some(Self::Hour),
            "day" => Some(Self::Day),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }

    fn span_ms(self) -> i64 {
        match self {
            Self::Hour => HOUR_MS,
            Self::Day => DAY_MS,
        }
    }

    /// The start of the bucket (UTC hour or day) that holds `at`.
    pub fn bucket_of(self, at: i64) -> i64 {
        at - at.rem_euclid(self.span_ms())
    }
}

/// `[from, to)` widened to whole buckets and ending no later than the current hour's end, or the
/// field at fault and why. `from` and `to` are RFC 3339 instants or dates (`2026-11-01`).
pub fn query_bounds(
    from: &str,
    to: &str,
    granularity: Granularity,
    now_ms: i64,
) -> Result<(i64, i64), (&'static str, String)> {
    let instant = |field: &'static str, text: &str| {
        parse_rfc3339_or_date(text.trim())
            .ok_or_else(|| (field, "must be an RFC 3339 time or a date such as 2026-11-01".to_owned()))
    };
    let first = instant("from", from)?;
    // A date alone as the end means through that day, as on the Usage page.
    let last = match parse_day(to.trim()) {
        Some(day) => day + DAY_MS,
        None => instant("to", to)?,
    };
    if last <= first {
        return Err(("to", "must be after from".to_owned()));
    }
    let span = granularity.span_ms();
    let start = granularity.bucket_of(first);
    let end = granularity.bucket_of(last - 1) + span;
    let limit = match granularity {
        Granularity::Hour => MAX_CUSTOM_DAYS * DAY_MS,
        Granularity::Day => MAX_DAY_BUCKETS * DAY_MS,
    };
    if end - start > limit {
        return Err(("to", format!("must be within {} days of from at this granularity", limit / DAY_MS)));
    }
    let now_end = hour_of(now_ms) + HOUR_MS;
    if start >= now_end {
        return Err(("from", "must not be in the future".to_owned()));
    }
    Ok((start, end.min(now_end)))
}

/// Refuses an answer of more than [`MAX_ANSWER_BUCKETS`]: `namespaces` × the buckets of `[from, to)`.
pub fn check_answer_size(
    namespaces: usize,
    from: i64,
    to: i64,
    granularity: Granularity,
) -> Result<(), (&'static str, String)> {
    let buckets = (to - from).div_euclid(granularity.span_ms()).max(0);
    let namespaces = i64::try_from(namespaces).unwrap_or(i64::MAX);
    if buckets.saturating_mul(namespaces) > MAX_ANSWER_BUCKETS {
        let limit = format!(
            "{namespaces} namespaces × {buckets} buckets is over the {MAX_ANSWER_BUCKETS} an answer holds: ask by the day, for fewer days, or for one namespace"
        );
        return Err(("to", limit));
    }
    Ok(())
}

/// Hourly totals `(series, hour, total)` summed into buckets: `(series, bucket) → total`, buckets
/// that come to zero left out. A series is a namespace, or a namespace and a dimension's value.
/// Checked: a sum beyond 64 bits is refused rather than wrapped.
pub fn bucket_totals<K: Ord>(
    hourly: impl IntoIterator<Item = (K, i64, i64)>,
    granularity: Granularity,
) -> Option<BTreeMap<(K, i64), i64>> {
    let mut buckets = BTreeMap::new();
    for (series, hour, total) in hourly {
        let sum: &mut i64 = buckets.entry((series, granularity.bucket_of(hour))).or_insert(0);
        *sum = sum.checked_add(total)?;
    }
    // Usage taken back within a bucket leaves nothing to show, as on the page.
    buckets.retain(|_, total| *total != 0);
    Some(buckets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::time::parse_rfc3339_or_date as at;

    fn ms(text: &str) -> i64 {
        at(text).unwrap()
    }

    #[test]
    fn bounds_widen_to_whole_buckets_and_stop_at_the_current_hour() {
        let now = ms("2026-11-20T10:30:00Z");
        let hours = query_bounds("2026-11-01T10:15:00Z", "2026-11-01T12:00:00Z", Granularity::Hour, now);
        assert_eq!(hours, Ok((ms("2026-11-01T10:00:00Z"), ms("2026-11-01T12:00:00Z"))));
        let days = query_bounds("2026-11-01T10:15:00Z", "2026-11-02T00:00:01Z", Granularity::Day, now);
        assert_eq!(days, Ok((ms("2026-11-01"), ms("2026-11-03"))));
        let until_now = query_bounds("2026-11-19", "2026-12-01", Granularity::Day, now);
        assert_eq!(until_now, Ok((ms("2026-11-19"), ms("2026-11-20T11:00:00Z"))));
        let one_day = query_bounds("2026-11-01", "2026-11-01", Granularity::Hour, now);
        assert_eq!(one_day, Ok((ms("2026-11-01"), ms("2026-11-02"))), "a date as the end means through that day");
    }

    #[test]
    fn bad_bounds_name_their_field() {
        let now = ms("2026-11-20T10:30:00Z");
        let field = |from: &str, to: &str, g| query_bounds(from, to, g, now).unwrap_err().0;
        assert_eq!(field("yesterday", "2026-11-02", Granularity::Hour), "from");
        assert_eq!(field("2026-11-01", "soon", Granularity::Hour), "to");
        assert_eq!(field("2026-11-02", "2026-11-01", Granularity::Hour), "to");
        assert_eq!(field("2026-11-02T00:00:00Z", "2026-11-02T00:00:00Z", Granularity::Hour), "to");
        assert!(query_bounds("2026-08-20", "2026-11-19", Granularity::Hour, now).is_ok(), "92 days by the hour");
        assert_eq!(field("2026-08-20", "2026-11-20", Granularity::Hour), "to", "93 days by the hour");
        assert_eq!(field("2026-12-01", "2026-12-02", Granularity::Day), "from");
        assert_eq!(field("2026-01-01", "2026-11-01", Granularity::Hour), "to", "hours for at most 92 days");
        assert!(query_bounds("2026-01-01", "2026-11-01", Granularity::Day, now).is_ok(), "days for a year");
        assert_eq!(field("2024-01-01", "2026-11-01", Granularity::Day), "to");
    }

    #[test]
    fn hours_sum_into_their_utc_day_per_namespace() {
        let (d1, d2) = (ms("2026-11-01"), ms("2026-11-02"));
        let hourly = [("a", d1, 5), ("a", d1 + 23 * HOUR_MS, 7), ("a", d2, 1), ("b", d1 + HOUR_MS, 2)];
        let days = bucket_totals(hourly, Granularity::Day).unwrap();
        assert_eq!(days.into_iter().collect::<Vec<_>>(), [(("a", d1), 12), (("a", d2), 1), (("b", d1), 2)]);
        let hours = bucket_totals(hourly, Granularity::Hour).unwrap();
        assert_eq!(hours.len(), 4);
        assert_eq!(bucket_totals([("a", d1, i64::MAX), ("a", d1 + HOUR_MS, 1)], Granularity::Day), None);
        let taken_back =
            bucket_totals([("a", d1, 5), ("a", d1 + HOUR_MS, -5), ("b", d1, 1)], Granularity::Day).unwrap();
        assert_eq!(
            taken_back.into_iter().collect::<Vec<_>>(),
            [(("b", d1), 1)],
            "a bucket that comes to zero is left out"
        );
    }

    #[test]
    fn an_answer_holds_at_most_ten_thousand_namespace_buckets() {
        let day = ms("2026-11-01");
        let ninety_two = day + 92 * DAY_MS;
        assert_eq!(check_answer_size(4, day, ninety_two, Granularity::Hour), Ok(()), "8,832");
        assert_eq!(check_answer_size(5, day, ninety_two, Granularity::Hour).unwrap_err().0, "to", "11,040");
        assert_eq!(check_answer_size(27, day, day + 366 * DAY_MS, Granularity::Day), Ok(()), "9,882");
        assert_eq!(check_answer_size(usize::MAX, day, ninety_two, Granularity::Day).unwrap_err().0, "to");
    }
}
