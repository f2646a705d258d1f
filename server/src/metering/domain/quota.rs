//! The ingestion quota: a token bucket per organization. It refills at `events_per_second` up to
//! `burst`; a batch takes as many tokens as it has events, all of them or none, so a refused batch
//! stores nothing and the client sends it again after `Retry-After`. Counted in thousandths of an
//! event, so a slow rate refills by the millisecond without floating point.
use crate::metering::domain::usage::MAX_BATCH_EVENTS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub events_per_second: i64,
    pub burst: i64,
}

impl Quota {
    /// An organization's rate as each of `instances` instances enforces it (its share, rounded
    /// up); the burst is never less than a full batch, or no batch would ever fit. `None` for a
    /// rate of 0: no limit.
    pub fn per_instance(events_per_second: i64, burst: Option<i64>, instances: i64) -> Option<Quota> {
        let instances = instances.max(1);
        (events_per_second > 0).then(|| Quota {
            events_per_second: events_per_second.saturating_add(instances - 1) / instances,
            burst: burst.unwrap_or(events_per_second).max(MAX_BATCH_EVENTS as i64),
        })
    }
}

/// The highest rate staff may set for one organization: beyond it a quota limits nothing.
pub const MAX_EVENTS_PER_SECOND: i64 = 10_000_000;

/// An organization's own rate as staff type it: empty for the portal's setting, else whole events
/// a second, plain or grouped by thousands (`25,000`); 0 for no limit.
pub fn parse_own_rate(text: &str) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let digits = |group: &str| !group.is_empty() && group.bytes().all(|b| b.is_ascii_digit());
    let well_formed = text.split(',').enumerate().all(|(i, group)| {
        digits(group) && (!text.contains(',') || if i == 0 { group.len() <= 3 } else { group.len() == 3 })
    });
    match text.replace(',', "").parse::<i64>() {
        Ok(rate) if well_formed && (0..=MAX_EVENTS_PER_SECOND).contains(&rate) => Ok(Some(rate)),
        _ => Err(format!("must be a whole number of events a second from 0 to {MAX_EVENTS_PER_SECOND}, or empty")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    milli_events: i64,
    at_ms: i64,
}

impl Bucket {
    pub fn full(quota: Quota, now_ms: i64) -> Self {
        Self { milli_events: quota.burst.saturating_mul(1000), at_ms: now_ms }
    }

    /// Whether a batch of `events` could fit now, taking nothing: checked before a body is parsed,
    /// so a flood of batches an empty bucket would refuse costs no parsing.
    pub fn could_take(&self, quota: Quota, events: i64, now_ms: i64) -> Result<(), u64> {
        let mut unchanged = *self;
        unchanged.take(quota, events, now_ms)
    }

    /// Takes `events` tokens, or answers in how many whole seconds there will be enough.
    pub fn take(&mut self, quota: Quota, events: i64, now_ms: i64) -> Result<(), u64> {
        let elapsed = now_ms.saturating_sub(self.at_ms).max(0);
        // Thousandths of an event per millisecond is events per second.
        let refilled = self.milli_events.saturating_add(elapsed.saturating_mul(quota.events_per_second));
        self.milli_events = refilled.min(quota.burst.saturating_mul(1000));
        self.at_ms = self.at_ms.max(now_ms);
        let needed = events.saturating_mul(1000);
        if needed <= self.milli_events {
            self.milli_events -= needed;
            return Ok(());
        }
        let rate = quota.events_per_second.max(1);
        let wait_ms = (needed - self.milli_events + rate - 1) / rate;
        Err(u64::try_from((wait_ms + 999) / 1000).unwrap_or(u64::MAX).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUOTA: Quota = Quota { events_per_second: 100, burst: 1000 };

    #[test]
    fn an_own_rate_is_whole_events_a_second_or_empty_for_the_portals() {
        assert_eq!(parse_own_rate(""), Ok(None));
        assert_eq!(parse_own_rate("  "), Ok(None));
        assert_eq!(parse_own_rate("25,000"), Ok(Some(25_000)));
        assert_eq!(parse_own_rate("0"), Ok(Some(0)), "no limit for this organization");
        assert_eq!(parse_own_rate("10000000"), Ok(Some(MAX_EVENTS_PER_SECOND)));
        for refused in ["-1", "10000001", "1.5", "fast", "99999999999999999999", ",", ",,", "_", "+100", "1,,000"] {
            assert!(parse_own_rate(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn an_own_rate_of_zero_limits_nothing_and_a_slow_one_still_fits_a_batch() {
        assert_eq!(Quota::per_instance(0, None, 2), None);
        assert_eq!(Quota::per_instance(50, None, 2), Some(Quota { events_per_second: 25, burst: 1_000 }));
        assert_eq!(Quota::per_instance(i64::MAX, None, 3).map(|q| q.events_per_second), Some(i64::MAX / 3));
    }

    #[test]
    fn a_full_bucket_passes_a_burst_then_refuses_until_it_refills() {
        let mut bucket = Bucket::full(QUOTA, 0);
        assert_eq!(bucket.take(QUOTA, 1000, 0), Ok(()));
        assert_eq!(bucket.take(QUOTA, 1, 0), Err(1), "one event back in 10 ms: retry in a second");
        assert_eq!(bucket.take(QUOTA, 300, 1_000), Err(2), "100 back after a second; 200 more need two");
        assert_eq!(bucket.take(QUOTA, 300, 3_000), Ok(()));
        assert_eq!(bucket.take(QUOTA, 1, 3_000), Err(1));
    }

    #[test]
    fn refills_stop_at_the_burst_and_a_refused_batch_takes_nothing() {
        let mut bucket = Bucket::full(QUOTA, 0);
        assert_eq!(bucket.take(QUOTA, 900, 0), Ok(()));
        assert!(bucket.take(QUOTA, 500, 0).is_err());
        assert_eq!(bucket.take(QUOTA, 100, 0), Ok(()), "the refused 500 took nothing");
        assert_eq!(bucket.take(QUOTA, 1000, 3_600_000), Ok(()), "an hour refills no more than the burst");
        assert!(bucket.take(QUOTA, 1, 3_600_000).is_err());
    }

    #[test]
    fn looking_takes_nothing() {
        let mut bucket = Bucket::full(QUOTA, 0);
        assert_eq!(bucket.could_take(QUOTA, 1000, 0), Ok(()));
        assert_eq!(bucket.take(QUOTA, 1000, 0), Ok(()), "the look took nothing");
        assert_eq!(bucket.could_take(QUOTA, 1, 0), Err(1));
    }

    #[test]
    fn a_clock_that_steps_back_refills_nothing() {
        let mut bucket = Bucket::full(QUOTA, 10_000);
        assert_eq!(bucket.take(QUOTA, 1000, 10_000), Ok(()));
        assert!(bucket.take(QUOTA, 1, 5_000).is_err());
        assert!(bucket.take(QUOTA, 1, 10_005).is_err(), "no refill for the step back");
    }
}
