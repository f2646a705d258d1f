//! A forgotten password: a one-time link, valid for an hour, mailed to the account's address. Using
//! it sets the new password, uses up every other open link, and ends every session of the user.
use app::api::error::AppError;

use crate::accounts::db::audit::{AuditEntry, append_audit};
use crate::accounts::db::login_failures::clear_login_failures;
use crate::accounts::db::password_resets::{insert_password_reset, reset_by_token, use_resets_of};
use crate::accounts::db::users::{find_user, find_user_by_email, set_password};
use crate::accounts::domain::email::account_email;
use crate::accounts::domain::one_time_token::{generate_token, hash_secret};
use crate::accounts::domain::password::{hash_password, new_password};
use crate::error::Error;
use crate::notifications::db::enqueue;
use crate::onboarding::mail_throttle::{MailThrottle, count_mail_request};
use crate::onboarding::signup::account_mail;
use crate::shared::ids::{IdKind, new_id};
use crate::store::Db;

pub const RESET_LINK_TTL_MS: i64 = 3_600_000;

/// Mails a reset link when the address has an account; answers the same when it has none.
#[tracing::instrument(skip_all)]
pub async fn request_password_reset(db: &Db, throttle: MailThrottle, base_url: &str, email: &str) -> Result<(), Error> {
    let email = account_email("email", email)?;
    count_mail_request(db, throttle, &email).await?;
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    if let Some(user) = find_user_by_email(&mut tx, &email).await? {
        let token = generate_token();
        let id = new_id(IdKind::PasswordReset, now);
        insert_password_reset(&mut tx, &id, &user.id, &token.hash, now + RESET_LINK_TTL_MS, now).await?;
        let body = format!(
            "To choose a new password for the billing portal, open this link:\n\n\
             {base_url}/password-reset/confirm?token={}\n\nIt works once, for an hour, and logs you out \
             everywhere else. If you did not ask for it, ignore this message: your password stays as it is.",
            token.secret
        );
        enqueue(&mut tx, &account_mail("account.password_reset", &id, &email, "Reset your password", &body), now)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Sets the new password through a link; answers the user's id.
#[tracing::instrument(skip_all)]
pub async fn reset_password(db: &Db, token: &str, password: &str) -> Result<(), Error> {
    let invalid = || AppError::invalid("token", "this link is not valid, was used or has expired: ask for a new one");
    let token_hash = hash_secret(token.trim());
    let (reset, user) = {
        let mut conn = db.pool.acquire().await?;
        let now = db.clock.now_ms();
        let reset = reset_by_token(&mut conn, &token_hash)
            .await?
            .filter(|r| r.used_at.is_none() && r.expires_at > now)
            .ok_or_else(invalid)?;
        let user = find_user(&mut conn, &reset.user_id).await?.ok_or_else(invalid)?;
        (reset, user)
    };
    new_password(password, &[&user.email])?;
    let password = password.to_owned();
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password)).await??;
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    if !use_resets_of(&mut tx, &reset.id, &user.id, now).await? {
        return Err(invalid().into());
    }
    set_password(&mut tx, &user.id, &password_hash).await?;
    clear_login_failures(&mut tx, &user.email).await?;
    let audit = AuditEntry {
        organization_id: None,
        actor: &user.email,
        action: "user.password_reset",
        target: &user.id,
        before: None,
        after: None,
        reason: None,
    };
    append_audit(&mut tx, audit, now).await?;
    tx.commit().await?;
    Ok(())
}
