//! Logging in and loading the logged-in user.
use std::sync::LazyLock;

use app::api::backend::SignedIn;
use app::api::dto::{Membership, Role, SessionUser};
use app::api::error::AppError;

use crate::accounts::db::login_failures;
use crate::accounts::db::users::{self, SessionUserRow};
use crate::accounts::domain::email::MAX_EMAIL_LEN;
use crate::accounts::domain::password::{MAX_PASSWORD_LEN, hash_password, verify_password};
use crate::accounts::domain::throttle::retry_after_secs;
use crate::error::Error;
use crate::shared::time::now_ms;
use crate::store::Db;

/// Failed logins allowed per account and per client address within the window.
#[derive(Debug, Clone, Copy)]
pub struct LoginThrottle {
    pub max_failures: i64,
    pub window_ms: i64,
}

/// Verified against when the email is unknown, so both failures take the same time.
static UNKNOWN_USER_HASH: LazyLock<String> = LazyLock::new(|| hash_password("no such user").unwrap_or_default());

#[tracing::instrument(skip_all)]
pub async fn authenticate(
    db: &Db,
    throttle: LoginThrottle,
    email: &str,
    password: &str,
    client: &str,
) -> Result<(String, i64), Error> {
    let email = email.trim().to_lowercase();
    if email.is_empty() || email.len() > MAX_EMAIL_LEN {
        return Err(AppError::invalid("email", "enter the email address of your account").into());
    }
    if password.is_empty() || password.len() > MAX_PASSWORD_LEN {
        return Err(AppError::invalid("password", "enter your password").into());
    }
    let now = now_ms();
    let mut conn = db.pool.acquire().await?;
    let (failures, oldest) =
        login_failures::recent_failures(&mut conn, &email, client, now - throttle.window_ms).await?;
    if failures >= throttle.max_failures {
        let retry_after_secs = retry_after_secs(oldest, throttle.window_ms, now);
        return Err(AppError::RateLimited { retry_after_secs }.into());
    }
    let user = users::find_user_by_email(&mut conn, &email).await?;
    let stored_hash = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| UNKNOWN_USER_HASH.clone());
    let password = password.to_owned();
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, &stored_hash)).await?;
    match user {
        Some(user) if matches => {
            login_failures::clear_login_failures(&mut conn, &email).await?;
            Ok((user.id, user.session_generation))
        }
        _ => {
            login_failures::record_login_failure(&mut conn, &email, client, now).await?;
            tracing::info!(client, "failed login");
            Err(AppError::WrongCredentials.into())
        }
    }
}

#[tracing::instrument(skip_all)]
/// The session's user, or `None` when the user is gone or the session began in an earlier session
/// generation (before a password reset).
pub async fn session_user(db: &Db, user_id: &str, generation: i64) -> Result<Option<SessionUser>, Error> {
    let rows = users::find_session_user(&mut *db.pool.acquire().await?, user_id).await?;
    match rows.first() {
        Some(user) if user.session_generation == generation => signed_in_user(user, &rows).map(Some),
        _ => Ok(None),
    }
}

/// The user the session `session_id` belongs to, read with the session in one statement (every
/// request asks); `None` for a session unknown, expired, anonymous or of an earlier generation.
#[tracing::instrument(skip_all)]
pub async fn user_of_session(db: &Db, session_id: &str) -> Result<Option<SignedIn>, Error> {
    // Session expiries are the session layer's, on the wall clock, whatever the billing clock says.
    let rows = users::find_user_of_session(&mut *db.pool.acquire().await?, session_id, now_ms()).await?;
    let Some(first) = rows.first() else { return Ok(None) };
    let user = signed_in_user(&first.user, rows.iter().map(|row| &row.user))?;
    Ok(Some(SignedIn { user, session_expires_at: first.session_expires_at }))
}

/// The user of the rows of [`users::find_session_user`], `user` the first of them.
fn signed_in_user<'a>(
    user: &SessionUserRow,
    rows: impl IntoIterator<Item = &'a SessionUserRow>,
) -> Result<SessionUser, Error> {
    let memberships = rows
        .into_iter()
        .filter_map(SessionUserRow::membership)
        .map(|(organization_id, organization_name, role, past_due)| {
            let role = Role::parse(role).ok_or_else(|| Error::Corrupt(format!("membership role {role:?}")))?;
            Ok(Membership {
                organization_id: organization_id.to_owned(),
                organization_name: organization_name.to_owned(),
                role,
                past_due,
            })
        })
        .collect::<Result<_, Error>>()?;
    Ok(SessionUser {
        user_id: user.id.clone(),
        email: user.email.clone(),
        is_staff: user.is_staff(),
        memberships,
        time_zone: user.time_zone.clone(),
    })
}
