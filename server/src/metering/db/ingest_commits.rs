//! A row per ingestion commit, kept a day: the operations view's ingestion rates.
use sqlx::AnyConnection;

use crate::error::Error;
use crate::shared::ids::{IdKind, new_id};

const DAY_MS: i64 = 86_400_000;

/// The record of one ingestion commit, for its transaction to execute. A statement, not a call,
/// because PostgreSQL's ingestion commit runs on a native connection and SQLite's on `Any`.
pub fn record_ingest_commit<'q, DB>(
    events: i64,
    newest_event_at: i64,
    now: i64,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    DB: sqlx::Database,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query("insert into ingest_commits (id, at, events, newest_event_at) values ($1, $2, $3, $4)")
        .bind(new_id(IdKind::IngestCommit, now))
        .bind(now)
        .bind(events)
        .bind(newest_event_at)
}

/// Ingestion commits are only needed for the last day's rates.
pub async fn prune_ingest_commits(conn: &mut AnyConnection, now: i64) -> Result<(), Error> {
    sqlx::query("delete from ingest_commits where at < $1").bind(now - DAY_MS).execute(conn).await?;
    Ok(())
}

/// (events in the last minute, events in the last hour, newest event time of the last day).
pub async fn ingestion_stats(conn: &mut AnyConnection, now: i64) -> Result<(i64, i64, Option<i64>), Error> {
    Ok(sqlx::query_as(
        "select cast(coalesce(sum(case when at >= $1 then events else 0 end), 0) as bigint),
                cast(coalesce(sum(case when at >= $2 then events else 0 end), 0) as bigint),
                max(newest_event_at)
         from ingest_commits where at >= $3",
    )
    .bind(now - 60_000)
    .bind(now - 3_600_000)
    .bind(now - DAY_MS)
    .fetch_one(conn)
    .await?)
}

/// (minute index from `since`, events stored in it) for the minutes since `since` that had any.
pub async fn events_per_minute(conn: &mut AnyConnection, since: i64) -> Result<Vec<(i64, i64)>, Error> {
    Ok(sqlx::query_as(
        "select (at - $1) / 60000 as minute, cast(sum(events) as bigint)
         from ingest_commits where at >= $1 group by 1 order by 1",
    )
    .bind(since)
    .fetch_all(conn)
    .await?)
}
