//! What every audited staff action carries: a reason, and a form's idempotency key.
use app::api::dto::MAX_REASON_LEN;
use app::api::error::AppError;

/// The longest idempotency key a form may carry.
pub const MAX_KEY_LEN: usize = 100;

/// A staff action's reason, required and at most `MAX_REASON_LEN` characters.
pub fn reason_of(text: &str) -> Result<&str, AppError> {
    let reason = text.trim();
    if reason.is_empty() {
        return Err(AppError::invalid("reason", "is required"));
    }
    if reason.chars().count() > MAX_REASON_LEN {
        return Err(AppError::invalid("reason", format!("is longer than {MAX_REASON_LEN} characters")));
    }
    Ok(reason)
}
