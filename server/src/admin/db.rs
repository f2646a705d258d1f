//! What the operations view reads: the durable job tables and the record of
//! reconciliation runs.
use sqlx::{AnyConnection, FromRow};

use crate::error::Error;
use crate::shared::ids::{IdKind, new_id};

#[derive(Debug, FromRow)]
pub struct QueueCounts {
    pub name: String,
    pub queued: i64,
    pub running: i64,
    pub failed: i64,
}

/// Each durable queue: due and waiting, leased by a worker now, failed (waiting for a retry or
/// for a person).
pub async fn queue_counts(conn: &mut AnyConnection, now: i64) -> Result<Vec<QueueCounts>, Error> {
    Ok(sqlx::query_as(
        "select 'webhook events' as name,
                cast(coalesce(sum(case when status in ('pending', 'failed') and next_attempt_at <= $1 then 1 else 0 end), 0) as bigint) as queued,
                cast(coalesce(sum(case when status = 'pending' and attempts > 0 and next_attempt_at > $1 then 1 else 0 end), 0) as bigint) as running,
                cast(coalesce(sum(case when status in ('failed', 'parked') then 1 else 0 end), 0) as bigint) as failed
         from stripe_events where status in ('pending', 'failed', 'parked')
         union all
         select 'collections',
                cast(coalesce(sum(case when next_run_at <= $1 and (lease_until is null or lease_until <= $1) then 1 else 0 end), 0) as bigint),
                cast(coalesce(sum(case when lease_until > $1 then 1 else 0 end), 0) as bigint),
                cast(coalesce(sum(case when status = 'past_due' then 1 else 0 end), 0) as bigint)
         from collections where status in ('collecting', 'past_due')
         union all
         select 'invoice finalization',
                cast(coalesce(sum(case when finalize_after <= $1 then 1 else 0 end), 0) as bigint), 0, 0
         from invoices where status = 'draft'
         union all
         select 'period close', count(*), 0, 0
         from subscriptions where status <> 'canceled' and current_period_end <= $1
         union all
         select 'notifications',
                cast(coalesce(sum(case when parked_at is null and (next_attempt_at is null or next_attempt_at <= $1) then 1 else 0 end), 0) as bigint),
                cast(coalesce(sum(case when parked_at is null and next_attempt_at > $1 and last_error is null then 1 else 0 end), 0) as bigint),
                cast(coalesce(sum(case when parked_at is not null or last_error is not null then 1 else 0 end), 0) as bigint)
         from notifications where delivered_at is null",
    )
    .bind(now)
    .fetch_all(conn)
    .await?)
}

pub struct NewReconcileRun<'a> {
    pub started_at: i64,
    pub finished_at: i64,
    pub invoices_checked: i64,
    pub mismatches: i64,
    pub detail: &'a str,
}

pub async fn record_reconcile_run(conn: &mut AnyConnection, run: &NewReconcileRun<'_>) -> Result<(), Error> {
    sqlx::query(
        "insert into reconcile_runs (id, started_at, finished_at, invoices_checked, mismatches, detail)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new_id(IdKind::ReconcileRun, run.started_at))
    .bind(run.started_at)
    .bind(run.finished_at)
    .bind(run.invoices_checked)
    .bind(run.mismatches)
    .bind(run.detail)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, FromRow)]
pub struct ReconcileRunRow {
    pub finished_at: i64,
    pub invoices_checked: i64,
    pub mismatches: i64,
    pub detail: String,
}

pub async fn last_reconcile_run(conn: &mut AnyConnection) -> Result<Option<ReconcileRunRow>, Error> {
    Ok(sqlx::query_as(
        "select finished_at, invoices_checked, mismatches, detail from reconcile_runs
         order by finished_at desc limit 1",
    )
    .fetch_optional(conn)
    .await?)
}
