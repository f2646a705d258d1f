//! Billing periods: calendar months in UTC anchored at the subscription's start day. An anchor
//! past the end of a short month falls on that month's last day (31 → 28 or 29 February).
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
}

fn anchored(year: i32, month: Month, anchor_day: u8, at: Time) -> OffsetDateTime {
    let last = time::util::days_in_month(month, year);
    let date = Date::from_calendar_date(year, month, anchor_day.min(last)).unwrap_or(Date::MIN);
    PrimitiveDateTime::new(date, at).assume_utc()
}

fn shift(year: i32, month: Month, months: i32) -> (i32, Month) {
    let index = year * 12 + month as i32 - 1 + months;
    (index.div_euclid(12), Month::try_from((index.rem_euclid(12) + 1) as u8).unwrap_or(Month::January))
}

/// The period that contains `t`, for a subscription that started at `anchor`.
pub fn period_containing(anchor: OffsetDateTime, t: OffsetDateTime) -> Period {
    let (day, at) = (anchor.day(), anchor.time());
    let mut start = anchored(t.year(), t.month(), day, at);
    if start > t {
        let (y, m) = shift(t.year(), t.month(), -1);
        start = anchored(y, m, day, at);
    }
    let (y, m) = shift(start.year(), start.month(), 1);
    Period { start, end: anchored(y, m, day, at) }
}

pub fn instant(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub fn millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The billing period containing `at`: for a period's end, the period after it.
pub fn next_period(anchor_at: i64, at: i64) -> (i64, i64) {
    let period = period_containing(instant(anchor_at), instant(at));
    (millis(period.start), millis(period.end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_period_runs_from_the_anchor_day_to_the_same_day_next_month() {
        let p = period_containing(datetime!(2026-01-15 10:00 UTC), datetime!(2026-11-20 00:00 UTC));
        assert_eq!((p.start, p.end), (datetime!(2026-11-15 10:00 UTC), datetime!(2026-12-15 10:00 UTC)));
        let before_anchor = period_containing(datetime!(2026-01-15 10:00 UTC), datetime!(2026-11-15 09:59 UTC));
        assert_eq!(before_anchor.start, datetime!(2026-10-15 10:00 UTC));
    }

    #[test]
    fn month_ends_clamp_to_the_last_day_in_february_and_leap_years() {
        let anchor = datetime!(2026-01-31 00:00 UTC);
        let feb = period_containing(anchor, datetime!(2027-02-10 00:00 UTC));
        assert_eq!((feb.start, feb.end), (datetime!(2027-01-31 00:00 UTC), datetime!(2027-02-28 00:00 UTC)));
        let march = period_containing(anchor, datetime!(2027-03-01 00:00 UTC));
        assert_eq!((march.start, march.end), (datetime!(2027-02-28 00:00 UTC), datetime!(2027-03-31 00:00 UTC)));
        let leap = period_containing(anchor, datetime!(2028-02-15 00:00 UTC));
        assert_eq!(leap.end, datetime!(2028-02-29 00:00 UTC));
    }

    #[test]
    fn periods_cross_the_year_end() {
        let p = period_containing(datetime!(2026-03-20 00:00 UTC), datetime!(2027-01-05 00:00 UTC));
        assert_eq!((p.start, p.end), (datetime!(2026-12-20 00:00 UTC), datetime!(2027-01-20 00:00 UTC)));
    }

    proptest::proptest! {
        /// Any anchor (any day, any time of day) and any instant from 2000 to 2100.
        #[test]
        fn every_instant_lies_in_exactly_its_period_and_periods_tile(
            anchor in 946_684_800_000i64..4_102_444_800_000,
            at in 946_684_800_000i64..4_102_444_800_000,
        ) {
            let (start, end) = next_period(anchor, at);
            proptest::prop_assert!(start <= at && at < end);
            proptest::prop_assert_eq!(next_period(anchor, end).0, end, "the next period starts where this one ends");
            let days = (end - start) / 86_400_000;
            proptest::prop_assert!((28..=31).contains(&days), "a month long: {} days", days);
        }
    }
}
