//! When a failed delivery is tried again: soon at first, then further apart, for up to three days
//! from the event (the schedule the Standard Webhooks guidance suggests), the last try at the
//! three-day mark. An endpoint whose every attempt failed for that long is disabled.
pub const RETRY_WINDOW_MS: i64 = 3 * 86_400_000;

/// The wait after the first, second, … failed attempt; the last repeats.
const DELAYS_MS: [i64; 6] = [5_000, 5 * 60_000, 30 * 60_000, 2 * 3_600_000, 5 * 3_600_000, 10 * 3_600_000];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    RetryAt(i64),
    GiveUp,
}

/// After `attempts` attempts, the last of which failed at `now`, of a delivery made at `created_at`.
pub fn after_failure(attempts: i64, created_at: i64, now: i64) -> AfterFailure {
    let deadline = created_at.saturating_add(RETRY_WINDOW_MS);
    if now >= deadline {
        return AfterFailure::GiveUp;
    }
    let step = usize::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(DELAYS_MS.len() - 1);
    AfterFailure::RetryAt(now.saturating_add(DELAYS_MS[step]).min(deadline))
}

/// A delivery given up disables its endpoint when nothing sent there has succeeded for the whole
/// window; a failure of an old delivery sent again by hand does not disable a newly failing one.
pub fn disables_endpoint(failing_since: i64, now: i64) -> bool {
    now.saturating_sub(failing_since) >= RETRY_WINDOW_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn retries_back_off_and_end_with_a_try_at_three_days() {
        let created = 1_000_000;
        let mut now = created;
        let mut attempts = 1;
        let mut tries = vec![now];
        while let AfterFailure::RetryAt(next) = after_failure(attempts, created, now) {
            assert!(next > now, "always later");
            now = next;
            attempts += 1;
            tries.push(now);
        }
        assert_eq!(tries[1] - tries[0], 5_000);
        assert_eq!(tries[2] - tries[1], 5 * 60_000);
        assert_eq!(*tries.last().unwrap(), created + RETRY_WINDOW_MS, "the last try at the mark");
        assert_eq!(tries.len(), 13, "{tries:?}");
        assert!(tries.windows(2).all(|w| w[1] - w[0] <= 10 * HOUR));
    }

    #[test]
    fn an_old_delivery_sent_again_is_tried_once() {
        assert_eq!(after_failure(9, 0, RETRY_WINDOW_MS + HOUR), AfterFailure::GiveUp);
    }

    #[test]
    fn only_three_days_of_failure_disable_an_endpoint() {
        assert!(!disables_endpoint(0, RETRY_WINDOW_MS - 1));
        assert!(disables_endpoint(0, RETRY_WINDOW_MS));
    }
}
