//! Billing contacts: people who receive the organization's invoices and payment notices beside its
//! billing email, without an account. Owners keep the list; every change is audited.
use app::api::dto::{BillingDetailsPage, SessionUser};
use app::api::error::AppError;

use crate::accounts::billing_details::billing_details_page;
use crate::accounts::db::audit::{AuditEntry, append_audit};
use crate::accounts::db::billing_contacts as db;
use crate::accounts::db::organizations::{find_organization, lock_organizations};
use crate::accounts::domain::email::account_email;
use crate::error::Error;
use crate::store::Db;

/// Enough for a finance team; a mailing list covers more.
pub const MAX_BILLING_CONTACTS: usize = 10;

fn audit<'a>(organization_id: &'a str, actor: &'a str, action: &'a str, email: &'a str) -> AuditEntry<'a> {
    AuditEntry {
        organization_id: Some(organization_id),
        actor,
        action,
        target: email,
        before: None,
        after: None,
        reason: None,
    }
}

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn add(
    db: &Db,
    actor: &SessionUser,
    organization_id: &str,
    email: &str,
) -> Result<BillingDetailsPage, Error> {
    let email = account_email("email", email)?;
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    // Two additions at once: the second counts the first.
    lock_organizations(&mut tx, &[organization_id.to_owned()]).await?;
    let organization = find_organization(&mut tx, organization_id).await?.ok_or(AppError::NotFound)?;
    if organization.billing_email.eq_ignore_ascii_case(&email) {
        return Err(AppError::conflict("email", "is the billing email, which gets every notice already").into());
    }
    if db::billing_contacts(&mut tx, organization_id).await?.len() >= MAX_BILLING_CONTACTS {
        let message = format!("at most {MAX_BILLING_CONTACTS} contacts: remove one first, or use a mailing list");
        return Err(AppError::invalid("email", message).into());
    }
    if !db::add_billing_contact(&mut tx, organization_id, &email, &actor.email, now).await? {
        return Err(AppError::conflict("email", "is a billing contact already").into());
    }
    append_audit(&mut tx, audit(organization_id, &actor.email, "billing_contact.add", &email), now).await?;
    tx.commit().await?;
    billing_details_page(db, organization_id, actor).await
}

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn remove(
    db: &Db,
    actor: &SessionUser,
    organization_id: &str,
    email: &str,
) -> Result<BillingDetailsPage, Error> {
    // Stored as added: trimmed and lower-cased.
    let email = account_email("email", email).map_err(|_| AppError::NotFound)?;
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    if !db::remove_billing_contact(&mut tx, organization_id, &email).await? {
        return Err(AppError::NotFound.into());
    }
    append_audit(&mut tx, audit(organization_id, &actor.email, "billing_contact.remove", &email), now).await?;
    tx.commit().await?;
    billing_details_page(db, organization_id, actor).await
}
