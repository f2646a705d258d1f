//! The answer to a request over a sliding-window limit.
use app::api::error::AppError;

/// Refuses a request whose window is full, with the whole seconds until its oldest entry leaves
/// the window (at least one, so a client never retries at once).
pub fn window_full(oldest_ms: Option<i64>, window_ms: i64, now_ms: i64) -> AppError {
    let reopens_at = oldest_ms.unwrap_or(now_ms) + window_ms;
    let retry_after_secs = ((reopens_at - now_ms).max(0) as u64).div_ceil(1000).max(1);
    AppError::RateLimited { retry_after_secs }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(error: AppError) -> u64 {
        match error {
            AppError::RateLimited { retry_after_secs } => retry_after_secs,
            other => panic!("not a rate limit: {other:?}"),
        }
    }

    #[test]
    fn the_wait_rounds_up_to_the_second_the_oldest_entry_leaves() {
        assert_eq!(wait(window_full(Some(1_000), 60_000, 1_500)), 60);
        assert_eq!(wait(window_full(Some(1_000), 60_000, 60_001)), 1);
    }

    #[test]
    fn the_wait_is_never_zero() {
        assert_eq!(wait(window_full(Some(0), 1_000, 5_000)), 1);
        assert_eq!(wait(window_full(None, 0, 5_000)), 1);
    }
}
