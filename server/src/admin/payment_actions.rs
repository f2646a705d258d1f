//! Staff actions on collection, each with a required reason and an audit entry naming the admin:
//! retry what a customer owes now, write an invoice off as uncollectible, replay a parked webhook
//! event.
use app::api::error::AppError;
use serde_json::json;

use crate::accounts::audit::reason_of;
use crate::accounts::db::audit::{AuditEntry, append_audit};
use crate::accounts::db::organizations::find_organization;
use crate::billing::db::invoices;
use crate::billing::domain::invoice::InvoiceStatus;
use crate::error::Error;
use crate::payments::collection::{Collector, RetryResult, retry_now, stop_collecting};
use crate::payments::db::stripe_events;
use crate::payments::domain::status::InboxStatus;
use crate::payments::processor_events::process_event;
use crate::store::Db;

async fn audit(
    db: &Db,
    organization_id: Option<&str>,
    entry: (&str, &str, &str),
    after: serde_json::Value,
) -> Result<(), Error> {
    let (actor, action, target) = entry;
    let now = db.clock.now_ms();
    let audit = AuditEntry { organization_id, actor, action, target, before: None, after: Some(after), reason: None };
    append_audit(&mut *db.pool.acquire().await?, audit, now).await
}

/// Charges every invoice the organization owes, now, with its card on file.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn retry_payments(
    db: &Db,
    collector: &Collector,
    admin: &str,
    organization_id: &str,
    reason: &str,
) -> Result<Vec<RetryResult>, Error> {
    let reason = reason_of(reason)?;
    find_organization(&mut *db.pool.acquire().await?, organization_id).await?.ok_or(AppError::NotFound)?;
    let results = retry_now(db, collector, organization_id, None, db.clock.now_ms()).await?;
    let outcome: Vec<String> = results.iter().map(|r| format!("{}: {:?}", r.invoice_id, r.attempt)).collect();
    audit(
        db,
        Some(organization_id),
        (admin, "payment.retry", organization_id),
        json!({ "results": outcome, "reason": reason }),
    )
    .await?;
    Ok(results)
}

/// Writes an open invoice off: no more collection; a later payment still settles it.
#[tracing::instrument(skip_all, fields(invoice_id))]
pub async fn mark_uncollectible(db: &Db, admin: &str, invoice_id: &str, reason: &str) -> Result<(), Error> {
    let reason = reason_of(reason)?;
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    let invoice = invoices::invoice(&mut tx, invoice_id).await?.ok_or(AppError::NotFound)?;
    let from = invoice.status()?;
    if !invoices::settle_status(&mut tx, invoice_id, from, InvoiceStatus::Uncollectible, now).await? {
        return Err(AppError::conflict("status", "the invoice changed meanwhile; reload it").into());
    }
    stop_collecting(&mut tx, &invoice, "Written off as uncollectible; collection stopped.", now).await?;
    let audit = AuditEntry {
        organization_id: Some(&invoice.organization_id),
        actor: admin,
        action: "invoice.uncollectible",
        target: invoice_id,
        before: Some(json!({ "status": from.as_str() })),
        after: Some(json!({ "status": "uncollectible" })),
        reason: Some(reason),
    };
    append_audit(&mut tx, audit, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Runs a parked (or any stored) webhook event again now; answers the status it ended in.
#[tracing::instrument(skip_all, fields(event_id))]
pub async fn replay_event(
    db: &Db,
    collector: &Collector,
    admin: &str,
    event_id: &str,
    reason: &str,
) -> Result<String, Error> {
    let reason = reason_of(reason)?;
    let now = db.clock.now_ms();
    if !stripe_events::requeue(&mut *db.pool.acquire().await?, event_id, now).await? {
        return Err(AppError::NotFound.into());
    }
    let status = process_event(db, collector, event_id, now).await?.unwrap_or(InboxStatus::Pending).as_str().to_owned();
    audit(db, None, (admin, "webhook.replay", event_id), json!({ "status": status, "reason": reason })).await?;
    Ok(status)
}
