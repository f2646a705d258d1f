//! Overpayments: payments that succeeded for an invoice no longer owed, and the durable order to
//! refund each.
use sqlx::{AnyConnection, FromRow};

use crate::error::Error;
use crate::store::Dialect;

/// What lost disputes of payment `p` settled of what it owed back, read from their postings:
/// the bank returned that much, so it is neither held nor refunded any more.
const SETTLED_BY_DISPUTES: &str = "(select cast(coalesce(sum(e.amount_minor), 0) as bigint) from disputes d
     join ledger_transactions t on t.kind = 'dispute.lost' and t.reference = d.id
     join ledger_entries e on e.transaction_id = t.id and e.account = 'overpayments'
     where d.payment_id = p.id)";

#[derive(Debug, Clone, FromRow)]
pub struct OverpaymentRow {
    pub payment_id: String,
    pub organization_id: String,
    /// What is still owed back: ordered, less refunds and what lost disputes returned.
    pub owed_minor: i64,
    pub processor_payment_id: Option<String>,
}

/// Orders the refund of `amount_minor` of the payment; false when it was ordered before.
pub async fn order_refund(
    conn: &mut AnyConnection,
    payment_id: &str,
    organization_id: &str,
    amount_minor: i64,
    now: i64,
) -> Result<bool, Error> {
    let inserted = sqlx::query(
        "insert into overpayment_refunds (payment_id, organization_id, amount_minor, status, created_at, updated_at)
         values ($1, $2, $3, 'due', $4, $4) on conflict (payment_id) do nothing",
    )
    .bind(payment_id)
    .bind(organization_id)
    .bind(amount_minor)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Where an overpayment's refund stands, for a dispute of it.
#[derive(Debug, Clone, FromRow)]
pub struct OverpaymentState {
    /// Still owed back: ordered, less refunds and what lost disputes returned.
    pub owed_minor: i64,
    /// The refund was asked of the processor (its own event has maybe not arrived yet).
    refund_sent: i64,
    /// A payments job holds the refund under its lease: it may be asking for it right now.
    refund_in_flight: i64,
}

impl OverpaymentState {
    pub fn refund_sent(&self) -> bool {
        self.refund_sent != 0
    }

    pub fn refund_in_flight(&self) -> bool {
        self.refund_in_flight != 0
    }
}

/// The overpayment's refund state; None when the payment is not an overpayment.
pub async fn state(conn: &mut AnyConnection, payment_id: &str, now: i64) -> Result<Option<OverpaymentState>, Error> {
    Ok(sqlx::query_as(&format!(
        "select o.amount_minor - p.refunded_minor - {SETTLED_BY_DISPUTES} as owed_minor,
                case when o.processor_refund_id is null then 0 else 1 end as refund_sent,
                case when o.status = 'due' and coalesce(o.lease_until, 0) > $1 then 1 else 0 end as refund_in_flight
         from overpayment_refunds o join payments p on p.id = o.payment_id where o.payment_id = $2"
    ))
    .bind(now)
    .bind(payment_id)
    .fetch_optional(conn)
    .await?)
}

/// A lost dispute returned all that was owed back: the refund not sent yet never will be.
pub async fn settled_by_dispute(conn: &mut AnyConnection, payment_id: &str, now: i64) -> Result<(), Error> {
    sqlx::query(
        "update overpayment_refunds set status = 'sent', lease_until = null,
             last_error = 'returned by the bank in a lost dispute', updated_at = $1
         where payment_id = $2 and status = 'due'",
    )
    .bind(now)
    .bind(payment_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn is_overpayment(conn: &mut AnyConnection, payment_id: &str) -> Result<bool, Error> {
    let found: Option<String> = sqlx::query_scalar("select payment_id from overpayment_refunds where payment_id = $1")
        .bind(payment_id)
        .fetch_optional(conn)
        .await?;
    Ok(found.is_some())
}

/// Leases up to `limit` refunds not sent yet, with what the processor needs to send them.
pub async fn claim_due(
    conn: &mut AnyConnection,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<OverpaymentRow>, Error> {
    let skip_locked = if Dialect::of(conn) == Dialect::Sqlite { "" } else { "for update skip locked" };
    let claimed: Vec<String> = sqlx::query_scalar(&format!(
        "update overpayment_refunds set lease_until = $1
         where payment_id in (
             select payment_id from overpayment_refunds
             where status = 'due' and refused_at is null and (lease_until is null or lease_until < $2)
             order by created_at limit $3 {skip_locked})
         returning payment_id"
    ))
    .bind(lease_until)
    .bind(now)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut rows = Vec::with_capacity(claimed.len());
    for payment_id in claimed {
        let row = sqlx::query_as(&format!(
            "select o.payment_id, o.organization_id, o.amount_minor - p.refunded_minor - {SETTLED_BY_DISPUTES}
                 as owed_minor, p.processor_payment_id
             from overpayment_refunds o join payments p on p.id = o.payment_id where o.payment_id = $1"
        ))
        .bind(&payment_id)
        .fetch_one(&mut *conn)
        .await?;
        rows.push(row);
    }
    Ok(rows)
}

pub async fn mark_sent(
    conn: &mut AnyConnection,
    payment_id: &str,
    processor_refund_id: Option<&str>,
    now: i64,
) -> Result<(), Error> {
    sqlx::query(
        "update overpayment_refunds set status = 'sent', processor_refund_id = $1, lease_until = null,
             last_error = null, updated_at = $2
         where payment_id = $3",
    )
    .bind(processor_refund_id)
    .bind(now)
    .bind(payment_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Keeps the refund due, tried again once the lease lapses, with the reason staff will see.
pub async fn record_error(conn: &mut AnyConnection, payment_id: &str, error: &str, now: i64) -> Result<(), Error> {
    sqlx::query("update overpayment_refunds set last_error = $1, updated_at = $2 where payment_id = $3")
        .bind(error)
        .bind(now)
        .bind(payment_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The processor refused the refund: it is not asked for again, and staff see why.
pub async fn mark_refused(conn: &mut AnyConnection, payment_id: &str, error: &str, now: i64) -> Result<(), Error> {
    sqlx::query(
        "update overpayment_refunds set refused_at = $1, last_error = $2, lease_until = null, updated_at = $3
         where payment_id = $4",
    )
    .bind(now)
    .bind(error)
    .bind(now)
    .bind(payment_id)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct RefusedRefundRow {
    pub organization_name: String,
    pub payment_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub reason: String,
    pub refused_at: i64,
}

/// Refunds the processor refused and nobody has refunded by hand since, newest first.
pub async fn refused(conn: &mut AnyConnection, limit: i64) -> Result<Vec<RefusedRefundRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select * from (
             select g.name as organization_name, o.payment_id,
                    o.amount_minor - p.refunded_minor - {SETTLED_BY_DISPUTES} as amount_minor,
                    p.currency, coalesce(o.last_error, '') as reason, o.refused_at
             from overpayment_refunds o join payments p on p.id = o.payment_id
             join organizations g on g.id = o.organization_id
             where o.refused_at is not null and o.status = 'due'
         ) r where r.amount_minor > 0 order by r.refused_at desc limit $1"
    ))
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Invoices whose payments, less their refunds, come to more than they ask: (invoice id, amount
/// due, collected). Overpayments are not counted: they are owed back, not applied. Empty when
/// no customer paid an invoice twice.
pub async fn overcollected_invoices(conn: &mut AnyConnection) -> Result<Vec<(String, i64, i64)>, Error> {
    Ok(sqlx::query_as(
        "select i.id, i.amount_due_minor, cast(sum(p.amount_minor - p.refunded_minor) as bigint)
         from invoices i join payments p on p.invoice_id = i.id and p.status = 'succeeded'
         where not exists (select 1 from overpayment_refunds o where o.payment_id = p.id)
         group by i.id, i.amount_due_minor
         having sum(p.amount_minor - p.refunded_minor) > i.amount_due_minor",
    )
    .fetch_all(conn)
    .await?)
}

/// Organizations whose overpayments account differs from their overpayments not yet refunded:
/// (organization, held in the ledger, owed back by the payments).
pub async fn overpayment_mismatches(conn: &mut AnyConnection) -> Result<Vec<(String, i64, i64)>, Error> {
    Ok(sqlx::query_as(&format!(
        "select organization_id, cast(sum(held) as bigint), cast(sum(owed) as bigint) from (
             select t.organization_id, -e.amount_minor as held, 0 as owed from ledger_transactions t
             join ledger_entries e on e.transaction_id = t.id where e.account = 'overpayments'
             union all
             select p.organization_id, 0, p.amount_minor - p.refunded_minor - {SETTLED_BY_DISPUTES} from payments p
             join overpayment_refunds o on o.payment_id = p.id where p.status = 'succeeded'
         ) balances group by organization_id having sum(held) <> sum(owed)"
    ))
    .fetch_all(conn)
    .await?)
}
