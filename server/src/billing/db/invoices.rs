//! Invoices, their lines and their gapless numbers.
use sqlx::{AnyConnection, FromRow};

use crate::billing::domain::invoice::InvoiceStatus;
use crate::billing::domain::invoice_builder::{InvoiceLine, LineKind};
use crate::billing::domain::rating::UnitPrice;
use crate::error::Error;
use crate::shared::money::{Exact, checked_sum};
use crate::store::Dialect;
use crate::store::bulk::{
    Value, bind_all, bind_all_as, bind_all_scalar, decode_json_rows, list_placeholders, listed_rows, placeholder,
    row_placeholders, rows_as_json, texts,
};

/// Read by column name (`FromRow`), or from a JSON array in [`INVOICE_COLUMNS`] order (`Deserialize`).
#[derive(Debug, Clone, FromRow, serde::Deserialize)]
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

/// Replaces a draft's lines by freshly rated ones. Refuses anything but a draft.
pub async fn replace_draft_lines(
    conn: &mut AnyConnection,
    invoice_id: &str,
    lines: &[InvoiceLine],
    now: i64,
) -> Result<(), Error> {
    let subtotal = checked_sum(lines.iter().map(|l| l.amount_minor))?;
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
    insert_lines(conn, &[(invoice_id.to_owned(), lines.to_vec())]).await
}

const LINE_INSERT_COLUMNS: usize = 14;

fn line_values(invoice_id: &str, position: i64, line: &InvoiceLine) -> Vec<Value> {
    vec![
        Value::Text(invoice_id.to_owned()),
        Value::Int(position),
        Value::Text(line.kind.as_str().to_owned()),
        Value::Text(line.description.clone()),
        Value::MaybeText(line.namespace_id.clone()),
        Value::MaybeText(line.metric.clone()),
        Value::MaybeInt(line.tier),
        Value::Int(line.quantity),
        Value::MaybeInt(line.unit_price.map(|p| p.minor)),
        Value::MaybeInt(line.unit_price.map(|p| p.per)),
        Value::Int(line.amount_minor),
        Value::Text(line.unrounded.audit_text()),
        Value::MaybeInt(line.usage_period.map(|p| p.0)),
        Value::MaybeInt(line.usage_period.map(|p| p.1)),
    ]
}

/// Inserts the lines of many invoices in statements of up to 500 rows.
pub async fn insert_lines(conn: &mut AnyConnection, invoices: &[(String, Vec<InvoiceLine>)]) -> Result<(), Error> {
    let rows: Vec<Vec<Value>> = invoices
        .iter()
        .flat_map(|(invoice_id, lines)| {
            lines.iter().enumerate().map(move |(position, line)| line_values(invoice_id, position as i64, line))
        })
        .collect();
    insert_line_rows(conn, &rows).await
}

/// Adds a line after the invoice's last one. The invoice's subtotal is the caller's to update.
pub async fn append_line(conn: &mut AnyConnection, invoice_id: &str, line: &InvoiceLine) -> Result<(), Error> {
    let position: i64 = sqlx::query_scalar(
        "select cast(coalesce(max(position), -1) + 1 as bigint) from invoice_lines where invoice_id = $1",
    )
    .bind(invoice_id)
    .fetch_one(&mut *conn)
    .await?;
    insert_line_rows(conn, &[line_values(invoice_id, position, line)]).await
}

async fn insert_line_rows(conn: &mut AnyConnection, rows: &[Vec<Value>]) -> Result<(), Error> {
    for chunk in rows.chunks(500) {
        let sql = format!(
            "insert into invoice_lines (invoice_id, position, kind, description, namespace_id, metric, tier, quantity,
                 unit_price_minor, unit_price_per, amount_minor, unrounded, usage_from, usage_to) values {}",
            row_placeholders(conn, 1, chunk.len(), LINE_INSERT_COLUMNS)
        );
        let values: Vec<Value> = chunk.iter().flatten().cloned().collect();
        bind_all(sqlx::query(&sql), &values).execute(&mut *conn).await?;
    }
    Ok(())
}

pub struct RatedDraft {
    pub id: String,
    pub organization_id: String,
    pub subscription_id: String,
    pub period: (i64, i64),
    pub currency: String,
    pub subtotal_minor: i64,
    pub finalize_after: i64,
}

/// Inserts drafts with their subtotals, skipping subscriptions that already have an invoice for
/// the period. Returns the ids actually inserted.
pub async fn insert_drafts(conn: &mut AnyConnection, drafts: &[RatedDraft], now: i64) -> Result<Vec<String>, Error> {
    let mut inserted = Vec::with_capacity(drafts.len());
    for chunk in drafts.chunks(500) {
        let sql = format!(
            "insert into invoices (id, organization_id, subscription_id, period_start, period_end, status, currency,
                 subtotal_minor, amount_due_minor, rated_at, finalize_after, created_at) values {}
             on conflict (subscription_id, period_start) do nothing returning id",
            row_placeholders(conn, 1, chunk.len(), 12)
        );
        let values: Vec<Value> = chunk
            .iter()
            .flat_map(|d| {
                [
                    Value::Text(d.id.clone()),
                    Value::Text(d.organization_id.clone()),
                    Value::Text(d.subscription_id.clone()),
                    Value::Int(d.period.0),
                    Value::Int(d.period.1),
                    Value::Text("draft".into()),
                    Value::Text(d.currency.clone()),
                    Value::Int(d.subtotal_minor),
                    Value::Int(d.subtotal_minor.max(0)),
                    Value::Int(now),
                    Value::Int(d.finalize_after),
                    Value::Int(now),
                ]
            })
            .collect();
        inserted.extend(bind_all_scalar(sqlx::query_scalar::<_, String>(&sql), &values).fetch_all(&mut *conn).await?);
    }
    Ok(inserted)
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
        "select count(*) from invoices i where i.subscription_id = $1 and i.status = 'draft' and not {}",
        stale_of_invoice_alias()
    ))
    .bind(subscription_id)
    .fetch_one(conn)
    .await?;
    Ok(fresh > 0)
}

/// A draft is stale when a rollup of its organization, for an hour before its period end, was
/// recomputed at or after it was rated. The arguments are the SQL expressions of the draft's three
/// figures.
fn stale(organization_id: &str, period_end: &str, rated_at: &str) -> String {
    format!(
        "exists (select 1 from usage_hourly h where h.organization_id = {organization_id}
             and h.hour < {period_end} and h.computed_at >= {rated_at})"
    )
}

/// `stale` of the invoice aliased `i`.
fn stale_of_invoice_alias() -> String {
    stale("i.organization_id", "i.period_end", "i.rated_at")
}

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
/// Starts the collection timer of each finalized invoice with an amount due, in the transaction
/// that finalizes it, so no invoice is ever open without one. The payments context runs the
/// timers from then on (`payments::db::collections`).
pub async fn start_collections(
    conn: &mut AnyConnection,
    invoices: &[(&str, &str, &str)],
    now: i64,
) -> Result<(), Error> {
    for chunk in invoices.chunks(400) {
        let rows = row_placeholders(conn, 1, chunk.len(), 5);
        let mut values = Vec::with_capacity(chunk.len() * 5);
        for (invoice, organization, subscription) in chunk {
            values.extend([
                Value::Text((*invoice).to_owned()),
                Value::Text((*organization).to_owned()),
                Value::Text((*subscription).to_owned()),
                Value::Int(now),
                Value::Int(now),
            ]);
        }
        let sql = format!(
            "insert into collections (invoice_id, organization_id, subscription_id, next_run_at, updated_at)
             values {rows}"
        );
        bind_all(sqlx::query(&sql), &values).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Refreshes the planner's statistics of invoices and rollups (PostgreSQL only).
pub async fn refresh_statistics(pool: &sqlx::AnyPool) -> Result<(), Error> {
    sqlx::query("analyze invoices, usage_hourly").execute(pool).await?;
    Ok(())
}

pub async fn drafts_due(conn: &mut AnyConnection, now: i64, limit: i64) -> Result<Vec<InvoiceRow>, Error> {
    let due = format!(
        "select {INVOICE_COLUMNS} from invoices where status = 'draft' and finalize_after <= $1
         order by finalize_after limit $2"
    );
    let due: String = sqlx::query_scalar(&rows_as_json(conn, INVOICE_COLUMNS, &due))
        .bind(now)
        .bind(limit)
        .fetch_one(&mut *conn)
        .await?;
    decode_json_rows("drafts due", &due)
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
         and {} order by i.id limit $3",
        stale_of_invoice_alias()
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
    Ok(!claim_drafts(conn, &[invoice_id.to_owned()]).await?.is_empty())
}

pub async fn invoice(conn: &mut AnyConnection, invoice_id: &str) -> Result<Option<InvoiceRow>, Error> {
    Ok(sqlx::query_as(&format!("select {INVOICE_COLUMNS} from invoices where id = $1"))
        .bind(invoice_id)
        .fetch_optional(conn)
        .await?)
}

/// The invoice `invoice_id` when it is `organization_id`'s: another's reads as not there.
pub async fn invoice_of(
    conn: &mut AnyConnection,
    organization_id: &str,
    invoice_id: &str,
) -> Result<Option<InvoiceRow>, Error> {
    Ok(invoice(conn, invoice_id).await?.filter(|i| i.organization_id == organization_id))
}

pub async fn invoices_of(conn: &mut AnyConnection, organization_id: &str) -> Result<Vec<InvoiceRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select {INVOICE_COLUMNS} from invoices where organization_id = $1 order by period_start desc"
    ))
    .bind(organization_id)
    .fetch_all(conn)
    .await?)
}

/// The organization's `limit` latest invoices that have a number (issued), newest period first.
pub async fn latest_issued_invoices(
    conn: &mut AnyConnection,
    organization_id: &str,
    limit: i64,
) -> Result<Vec<InvoiceRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select {INVOICE_COLUMNS} from invoices where organization_id = $1 and number is not null
         order by period_start desc limit $2"
    ))
    .bind(organization_id)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

pub struct Finalization<'a> {
    pub invoice_id: &'a str,
    pub number: &'a str,
    /// The draft's subtotal less its discount.
    pub subtotal_minor: i64,
    pub credit_applied_minor: i64,
    pub amount_due_minor: i64,
    pub status: InvoiceStatus,
    pub due_at: i64,
    pub now: i64,
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

/// Claims many drafts at once (see `claim_draft`); returns those still drafts, as they are now.
/// PostgreSQL locks their rows as the update of a draft would, without writing them: a dummy
/// update gave each draft a new row version and six index entries, only to be finalized (updated
/// again) a moment later. SQLite's writing transaction holds the database already.
pub async fn claim_drafts(conn: &mut AnyConnection, ids: &[String]) -> Result<Vec<InvoiceRow>, Error> {
    let lock = match Dialect::of(conn) {
        Dialect::Postgres => "for no key update",
        Dialect::Sqlite => "",
    };
    let claim = format!(
        "select {INVOICE_COLUMNS} from invoices where status = 'draft' and id in ({}) {lock}",
        list_placeholders(conn, 1, ids.len())
    );
    let values = texts(ids);
    let sql = rows_as_json(conn, INVOICE_COLUMNS, &claim);
    let claimed: String = bind_all_scalar(sqlx::query_scalar(&sql), &values).fetch_one(&mut *conn).await?;
    decode_json_rows("claimed drafts", &claimed)
}

/// The claimed drafts that a rollup changed since they were rated. Asked once the drafts are
/// claimed, in a statement of its own: on PostgreSQL a statement reads what was committed when it
/// began, and the claim may have waited for another transaction while a rollup committed. The
/// drafts' own figures are sent along (they are held, so they are current): read from `invoices`,
/// 1,000 ids made PostgreSQL scan the whole table.
pub async fn stale_among(conn: &mut AnyConnection, drafts: &[InvoiceRow]) -> Result<Vec<String>, Error> {
    let sql = format!(
        "select d.column1 from ({}) as d where {}",
        listed_rows(conn, 1, drafts.len(), 4),
        stale("d.column2", "d.column3", "d.column4")
    );
    let values: Vec<Value> = drafts
        .iter()
        .flat_map(|d| {
            [
                Value::Text(d.id.clone()),
                Value::Text(d.organization_id.clone()),
                Value::Int(d.period_end),
                Value::Int(d.rated_at),
            ]
        })
        .collect();
    Ok(bind_all_scalar(sqlx::query_scalar(&sql), &values).fetch_all(conn).await?)
}

pub async fn invoices_by_ids(conn: &mut AnyConnection, ids: &[String]) -> Result<Vec<InvoiceRow>, Error> {
    let sql = format!("select {INVOICE_COLUMNS} from invoices where id in ({})", list_placeholders(conn, 1, ids.len()));
    let values = texts(ids);
    Ok(bind_all_as(sqlx::query_as(&sql), &values).fetch_all(conn).await?)
}

/// The next number of each organization's year (organizations listed once each), in the
/// caller's transaction: a rolled-back finalization gives its number back, so numbers have no gaps.
pub async fn next_numbers(
    conn: &mut AnyConnection,
    organization_ids: &[String],
    year: i64,
) -> Result<Vec<(String, i64)>, Error> {
    let sql = format!(
        "insert into invoice_number_sequences (organization_id, year, last_number) values {}
         on conflict (organization_id, year) do update set last_number = invoice_number_sequences.last_number + 1
         returning organization_id, last_number",
        row_placeholders(conn, 1, organization_ids.len(), 3)
    );
    let values: Vec<Value> =
        organization_ids.iter().flat_map(|org| [Value::Text(org.clone()), Value::Int(year), Value::Int(1)]).collect();
    Ok(bind_all_as(sqlx::query_as(&sql), &values).fetch_all(conn).await?)
}

/// Finalizes many drafts in one statement; every one must still be a draft.
pub async fn finalize_many(conn: &mut AnyConnection, finalizations: &[Finalization<'_>]) -> Result<(), Error> {
    let sql = format!(
        "update invoices set status = v.column2, number = v.column3, credit_applied_minor = v.column4,
             amount_due_minor = v.column5, due_at = v.column6, finalized_at = v.column7, paid_at = v.column8,
             subtotal_minor = v.column9
         from (values {}) as v where invoices.id = v.column1 and invoices.status = 'draft'",
        row_placeholders(conn, 1, finalizations.len(), 9)
    );
    let values: Vec<Value> = finalizations
        .iter()
        .flat_map(|f| {
            [
                Value::Text(f.invoice_id.to_owned()),
                Value::Text(f.status.as_str().to_owned()),
                Value::Text(f.number.to_owned()),
                Value::Int(f.credit_applied_minor),
                Value::Int(f.amount_due_minor),
                Value::Int(f.due_at),
                Value::Int(f.now),
                Value::MaybeInt((f.status == InvoiceStatus::Paid).then_some(f.now)),
                Value::Int(f.subtotal_minor),
            ]
        })
        .collect();
    let updated = bind_all(sqlx::query(&sql), &values).execute(conn).await?;
    if updated.rows_affected() != finalizations.len() as u64 {
        return Err(Error::Corrupt("a claimed draft was finalized by someone else".into()));
    }
    Ok(())
}

/// Finalized, not voided invoices of many subscriptions whose period ended in `(since, until]`:
/// (subscription, period start, period end).
pub async fn finalized_periods_of(
    conn: &mut AnyConnection,
    subscription_ids: &[String],
    since: i64,
    until: i64,
) -> Result<Vec<(String, i64, i64)>, Error> {
    let sql = format!(
        "select subscription_id, period_start, period_end from invoices where status not in ('draft', 'void')
         and period_end > {} and period_end <= {} and subscription_id in ({}) order by period_start",
        placeholder(conn, 1),
        placeholder(conn, 2),
        list_placeholders(conn, 3, subscription_ids.len())
    );
    let values = texts(subscription_ids);
    Ok(bind_all_as(sqlx::query_as(&sql).bind(since).bind(until), &values).fetch_all(conn).await?)
}

#[derive(Debug, Clone, FromRow)]
pub struct BilledLine {
    pub subscription_id: String,
    #[sqlx(flatten)]
    pub line: LineRow,
}

/// `billed_usage_lines` (finalized only) for many subscriptions, for usage inside `[from, to)`.
pub async fn billed_lines_of(
    conn: &mut AnyConnection,
    subscription_ids: &[String],
    (from, to): (i64, i64),
) -> Result<Vec<BilledLine>, Error> {
    let sql = format!(
        "select i.subscription_id, {LINE_COLUMNS} from invoice_lines l join invoices i on i.id = l.invoice_id
         where i.status not in ('draft', 'void') and l.kind in ('usage', 'adjustment')
           and l.usage_from >= {} and l.usage_to <= {} and i.subscription_id in ({})
         order by i.period_start, l.position",
        placeholder(conn, 1),
        placeholder(conn, 2),
        list_placeholders(conn, 3, subscription_ids.len())
    );
    let values = texts(subscription_ids);
    Ok(bind_all_as(sqlx::query_as(&sql).bind(from).bind(to), &values).fetch_all(conn).await?)
}

/// The organization's invoices still to be finalized or collected (drafts, finalized, open).
pub async fn unsettled_count(conn: &mut AnyConnection, organization_id: &str) -> Result<i64, Error> {
    Ok(sqlx::query_scalar(
        "select cast(count(*) as bigint) from invoices
         where organization_id = $1 and status in ('draft', 'finalized', 'open')",
    )
    .bind(organization_id)
    .fetch_one(conn)
    .await?)
}

/// Moves an invoice from `from` to paid or uncollectible; false when it was no longer `from`.
pub async fn settle_status(
    conn: &mut AnyConnection,
    invoice_id: &str,
    from: InvoiceStatus,
    to: InvoiceStatus,
    now: i64,
) -> Result<bool, Error> {
    crate::billing::domain::invoice::transition(from, to)?;
    let paid_at = (to == InvoiceStatus::Paid).then_some(now);
    let updated =
        sqlx::query("update invoices set status = $1, paid_at = coalesce($2, paid_at) where id = $3 and status = $4")
            .bind(to.as_str())
            .bind(paid_at)
            .bind(invoice_id)
            .bind(from.as_str())
            .execute(conn)
            .await?;
    Ok(updated.rows_affected() == 1)
}

/// Holds the invoice's row until the transaction ends (a no-op update, since SQLite has no
/// `for update`). Whatever settles an invoice and its collection takes the invoice first.
pub async fn lock_invoice(conn: &mut AnyConnection, invoice_id: &str) -> Result<(), Error> {
    sqlx::query("update invoices set status = status where id = $1").bind(invoice_id).execute(conn).await?;
    Ok(())
}

/// (invoice id, lines) of lines whose invoice does not exist, at most `limit`: PostgreSQL does not
/// check their key (see the migration `invoice_lines_unchecked_key`).
pub async fn lines_without_invoice(conn: &mut AnyConnection, limit: i64) -> Result<Vec<(String, i64)>, Error> {
    Ok(sqlx::query_as(
        "select l.invoice_id, cast(count(*) as bigint) from invoice_lines l
         where not exists (select 1 from invoices i where i.id = l.invoice_id)
         group by l.invoice_id order by l.invoice_id limit $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// (organization, hour) of rolled-up usage in `[from, to)` that no period bills: not inside any
/// invoice's period, a trial, or the open period of a subscription that has not ended. Usage
/// dated before the organization's first subscription's first period (a backdated event) is left
/// out; before a later subscription's, it is in the gap no period bills. At most `limit`, oldest
/// first.
pub async fn unbilled_usage_hours(
    conn: &mut AnyConnection,
    (from, to): (i64, i64),
    limit: i64,
) -> Result<Vec<(String, i64)>, Error> {
    Ok(sqlx::query_as(
        "select h.organization_id, h.hour from (
             select distinct organization_id, hour from usage_hourly where hour >= $1 and hour < $2 and total <> 0
         ) h
         where not exists (
             select 1 from invoices i
             where i.organization_id = h.organization_id and i.period_start <= h.hour and h.hour < i.period_end
         ) and not exists (
             select 1 from subscriptions s
             where s.organization_id = h.organization_id and (
                 h.hour < coalesce(s.trial_ends_at, 0)
                 or h.hour < (select coalesce(min(f.period_start), s.current_period_start) from invoices f
                              where f.subscription_id = s.id)
                    and not exists (select 1 from subscriptions e where e.organization_id = s.organization_id
                                    and e.ended_at is not null and e.ended_at <= s.anchor_at)
                 or (h.hour >= s.current_period_start and (s.ended_at is null and s.status <> 'canceled'
                     or h.hour < s.ended_at))
             )
         )
         order by h.hour, h.organization_id limit $3",
    )
    .bind(from)
    .bind(to)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}
