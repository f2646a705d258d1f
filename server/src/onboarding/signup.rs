//! Signing up: a visitor gives an email, a password and an organization's name; a one-time link
//! mailed to the address confirms it, and only then are the user, the organization and its owner
//! membership made, together in the transaction that uses the link. Until then nothing but the
//! waiting sign-up exists, so a crash at any point leaves no half-made organization.
use app::api::error::AppError;
use serde_json::json;

use crate::accounts::db::audit::{AuditEntry, append_audit};
use crate::accounts::db::organizations::{OrganizationRow, insert_membership, insert_organization};
use crate::accounts::db::signups::{NewSignup, confirm_signup, insert_signup, signup_by_token};
use crate::accounts::db::users::{UserRow, find_user_by_email, insert_user};
use crate::accounts::domain::email::account_email;
use crate::accounts::domain::one_time_token::{generate_token, hash_secret};
use crate::accounts::domain::organization_name::organization_name;
use crate::accounts::domain::password::{MAX_PASSWORD_LEN, hash_password, new_password, verify_password};
use crate::billing::domain::catalog::CURRENCY;
use crate::error::Error;
use crate::notifications::db::{NewNotification, enqueue};
use crate::onboarding::mail_throttle::{MailThrottle, count_mail_request};
use crate::shared::ids::{IdKind, new_id};
use crate::store::{Db, is_unique_violation};

/// A confirmation link works for a day.
pub const SIGNUP_LINK_TTL_MS: i64 = 24 * 3_600_000;

pub struct SignUpForm<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub organization_name: &'a str,
}

/// Checks the form and mails the address. An address that has an account already is told so by
/// mail, and the answer here is the same, so the form cannot be used to learn who has one.
#[tracing::instrument(skip_all)]
pub async fn sign_up(db: &Db, throttle: MailThrottle, base_url: &str, form: &SignUpForm<'_>) -> Result<(), Error> {
    let email = account_email("email", form.email)?;
    let organization = organization_name(form.organization_name)?;
    new_password(form.password, &[&email, &organization])?;
    // Counted before the (deliberately slow) hash, so a flood costs no CPU past the limit.
    count_mail_request(db, throttle, &email).await?;
    let password = form.password.to_owned();
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password)).await??;
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    let id = new_id(IdKind::Signup, now);
    if find_user_by_email(&mut tx, &email).await?.is_some() {
        let body = format!(
            "Someone, perhaps you, tried to sign up for the billing portal with this address, which already \
             has an account.\n\nLog in: {base_url}/login\nForgot your password? {base_url}/password-reset\n\n\
             If it was not you, you can ignore this message."
        );
        let mail = account_mail("account.signup_existing", &id, &email, "You already have an account", &body);
        enqueue(&mut tx, &mail, now).await?;
    } else {
        let token = generate_token();
        let signup = NewSignup {
            id: &id,
            email: &email,
            password_hash: &password_hash,
            organization_name: &organization,
            token_hash: &token.hash,
            expires_at: now + SIGNUP_LINK_TTL_MS,
        };
        insert_signup(&mut tx, &signup, now).await?;
        let body = format!(
            "Welcome! Confirm your email to create {organization} in the billing portal:\n\n\
             {base_url}/signup/confirm?token={}\n\nThe link works once, for 24 hours. If you did not sign up, \
             you can ignore this message: nothing is created without it.",
            token.secret
        );
        let mail = account_mail("account.signup", &id, &email, "Confirm your email", &body);
        enqueue(&mut tx, &mail, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) fn account_mail<'a>(
    kind: &'a str,
    reference: &'a str,
    to: &'a str,
    subject: &'a str,
    body: &'a str,
) -> NewNotification<'a> {
    NewNotification { organization_id: None, kind, reference, recipient: to, subject, body, attachment: None }
}

/// Who was signed up by a confirmation link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    pub user_id: String,
    /// The new user's first session generation: a password change later ends the session.
    pub session_generation: i64,
    pub organization_id: String,
}

/// Uses a confirmation link: makes the user, the organization (billing email: the user's) and the
/// owner membership, once. The password chosen at sign-up is asked again, so a stranger who typed
/// someone's address cannot set the password of the account its owner then confirms. A second
/// use, or an address that got an account meanwhile, is refused.
#[tracing::instrument(skip_all)]
pub async fn confirm_sign_up(db: &Db, token: &str, password: &str) -> Result<Confirmed, Error> {
    let token_hash = hash_secret(token.trim());
    let signup = signup_by_token(&mut *db.pool.acquire().await?, &token_hash).await?;
    let Some(signup) = signup.filter(|s| s.expires_at > db.clock.now_ms()) else {
        return Err(AppError::invalid("token", "this link is not valid or has expired: sign up again").into());
    };
    let (typed, stored) = (password.to_owned(), signup.password_hash.clone());
    let matches = password.len() <= MAX_PASSWORD_LEN
        && tokio::task::spawn_blocking(move || verify_password(&typed, &stored)).await?;
    if !matches {
        return Err(AppError::invalid("password", "is not the password chosen when signing up").into());
    }
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    if !confirm_signup(&mut tx, &signup.id, now).await? {
        return Err(used_link());
    }
    if find_user_by_email(&mut tx, &signup.email).await?.is_some() {
        return Err(used_link());
    }
    let organization_id = new_id(IdKind::Organization, now);
    let user = UserRow {
        id: new_id(IdKind::User, now),
        email: signup.email.clone(),
        password_hash: signup.password_hash,
        session_generation: 0,
    };
    insert_user(&mut tx, &user, now).await.map_err(|error| match error {
        // Two sign-ups of one address confirmed at once: the second finds the first's user.
        Error::Database(e) if is_unique_violation(&e) => used_link(),
        other => other,
    })?;
    let organization = OrganizationRow {
        id: organization_id.clone(),
        name: signup.organization_name.clone(),
        billing_email: signup.email.clone(),
        currency: CURRENCY.to_owned(),
        created_at: now,
        onboarded_at: None,
    };
    insert_organization(&mut tx, &organization).await?;
    insert_membership(&mut tx, &user.id, &organization_id, "owner", now).await?;
    let audit = AuditEntry {
        organization_id: Some(&organization_id),
        actor: &signup.email,
        action: "organization.sign_up",
        target: &organization_id,
        before: None,
        after: Some(json!({ "name": signup.organization_name, "owner": signup.email, "signup": signup.id })),
        reason: None,
    };
    append_audit(&mut tx, audit, now).await?;
    tx.commit().await?;
    Ok(Confirmed { user_id: user.id, session_generation: user.session_generation, organization_id })
}

fn used_link() -> Error {
    AppError::Conflict { field: "token".into(), message: "this link was used already: log in instead".into() }.into()
}
