//! Invoices, their lines and their gapless numbers.
use sqlx::{AnyConnection, FromRow};

use crate::domain::invoice::InvoiceStatus;
use crate::domain::invoice_builder::{InvoiceLine, LineKind};
use crate::domain::money::Exact;
use crate::domain::rating::UnitPrice;
use crate::error::Error;

#[derive(Debug, Clone, FromRow)]
pub struct InvoiceRow {
    pub id: String,
    pub organization_id: String,
    pub subscription_id: String,
    pub period_start: i64,
    pub period_end: i64,
    pub status: String,
    pub number: Option<String>,
    pub currency: String,
    pub subtotal_minor: i64,
    pub credit_applied_minor: i64,
    pub amount_due_minor: i64,
    pub rated_at: i64,
    pub finalize_after: i64,
    pub due_at: Option<i64>,
    pub created_at: i64,
    pub finalized_at: Option<i64>,
    pub paid_at: Option<i64>,
    pub voided_at: Option<i64>,
    pub void_reason: Option<String>,
}

impl InvoiceRow {
    pub fn status(&self) -> Result<InvoiceStatus, Error> {
        InvoiceStatus::parse(&self.status).ok_or_else(|| Error::Corrupt(format!("invoice status {}", self.status)))
    }
}

const INVOICE_COLUMNS: &str = "id, organization_id, subscription_id, period_start, period_end, status, number,
    currency, subtotal_minor, credit_applied_minor, amount_due_minor, rated_at, finalize_after, due_at, created_at,
    finalized_at, paid_at, voided_at, void_reason";

pub struct NewDraft<'a> {
    pub id: &'a str,
    pub organization_id: &'a str,
    pub subscription_id: &'a str,
    pub period: (i64, i64),
    pub currency: &'a str,
    pub finalize_after: i64,
    pub now: i64,
}

/// Inserts the period's draft unless the subscription already has an invoice for that period.
pub async fn insert_draft(conn: &mut AnyConnection, draft: &NewDraft<'_>) -> Result<bool, Error> {
    let inserted = sqlx::query(
        "insert into invoices (id, organization_id, subscription_id, period_start, period_end, status, currency,
             subtotal_minor, amount_due_minor, rated_at, finalize_after, created_at)
         values ($1, $2, $3, $4, $5, 'draft', $6, 0, 0, $7, $8, $7)
         on conflict (subscription_id, period_start) do nothing",
    )
    .bind(draft.id)
    .bind(draft.organization_id)
    .bind(draft.subscription_id)
    .bind(draft.period.0)
    .bind(draft.period.1)
    .bind(draft.currency)
    .bind(draft.now)
    .bind(draft.finalize_after)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Replaces a draft's lines by freshly rated ones. Refuses anything but a draft.
pub async fn replace_draft_lines(
    conn: &mut AnyConnection,
    invoice_id: &str,
    lines: &[InvoiceLine],
    now: i64,
) -> Result<(), Error> {
    let subtotal: i64 = lines.iter().map(|l| l.amount_minor).sum();
    let updated = sqlx::query(
        "update invoices set subtotal_minor = $1, amount_due_minor = $2, rated_at = $3 where id = $4 and status = 'draft'",
    )
    .bind(subtotal)
    .bind(subtotal.max(0))
    .bind(now)
    .bind(invoice_id)
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(Error::Corrupt(format!("invoice {invoice_id} is no longer a draft")));
    }
    sqlx::query("delete from invoice_lines where invoice_id = $1").bind(invoice_id).execute(&mut *conn).await?;
    for (position, line) in lines.iter().enumerate() {
        sqlx::query(
            "insert into invoice_lines (invoice_id, position, kind, description, namespace_id, metric, tier, quantity,
                 unit_price_minor, unit_price_per, amount_minor, unrounded, usage_from, usage_to)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(invoice_id)
        .bind(position as i64)
        .bind(line.kind.as_str())
        .bind(&line.description)
        .bind(line.namespace_id.as_deref())
        .bind(line.metric.as_deref())
        .bind(line.tier)
        .bind(line.quantity)
        .bind(line.unit_price.map(|p| p.minor))
        .bind(line.unit_price.map(|p| p.per))
        .bind(line.amount_minor)
        .bind(line.unrounded.audit_text())
        .bind(line.usage_period.map(|p| p.0))
        .bind(line.usage_period.map(|p| p.1))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct LineRow {
    pub kind: String,
    pub description: String,
    pub namespace_id: Option<String>,
    pub metric: Option<String>,
    pub tier: Option<i64>,
    pub quantity: i64,
    pub unit_price_minor: Option<i64>,
    pub unit_price_per: Option<i64>,
    pub amount_minor: i64,
    pub unrounded: String,
    pub usage_from: Option<i64>,
    pub usage_to: Option<i64>,
}

impl LineRow {
    /// The stored line as the builder made it; the unrounded text is kept for display only.
    pub fn into_line(self) -> Result<InvoiceLine, Error> {
        Ok(InvoiceLine {
            kind: LineKind::parse(&self.kind).ok_or_else(|| Error::Corrupt(format!("line kind {}", self.kind)))?,
            description: self.description,
            namespace_id: self.namespace_id,
            metric: self.metric,
            tier: self.tier,
            quantity: self.quantity,
            unit_price: self.unit_price_minor.zip(self.unit_price_per).map(|(minor, per)| UnitPrice { minor, per }),
            amount_minor: self.amount_minor,
            unrounded: Exact::whole(self.amount_minor),
            usage_period: self.usage_from.zip(self.usage_to),
        })
    }
}

const LINE_COLUMNS: &str = "l.kind, l.description, l.namespace_id, l.metric, l.tier, l.quantity, l.unit_price_minor,
    l.unit_price_per, l.amount_minor, l.unrounded, l.usage_from, l.usage_to";

pub async fn lines_of(conn: &mut AnyConnection, invoice_id: &str) -> Result<Vec<LineRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select {LINE_COLUMNS} from invoice_lines l where l.invoice_id = $1 order by l.position"
    ))
    .bind(invoice_id)
    .fetch_all(conn)
    .await?)
}

/// Usage and adjustment lines of finalized, not voided invoices (and of drafts too, when
/// `with_drafts`) that were rated from usage inside `[from, to)`: what the customer has been
/// billed for that period so far.
pub async fn billed_usage_lines(
    conn: &mut AnyConnection,
    subscription_id: &str,
    (from, to): (i64, i64),
    with_drafts: bool,
) -> Result<Vec<LineRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select {LINE_COLUMNS} from invoice_lines l join invoices i on i.id = l.invoice_id
         where i.subscription_id = $1 and i.status <> 'void' and (i.status <> 'draft' or $4 = 1)
           and l.kind in ('usage', 'adjustment') and l.usage_from >= $2 and l.usage_to <= $3
         order by i.period_start, l.position"
    ))
    .bind(subscription_id)
    .bind(from)
    .bind(to)
    .bind(i64::from(with_drafts))
    .fetch_all(conn)
    .await?)
}

/// Not voided invoices whose period overlaps `[from, to)`.
pub async fn invoices_overlapping(conn: &mut AnyConnection, from: i64, to: i64) -> Result<Vec<InvoiceRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select {INVOICE_COLUMNS} from invoices where status <> 'void' and period_end > $1 and period_start < $2
         order by subscription_id, period_start"
    ))
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?)
}

/// The subscription's draft, if it has one that no rollup changed after it was rated.
pub async fn has_fresh_draft(conn: &mut AnyConnection, subscription_id: &str) -> Result<bool, Error> {
    let fresh: i64 = sqlx::query_scalar(&format!(
        "select count(*) from invoices i where i.subscription_id = $1 and i.status = 'draft' and not {STALE}"
    ))
    .bind(subscription_id)
    .fetch_one(conn)
    .await?;
    Ok(fresh > 0)
}

/// A draft is stale when a rollup of its period or earlier was recomputed since it was rated.
const STALE: &str = "exists (select 1 from usage_hourly h where h.organization_id = i.organization_id
    and h.hour < i.period_end and h.computed_at >= i.rated_at)";

/// Finalized, not voided invoices whose period ended after `since` and at or before `until`: the
/// periods late usage can still arrive for.
pub async fn finalized_periods(
    conn: &mut AnyConnection,
    subscription_id: &str,
    since: i64,
    until: i64,
) -> Result<Vec<(i64, i64)>, Error> {
    Ok(sqlx::query_as(
        "select period_start, period_end from invoices where subscription_id = $1
         and status not in ('draft', 'void') and period_end > $2 and period_end <= $3 order by period_start",
    )
    .bind(subscription_id)
    .bind(since)
    .bind(until)
    .fetch_all(conn)
    .await?)
}

/// Drafts whose grace period is over by `now`: the finalization work list.
pub async fn drafts_due(conn: &mut AnyConnection, now: i64, limit: i64) -> Result<Vec<InvoiceRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select {INVOICE_COLUMNS} from invoices where status = 'draft' and finalize_after <= $1
         order by finalize_after, id limit $2"
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Drafts still in their grace period with a rollup of their period or earlier recomputed since
/// they were rated, after `after_id` in id order.
pub async fn stale_drafts(
    conn: &mut AnyConnection,
    now: i64,
    after_id: &str,
    limit: i64,
) -> Result<Vec<InvoiceRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select {INVOICE_COLUMNS} from invoices i where i.status = 'draft' and i.finalize_after > $1 and i.id > $2
         and {STALE} order by i.id limit $3"
    ))
    .bind(now)
    .bind(after_id)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Locks a draft for this transaction (the row in PostgreSQL, the database in SQLite) before
/// anything is read. Returns false when it is no longer a draft.
pub async fn claim_draft(conn: &mut AnyConnection, invoice_id: &str) -> Result<bool, Error> {
    let claimed = sqlx::query("update invoices set rated_at = rated_at where id = $1 and status = 'draft'")
        .bind(invoice_id)
        .execute(conn)
        .await?;
    Ok(claimed.rows_affected() == 1)
}

pub async fn invoice(conn: &mut AnyConnection, invoice_id: &str) -> Result<Option<InvoiceRow>, Error> {
    Ok(sqlx::query_as(&format!("select {INVOICE_COLUMNS} from invoices where id = $1"))
        .bind(invoice_id)
        .fetch_optional(conn)
        .await?)
}

pub async fn invoices_of(conn: &mut AnyConnection, organization_id: &str) -> Result<Vec<InvoiceRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select {INVOICE_COLUMNS} from invoices where organization_id = $1 order by period_start desc"
    ))
    .bind(organization_id)
    .fetch_all(conn)
    .await?)
}

/// The next number of the organization's year, in the caller's transaction: a rolled-back
/// finalization gives its number back, so numbers have no gaps.
pub async fn next_number(conn: &mut AnyConnection, organization_id: &str, year: i64) -> Result<i64, Error> {
    Ok(sqlx::query_scalar(
        "insert into invoice_number_sequences (organization_id, year, last_number) values ($1, $2, 1)
         on conflict (organization_id, year) do update set last_number = invoice_number_sequences.last_number + 1
         returning last_number",
    )
    .bind(organization_id)
    .bind(year)
    .fetch_one(conn)
    .await?)
}

pub struct Finalization<'a> {
    pub invoice_id: &'a str,
    pub number: &'a str,
    pub credit_applied_minor: i64,
    pub amount_due_minor: i64,
    pub status: InvoiceStatus,
    pub due_at: i64,
    pub now: i64,
}

pub async fn finalize(conn: &mut AnyConnection, f: &Finalization<'_>) -> Result<(), Error> {
    let paid_at = (f.status == InvoiceStatus::Paid).then_some(f.now);
    let updated = sqlx::query(
        "update invoices set status = $1, number = $2, credit_applied_minor = $3, amount_due_minor = $4, due_at = $5,
             finalized_at = $6, paid_at = $7
         where id = $8 and status = 'draft'",
    )
    .bind(f.status.as_str())
    .bind(f.number)
    .bind(f.credit_applied_minor)
    .bind(f.amount_due_minor)
    .bind(f.due_at)
    .bind(f.now)
    .bind(paid_at)
    .bind(f.invoice_id)
    .execute(conn)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(Error::Corrupt(format!("invoice {} was finalized twice", f.invoice_id)));
    }
    Ok(())
}

pub async fn void(
    conn: &mut AnyConnection,
    invoice_id: &str,
    from: InvoiceStatus,
    reason: &str,
    now: i64,
) -> Result<bool, Error> {
    let updated = sqlx::query(
        "update invoices set status = 'void', voided_at = $1, void_reason = $2 where id = $3 and status = $4",
    )
    .bind(now)
    .bind(reason)
    .bind(invoice_id)
    .bind(from.as_str())
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}
