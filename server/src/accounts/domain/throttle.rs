//! The wait asked of a client over a sliding-window limit.

/// Whole seconds until the window's oldest entry leaves it: at least one, so a client never
/// retries at once.
pub fn retry_after_secs(oldest_ms: Option<i64>, window_ms: i64, now_ms: i64) -> u64 {
    let reopens_at = oldest_ms.unwrap_or(now_ms) + window_ms;
    ((reopens_at - now_ms).max(0) as u64).div_ceil(1000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_rounds_up_to_the_second_the_oldest_entry_leaves() {
        assert_eq!(retry_after_secs(Some(1_000), 60_000, 1_500), 60);
        assert_eq!(retry_after_secs(Some(1_000), 60_000, 60_001), 1);
    }

    #[test]
    fn the_wait_is_never_zero() {
        assert_eq!(retry_after_secs(Some(0), 1_000, 5_000), 1);
        assert_eq!(retry_after_secs(None, 0, 5_000), 1);
    }
}
