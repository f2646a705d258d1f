//! Disputes (chargebacks) as the processor reports them, tied to our payment and invoice.
use sqlx::{AnyConnection, FromRow};

use crate::error::Error;

pub struct DisputeRecord<'a> {
    pub id: &'a str,
    pub payment_id: &'a str,
    pub invoice_id: &'a str,
    pub organization_id: &'a str,
    pub amount_minor: i64,
    pub currency: &'a str,
    pub reason: &'a str,
    pub status: &'a str,
    pub evidence_due_by: Option<i64>,
    /// The processor's time for the event that carried this state.
    pub event_created: i64,
}

/// Stores the dispute's state unless a newer event's state is stored already.
pub async fn record(conn: &mut AnyConnection, dispute: &DisputeRecord<'_>, now: i64) -> Result<(), Error> {
    sqlx::query(
        "insert into disputes (id, payment_id, invoice_id, organization_id, amount_minor, currency, reason, status,
             evidence_due_by, event_created, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
         on conflict (id) do update set amount_minor = excluded.amount_minor, reason = excluded.reason,
             status = excluded.status, evidence_due_by = excluded.evidence_due_by,
             event_created = excluded.event_created, updated_at = excluded.updated_at
         where disputes.event_created <= excluded.event_created",
    )
    .bind(dispute.id)
    .bind(dispute.payment_id)
    .bind(dispute.invoice_id)
    .bind(dispute.organization_id)
    .bind(dispute.amount_minor)
    .bind(dispute.currency)
    .bind(dispute.reason)
    .bind(dispute.status)
    .bind(dispute.evidence_due_by)
    .bind(dispute.event_created)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct DisputeRow {
    pub id: String,
    pub organization_id: String,
    pub organization_name: String,
    pub invoice_id: String,
    pub invoice_number: Option<String>,
    pub amount_minor: i64,
    pub currency: String,
    pub reason: String,
    pub status: String,
    pub evidence_due_by: Option<i64>,
    pub created_at: i64,
}

const DISPUTE_SELECT: &str = "select d.id, d.organization_id, o.name as organization_name, d.invoice_id,
    i.number as invoice_number, d.amount_minor, d.currency, d.reason, d.status, d.evidence_due_by, d.created_at
    from disputes d join organizations o on o.id = d.organization_id join invoices i on i.id = d.invoice_id";

/// Statuses of a dispute still being decided.
const OPEN: &str = "('warning_needs_response', 'warning_under_review', 'needs_response', 'under_review')";

pub async fn disputes_of_invoice(conn: &mut AnyConnection, invoice_id: &str) -> Result<Vec<DisputeRow>, Error> {
    Ok(sqlx::query_as(&format!("{DISPUTE_SELECT} where d.invoice_id = $1 order by d.created_at"))
        .bind(invoice_id)
        .fetch_all(conn)
        .await?)
}

pub async fn disputes_of(conn: &mut AnyConnection, organization_id: &str) -> Result<Vec<DisputeRow>, Error> {
    Ok(sqlx::query_as(&format!("{DISPUTE_SELECT} where d.organization_id = $1 order by d.created_at desc"))
        .bind(organization_id)
        .fetch_all(conn)
        .await?)
}

/// Disputes still open, the soonest evidence deadline first.
pub async fn open_disputes(conn: &mut AnyConnection, limit: i64) -> Result<Vec<DisputeRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "{DISPUTE_SELECT} where d.status in {OPEN} order by coalesce(d.evidence_due_by, 9223372036854775807) limit $1"
    ))
    .bind(limit)
    .fetch_all(conn)
    .await?)
}
