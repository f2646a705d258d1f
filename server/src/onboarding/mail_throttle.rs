//! Mail anyone can ask for (sign-up confirmations, password resets) is limited per address, so the
//! portal cannot be used to flood someone's inbox. Requests are counted, not mails: the same for an
//! address with an account and one without, so the limit reveals nothing either.
use app::api::error::AppError;

use crate::accounts::db::mail_requests::{lock_address, recent_mail_requests, record_mail_request};
use crate::accounts::domain::throttle::retry_after_secs;
use crate::error::Error;
use crate::store::Db;

#[derive(Debug, Clone, Copy)]
pub struct MailThrottle {
    pub max_mails: i64,
    pub window_ms: i64,
}

/// Counts a request for mail to `address`, or refuses it with the wait when the limit is reached.
pub async fn count_mail_request(db: &Db, throttle: MailThrottle, address: &str) -> Result<(), Error> {
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    // Requests at once for one address take turns, so none slips past the count.
    lock_address(&mut tx, address).await?;
    let (sent, oldest) = recent_mail_requests(&mut tx, address, now - throttle.window_ms).await?;
    if sent >= throttle.max_mails {
        let retry_after_secs = retry_after_secs(oldest, throttle.window_ms, now);
        return Err(AppError::RateLimited { retry_after_secs }.into());
    }
    record_mail_request(&mut tx, address, now).await?;
    tx.commit().await?;
    Ok(())
}
