//! What audited staff actions carry: an amount, a reason, and the form's idempotency key.
use app::api::dto::MAX_REASON_LEN;
use app::api::error::AppError;

use crate::shared::money::parse_minor;

/// The longest idempotency key a form may carry.
pub const MAX_KEY_LEN: usize = 100;

/// A form's idempotency key: 1 to `MAX_KEY_LEN` characters.
pub fn idempotency_key_of(key: &str) -> Result<&str, AppError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(AppError::invalid("idempotency_key", format!("must be 1 to {MAX_KEY_LEN} characters")));
    }
    Ok(key)
}

/// An amount of money typed by staff (`25.00`), in minor units, more than zero.
pub fn positive_amount_of(text: &str) -> Result<i64, AppError> {
    let amount = parse_minor(text).map_err(|reason| AppError::invalid("amount", reason))?;
    if amount <= 0 {
        return Err(AppError::invalid("amount", "must be more than zero"));
    }
    Ok(amount)
}

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
