//! Calendar months (UTC) of usage events: which may leave the database for an archive file (whole
//! months that end before late usage for them can still arrive), and which PostgreSQL keeps a
//! partition of the events ready for.
use time::{Date, Month, OffsetDateTime};

/// A calendar month in UTC, by its first instant (unix ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UsageMonth {
    pub start: i64,
}

impl UsageMonth {
    /// `2026-10` → October 2026.
    pub fn parse(text: &str) -> Option<Self> {
        let (year, month) = text.split_once('-')?;
        let (year, month): (i32, u8) = (year.parse().ok()?, month.parse().ok()?);
        if text.len() != 7 {
            return None;
        }
        let first = Date::from_calendar_date(year, Month::try_from(month).ok()?, 1).ok()?;
        Some(Self { start: first.midnight().assume_utc().unix_timestamp() * 1000 })
    }

    /// The month an instant falls in.
    pub fn of(ms: i64) -> Self {
        let date = OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).map(|t| t.date()).unwrap_or(Date::MIN);
        let first = date.replace_day(1).unwrap_or(date);
        Self { start: first.midnight().assume_utc().unix_timestamp() * 1000 }
    }

    /// The first instant after the month.
    pub fn end(self) -> i64 {
        self.next().start
    }

    pub fn next(self) -> Self {
        let date = self.date();
        let (year, month) = if date.month() == Month::December {
            (date.year() + 1, Month::January)
        } else {
            (date.year(), date.month().next())
        };
        let first = Date::from_calendar_date(year, month, 1).unwrap_or(Date::MAX);
        Self { start: first.midnight().assume_utc().unix_timestamp() * 1000 }
    }

    /// `2026-10`, as the command takes it and archive files are named.
    pub fn label(self) -> String {
        let date = self.date();
        format!("{:04}-{:02}", date.year(), u8::from(date.month()))
    }

    fn date(self) -> Date {
        OffsetDateTime::from_unix_timestamp(self.start.div_euclid(1000)).map(|t| t.date()).unwrap_or(Date::MIN)
    }
}

/// Why no month before `before` may be archived yet.
#[derive(Debug, PartialEq, Eq)]
pub struct TooRecent {
    /// The first month that may not be archived now.
    pub first_open: UsageMonth,
}

/// The months from the one holding `oldest_hour` up to (not including) `before`, provided every
/// one of them ended before `late_cutoff`: usage older than the cutoff is refused at ingestion, so
/// those months can no longer change.
pub fn months_to_archive(
    oldest_hour: Option<i64>,
    before: UsageMonth,
    late_cutoff: i64,
) -> Result<Vec<UsageMonth>, TooRecent> {
    if before.start > late_cutoff {
        return Err(TooRecent { first_open: UsageMonth::of(late_cutoff) });
    }
    let Some(oldest_hour) = oldest_hour else { return Ok(Vec::new()) };
    let mut months = Vec::new();
    let mut month = UsageMonth::of(oldest_hour);
    while month < before {
        months.push(month);
        month = month.next();
    }
    Ok(months)
}

/// Months past the current one whose partition is made ahead of time: the one job that makes them
/// may be down for weeks before an event finds no partition of its own (it then lands in the
/// default partition, from which the month's partition takes it once made).
pub const MONTHS_AHEAD: i64 = 2;

/// The months whose partitions should exist at `now`, oldest first: every month usage may still
/// arrive for (back to `now - late_window_ms`), [`MONTHS_AHEAD`] more, and the months from
/// `stray_hours` (the oldest and newest hour of events that found no partition).
pub fn months_to_partition(now: i64, late_window_ms: i64, stray_hours: Option<(i64, i64)>) -> Vec<UsageMonth> {
    let mut last = UsageMonth::of(now);
    for _ in 0..MONTHS_AHEAD {
        last = last.next();
    }
    let mut month = UsageMonth::of(now.saturating_sub(late_window_ms));
    if let Some((oldest, newest)) = stray_hours {
        month = month.min(UsageMonth::of(oldest));
        last = last.max(UsageMonth::of(newest));
    }
    let mut months = Vec::new();
    while month <= last {
        months.push(month);
        month = month.next();
    }
    months
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::time::parse_rfc3339_or_date;

    fn at(text: &str) -> i64 {
        parse_rfc3339_or_date(text).unwrap()
    }

    fn month(text: &str) -> UsageMonth {
        UsageMonth::parse(text).unwrap()
    }

    #[test]
    fn months_parse_label_and_step_across_years() {
        assert_eq!(month("2026-12").start, at("2026-12-01"));
        assert_eq!(month("2026-12").end(), at("2027-01-01"));
        assert_eq!(month("2024-02").end(), at("2024-03-01"));
        assert_eq!(month("2026-12").next().label(), "2027-01");
        assert_eq!(UsageMonth::of(at("2026-10-31T23:59:59Z")).label(), "2026-10");
        assert_eq!(UsageMonth::of(at("2026-11-01T00:00:00Z")).label(), "2026-11");
        for refused in ["2026-13", "2026-00", "2026-1", "26-10", "2026/10", "", "2026-10-01"] {
            assert_eq!(UsageMonth::parse(refused), None, "{refused}");
        }
    }

    #[test]
    fn only_months_that_ended_before_late_usage_stopped_are_archived() {
        // Late usage is taken until 35 days back: on 2027-01-10 that is 2026-12-06.
        let cutoff = at("2027-01-10") - 35 * 86_400_000;
        let oldest = Some(at("2026-09-14T05:00:00Z"));
        assert_eq!(
            months_to_archive(oldest, month("2026-12"), cutoff),
            Ok(vec![month("2026-09"), month("2026-10"), month("2026-11")])
        );
        // December has not ended before the cutoff: its late usage may still arrive.
        assert_eq!(
            months_to_archive(oldest, month("2027-01"), cutoff),
            Err(TooRecent { first_open: month("2026-12") })
        );
        assert_eq!(months_to_archive(None, month("2026-12"), cutoff), Ok(vec![]));
        assert_eq!(months_to_archive(Some(at("2026-11-30T23:00:00Z")), month("2026-11"), cutoff), Ok(vec![]));
    }

    #[test]
    fn partitions_cover_the_late_window_two_months_ahead_and_stray_events() {
        let now = at("2026-12-06T22:00:00Z");
        let labels = |months: Vec<UsageMonth>| months.into_iter().map(UsageMonth::label).collect::<Vec<_>>();
        assert_eq!(
            labels(months_to_partition(now, 35 * 86_400_000, None)),
            ["2026-11", "2026-12", "2027-01", "2027-02"]
        );
        // Late usage reaching back into October, and strays from a clock far off in both directions.
        assert_eq!(labels(months_to_partition(now, 70 * 86_400_000, None))[0], "2026-09");
        let strays = Some((at("2026-03-31T23:00:00Z"), at("2027-05-01T00:00:00Z")));
        let months = labels(months_to_partition(now, 35 * 86_400_000, strays));
        assert_eq!(
            (months.first().unwrap().as_str(), months.last().unwrap().as_str(), months.len()),
            ("2026-03", "2027-05", 15)
        );
    }
}
