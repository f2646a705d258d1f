//! Mail anyone can ask for (sign-up confirmations, password resets) is limited per address, so the
//! portal cannot be used to flood someone's inbox. The count is of mail written, the same whether
//! the address has an account or not, so the limit reveals nothing either.
use app::api::error::AppError;
use sqlx::AnyConnection;

use crate::error::Error;
use crate::notifications::db::recent_mail_count;

pub const ACCOUNT_MAIL_KINDS: &[&str] = &["account.signup", "account.signup_existing", "account.password_reset"];

#[derive(Debug, Clone, Copy)]
pub struct MailThrottle {
    pub max_mails: i64,
    pub window_ms: i64,
}

pub async fn check_mail_throttle(
    conn: &mut AnyConnection,
    throttle: MailThrottle,
    address: &str,
    now: i64,
) -> Result<(), Error> {
    let (sent, oldest) = recent_mail_count(conn, address, ACCOUNT_MAIL_KINDS, now - throttle.window_ms).await?;
    if sent < throttle.max_mails {
        return Ok(());
    }
    let reopens_at = oldest.unwrap_or(now) + throttle.window_ms;
    let retry_after_secs = ((reopens_at - now).max(0) as u64).div_ceil(1000).max(1);
    Err(AppError::RateLimited { retry_after_secs }.into())
}
