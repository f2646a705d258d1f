//! The record of processor checks: claimed by inserting the row, finished with what was found.
use sqlx::{AnyConnection, FromRow};

use crate::error::Error;

/// Claims the check `id`; false when it is already claimed (another instance runs it).
pub async fn claim_check(conn: &mut AnyConnection, id: &str, started_at: i64, since: i64) -> Result<bool, Error> {
    let inserted = sqlx::query(
        "insert into processor_checks (id, started_at, since) values ($1, $2, $3) on conflict (id) do nothing",
    )
    .bind(id)
    .bind(started_at)
    .bind(since)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

pub struct FinishedCheck<'a> {
    pub finished_at: i64,
    pub events_recovered: i64,
    pub charges_checked: i64,
    pub discrepancies: i64,
    pub detail: &'a str,
}

pub async fn finish_check(conn: &mut AnyConnection, id: &str, check: &FinishedCheck<'_>) -> Result<(), Error> {
    sqlx::query(
        "update processor_checks set finished_at = $1, events_recovered = $2, charges_checked = $3,
             discrepancies = $4, detail = $5 where id = $6",
    )
    .bind(check.finished_at)
    .bind(check.events_recovered)
    .bind(check.charges_checked)
    .bind(check.discrepancies)
    .bind(check.detail)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// When the newest finished check started: what happened before it has been compared.
pub async fn last_finished_start(conn: &mut AnyConnection) -> Result<Option<i64>, Error> {
    Ok(sqlx::query_scalar("select max(started_at) from processor_checks where finished_at is not null")
        .fetch_one(conn)
        .await?)
}

#[derive(Debug, FromRow)]
pub struct ProcessorCheckRow {
    pub since: i64,
    pub finished_at: i64,
    pub events_recovered: i64,
    pub charges_checked: i64,
    pub discrepancies: i64,
    pub detail: String,
}

pub async fn last_check(conn: &mut AnyConnection) -> Result<Option<ProcessorCheckRow>, Error> {
    Ok(sqlx::query_as(
        "select since, finished_at, events_recovered, charges_checked, discrepancies, detail from processor_checks
         where finished_at is not null order by finished_at desc limit 1",
    )
    .fetch_optional(conn)
    .await?)
}
