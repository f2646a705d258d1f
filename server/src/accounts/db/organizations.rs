//! Organizations and their memberships.
use sqlx::{AnyConnection, FromRow};

use crate::error::Error;
use crate::store::Dialect;
use crate::store::bulk::{bind_all, list_placeholders, texts};

#[derive(Debug, Clone, FromRow)]
pub struct OrganizationRow {
    pub id: String,
    pub name: String,
    pub billing_email: String,
    pub currency: String,
    pub created_at: i64,
    /// When the dashboard first found the organization's first steps all done: from then on it
    /// no longer checks them.
    pub onboarded_at: Option<i64>,
}

pub async fn insert_organization(conn: &mut AnyConnection, org: &OrganizationRow) -> Result<(), Error> {
    sqlx::query(
        "insert into organizations (id, name, billing_email, currency, created_at, onboarded_at)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&org.id)
    .bind(&org.name)
    .bind(&org.billing_email)
    .bind(&org.currency)
    .bind(org.created_at)
    .bind(org.onboarded_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn find_organization(conn: &mut AnyConnection, id: &str) -> Result<Option<OrganizationRow>, Error> {
    Ok(sqlx::query_as(
        "select id, name, billing_email, currency, created_at, onboarded_at from organizations where id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Records that the organization's first steps are all done; the first time only.
pub async fn mark_onboarded(conn: &mut AnyConnection, id: &str, now_ms: i64) -> Result<(), Error> {
    sqlx::query("update organizations set onboarded_at = $1 where id = $2 and onboarded_at is null")
        .bind(now_ms)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The organization's own ingestion rate: `None` when it does not exist, `Some(None)` when it
/// follows the portal's.
pub async fn own_ingest_rate(conn: &mut AnyConnection, id: &str) -> Result<Option<Option<i64>>, Error> {
    Ok(sqlx::query_scalar("select ingest_events_per_second from organizations where id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

pub async fn set_own_ingest_rate(conn: &mut AnyConnection, id: &str, rate: Option<i64>) -> Result<(), Error> {
    sqlx::query("update organizations set ingest_events_per_second = $1 where id = $2")
        .bind(rate)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// How many organizations have this name (in any case) and billing email.
pub async fn organizations_named(conn: &mut AnyConnection, name: &str, billing_email: &str) -> Result<i64, Error> {
    Ok(sqlx::query_scalar(
        "select cast(count(*) as bigint) from organizations where lower(name) = lower($1) and billing_email = $2",
    )
    .bind(name)
    .bind(billing_email)
    .fetch_one(conn)
    .await?)
}

/// Holds the organizations' rows until the transaction ends, taken in id order so two holders
/// never wait for each other crosswise. Whatever spends an organization's credit takes it before
/// reading what is left. `no key update`: rows that only reference the organization (drafts,
/// payments, postings) still insert beside it. SQLite needs none: its write transaction already
/// excludes every other writer.
pub async fn lock_organizations(conn: &mut AnyConnection, organization_ids: &[String]) -> Result<(), Error> {
    if Dialect::of(conn) == Dialect::Sqlite || organization_ids.is_empty() {
        return Ok(());
    }
    let mut ids = organization_ids.to_vec();
    ids.sort();
    ids.dedup();
    for chunk in ids.chunks(1_000) {
        let sql = format!(
            "select id from organizations where id in ({}) order by id for no key update",
            list_placeholders(conn, 1, chunk.len())
        );
        bind_all(sqlx::query(&sql), &texts(chunk)).execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn insert_membership(
    conn: &mut AnyConnection,
    user_id: &str,
    organization_id: &str,
    role: &str,
    now_ms: i64,
) -> Result<(), Error> {
    sqlx::query("insert into memberships (user_id, organization_id, role, created_at) values ($1, $2, $3, $4)")
        .bind(user_id)
        .bind(organization_id)
        .bind(role)
        .bind(now_ms)
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(FromRow)]
pub struct SummaryRow {
    pub id: String,
    pub name: String,
    pub billing_email: String,
    pub namespace_count: i64,
    pub member_count: i64,
    pub created_at: i64,
    pub currency: String,
}

/// One page of organizations, by name. A non-empty `prefix` (lower-cased) matches the start of
/// the name, the billing email, a member's email, the organization id or one of its invoice
/// numbers; every branch is a range scan on an index, so a search stays fast on 100,000 customers.
pub async fn search_organization_summaries(
    conn: &mut AnyConnection,
    dialect: Dialect,
    prefix: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<SummaryRow>, Error> {
    // PostgreSQL compares in the database's collation unless told otherwise; the indexes of
    // these branches are on the "C" collation, which compares like SQLite does: byte-wise.
    let c = match dialect {
        Dialect::Sqlite => "",
        Dialect::Postgres => r#" collate "C""#,
    };
    let filter = format!(
        "where o.id in (
            select id from organizations where lower(name){c} >= $3 and lower(name){c} < $4
            union select id from organizations where lower(billing_email){c} >= $3 and lower(billing_email){c} < $4
            union select id from organizations where id{c} >= $3 and id{c} < $4
            union select organization_id from invoices where number{c} >= $5 and number{c} < $6
            union select m.organization_id from users u join memberships m on m.user_id = u.id
                where u.email{c} >= $3 and u.email{c} < $4)"
    );
    let sql = format!(
        "select o.id, o.name, o.billing_email, o.created_at, o.currency,
                (select count(*) from namespaces n where n.organization_id = o.id) as namespace_count,
                (select count(*) from memberships m where m.organization_id = o.id) as member_count
         from organizations o {}
         order by lower(o.name){c}, o.id{c} limit $1 offset $2",
        if prefix.is_empty() { "" } else { &filter }
    );
    let mut query = sqlx::query_as::<_, SummaryRow>(&sql).bind(limit).bind(offset);
    if !prefix.is_empty() {
        let upper = |text: &str| format!("{text}{}", char::MAX);
        let invoice_prefix = prefix.to_ascii_uppercase();
        query = query.bind(prefix).bind(upper(prefix)).bind(invoice_prefix.clone()).bind(upper(&invoice_prefix));
    }
    Ok(query.fetch_all(conn).await?)
}
