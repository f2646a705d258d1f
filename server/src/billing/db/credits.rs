//! Credits granted to organizations and the invoices they were applied to.
use sqlx::{AnyConnection, FromRow};

use crate::error::Error;
use crate::store::bulk::{bind_all_as, list_placeholders, texts};

pub struct NewCredit<'a> {
    pub id: &'a str,
    pub organization_id: &'a str,
    pub amount_minor: i64,
    pub reason: &'a str,
    pub expires_at: Option<i64>,
    pub idempotency_key: &'a str,
    pub created_by: &'a str,
    pub now: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct CreditRow {
    pub id: String,
    pub amount_minor: i64,
    pub reason: String,
    pub expires_at: Option<i64>,
    pub idempotency_key: String,
    pub created_by: String,
    pub created_at: i64,
    /// What is left after applications to invoices that are not void; nothing once the expiry of
    /// what was left is posted, so no later run can spend it.
    pub remaining_minor: i64,
}

/// Inserts the credit unless one with the same idempotency key exists; either way returns the
/// stored credit and whether this call created it.
pub async fn insert_credit(conn: &mut AnyConnection, credit: &NewCredit<'_>) -> Result<(CreditRow, bool), Error> {
    let inserted = sqlx::query(
        "insert into credits (id, organization_id, amount_minor, reason, expires_at, idempotency_key, created_by, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (organization_id, idempotency_key) do nothing",
    )
    .bind(credit.id)
    .bind(credit.organization_id)
    .bind(credit.amount_minor)
    .bind(credit.reason)
    .bind(credit.expires_at)
    .bind(credit.idempotency_key)
    .bind(credit.created_by)
    .bind(credit.now)
    .execute(&mut *conn)
    .await?;
    let stored = credits_of(conn, credit.organization_id).await?;
    let row = stored
        .into_iter()
        .find(|c| c.idempotency_key == credit.idempotency_key)
        .ok_or_else(|| Error::Corrupt("a stored credit vanished".into()))?;
    Ok((row, inserted.rows_affected() == 1))
}

/// Every credit of the organization, soonest expiry first (the order they are used up in).
pub async fn credits_of(conn: &mut AnyConnection, organization_id: &str) -> Result<Vec<CreditRow>, Error> {
    Ok(credits_of_many(conn, &[organization_id.to_owned()]).await?.into_iter().map(|(_, credit)| credit).collect())
}

/// `credits_of` for many organizations: (organization, credit).
pub async fn credits_of_many(
    conn: &mut AnyConnection,
    organization_ids: &[String],
) -> Result<Vec<(String, CreditRow)>, Error> {
    let sql = format!(
        "select c.organization_id, c.id, c.amount_minor, c.reason, c.expires_at, c.idempotency_key, c.created_by,
             c.created_at,
             case when exists (select 1 from ledger_transactions t
                     where t.kind = 'credit.expired' and t.reference = c.id) then 0
                 else c.amount_minor - cast(coalesce((select sum(a.amount_minor) from credit_applications a
                     join invoices i on i.id = a.invoice_id where a.credit_id = c.id and i.status <> 'void'), 0) as bigint)
             end as remaining_minor
         from credits c where c.organization_id in ({})
         order by coalesce(c.expires_at, 9223372036854775807), c.created_at, c.id",
        list_placeholders(conn, 1, organization_ids.len())
    );
    let values = texts(organization_ids);
    let rows: Vec<OwnedCredit> = bind_all_as(sqlx::query_as(&sql), &values).fetch_all(conn).await?;
    Ok(rows.into_iter().map(|r| (r.organization_id, r.credit)).collect())
}

#[derive(FromRow)]
struct OwnedCredit {
    organization_id: String,
    #[sqlx(flatten)]
    credit: CreditRow,
}

pub async fn apply_credit(
    conn: &mut AnyConnection,
    credit_id: &str,
    invoice_id: &str,
    amount_minor: i64,
) -> Result<(), Error> {
    sqlx::query("insert into credit_applications (credit_id, invoice_id, amount_minor) values ($1, $2, $3)")
        .bind(credit_id)
        .bind(invoice_id)
        .bind(amount_minor)
        .execute(conn)
        .await?;
    Ok(())
}

/// (credit, granted, applied) of every credit applied beyond its amount, void invoices aside.
pub async fn overspent_credits(conn: &mut AnyConnection) -> Result<Vec<(String, i64, i64)>, Error> {
    Ok(sqlx::query_as(
        "select c.id, c.amount_minor, cast(sum(a.amount_minor) as bigint) from credits c
         join credit_applications a on a.credit_id = c.id join invoices i on i.id = a.invoice_id
         where i.status <> 'void' group by c.id, c.amount_minor having sum(a.amount_minor) > c.amount_minor",
    )
    .fetch_all(conn)
    .await?)
}

/// Credits that expired by `now` with something left and no expiry posted yet.
pub async fn expired_unposted(conn: &mut AnyConnection, now: i64) -> Result<Vec<(String, String)>, Error> {
    Ok(sqlx::query_as(
        "select c.id, c.organization_id from credits c where c.expires_at <= $1
         and c.amount_minor > coalesce((select sum(a.amount_minor) from credit_applications a
             join invoices i on i.id = a.invoice_id where a.credit_id = c.id and i.status <> 'void'), 0)
         and not exists (select 1 from ledger_transactions t where t.kind = 'credit.expired' and t.reference = c.id)",
    )
    .bind(now)
    .fetch_all(conn)
    .await?)
}
