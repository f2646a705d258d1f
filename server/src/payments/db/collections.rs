//! Collection timers (one durable row per invoice being collected) and their timeline.
use sqlx::{AnyConnection, FromRow};

use crate::error::Error;
use crate::payments::domain::status::CollectionStatus;
use crate::shared::ids::{IdKind, new_id};
use crate::store::Dialect;

#[derive(Debug, Clone, FromRow)]
pub struct CollectionRow {
    pub invoice_id: String,
    pub organization_id: String,
    pub subscription_id: String,
    pub status: String,
    pub dunning_started_at: Option<i64>,
    pub dunning_step: i64,
    pub next_run_at: i64,
    pub lease_until: Option<i64>,
    pub updated_at: i64,
}

impl CollectionRow {
    pub fn status(&self) -> Result<CollectionStatus, Error> {
        CollectionStatus::parse(&self.status)
            .ok_or_else(|| Error::Corrupt(format!("collection status {:?}", self.status)))
    }
}

const COLLECTION_COLUMNS: &str = "invoice_id, organization_id, subscription_id, status, dunning_started_at,
    dunning_step, next_run_at, lease_until, updated_at";

/// Leases up to `limit` due timers until `lease_until`. PostgreSQL skips rows another worker has
/// locked; SQLite has a single writer, so the compare-and-set on the lease is enough there.
pub async fn claim_due(
    conn: &mut AnyConnection,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<CollectionRow>, Error> {
    let skip_locked = if Dialect::of(conn) == Dialect::Sqlite { "" } else { "for update skip locked" };
    Ok(sqlx::query_as(&format!(
        "update collections set lease_until = $1
         where invoice_id in (
             select invoice_id from collections
             where status in ('collecting', 'past_due') and next_run_at <= $2
               and (lease_until is null or lease_until < $2)
             order by next_run_at limit $3 {skip_locked})
         returning {COLLECTION_COLUMNS}"
    ))
    .bind(lease_until)
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Leases one invoice's timer for an immediate retry; None when another worker holds it.
pub async fn claim_now(
    conn: &mut AnyConnection,
    invoice_id: &str,
    now: i64,
    lease_until: i64,
) -> Result<Option<CollectionRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "update collections set lease_until = $1
         where invoice_id = $2 and status in ('collecting', 'past_due') and (lease_until is null or lease_until < $3)
         returning {COLLECTION_COLUMNS}"
    ))
    .bind(lease_until)
    .bind(invoice_id)
    .bind(now)
    .fetch_optional(conn)
    .await?)
}

/// Where the timer goes next; releases the lease.
pub struct NextRun {
    pub status: CollectionStatus,
    pub dunning_started_at: Option<i64>,
    pub dunning_step: i64,
    pub next_run_at: i64,
}

/// Only a running timer: one a payment ended meanwhile stays ended.
pub async fn reschedule(conn: &mut AnyConnection, invoice_id: &str, next: &NextRun, now: i64) -> Result<(), Error> {
    sqlx::query(
        "update collections set status = $1, dunning_started_at = $2, dunning_step = $3, next_run_at = $4,
             lease_until = null, updated_at = $5
         where invoice_id = $6 and status in ('collecting', 'past_due')",
    )
    .bind(next.status.as_str())
    .bind(next.dunning_started_at)
    .bind(next.dunning_step)
    .bind(next.next_run_at)
    .bind(now)
    .bind(invoice_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends collection (paid, stopped, canceled). Returns false when it had already ended.
pub async fn finish(
    conn: &mut AnyConnection,
    invoice_id: &str,
    status: CollectionStatus,
    now: i64,
) -> Result<bool, Error> {
    let updated = sqlx::query(
        "update collections set status = $1, lease_until = null, updated_at = $2
         where invoice_id = $3 and status in ('collecting', 'past_due')",
    )
    .bind(status.as_str())
    .bind(now)
    .bind(invoice_id)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

pub async fn release(conn: &mut AnyConnection, invoice_id: &str) -> Result<(), Error> {
    sqlx::query("update collections set lease_until = null where invoice_id = $1")
        .bind(invoice_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether any invoice of the organization is past due (in dunning).
pub async fn has_past_due(conn: &mut AnyConnection, organization_id: &str) -> Result<bool, Error> {
    let count: i64 =
        sqlx::query_scalar("select count(*) from collections where organization_id = $1 and status = 'past_due'")
            .bind(organization_id)
            .fetch_one(conn)
            .await?;
    Ok(count > 0)
}

pub async fn open_collections_of(conn: &mut AnyConnection, organization_id: &str) -> Result<Vec<CollectionRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select {COLLECTION_COLUMNS} from collections
         where organization_id = $1 and status in ('collecting', 'past_due') order by next_run_at"
    ))
    .bind(organization_id)
    .fetch_all(conn)
    .await?)
}

#[derive(Debug, Clone, FromRow)]
pub struct CollectionEventRow {
    pub invoice_id: String,
    pub at: i64,
    pub kind: String,
    pub detail: String,
}

pub async fn record_event(
    conn: &mut AnyConnection,
    invoice_id: &str,
    organization_id: &str,
    kind: &str,
    detail: &str,
    at: i64,
) -> Result<(), Error> {
    sqlx::query(
        "insert into collection_events (id, invoice_id, organization_id, at, kind, detail)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new_id(IdKind::CollectionEvent, at))
    .bind(invoice_id)
    .bind(organization_id)
    .bind(at)
    .bind(kind)
    .bind(detail)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn events_of(conn: &mut AnyConnection, organization_id: &str) -> Result<Vec<CollectionEventRow>, Error> {
    Ok(sqlx::query_as(
        "select invoice_id, at, kind, detail from collection_events where organization_id = $1 order by at, id",
    )
    .bind(organization_id)
    .fetch_all(conn)
    .await?)
}
