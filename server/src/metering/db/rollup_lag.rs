//! How far rollups trail ingestion: the backlog now, and a day of it sampled per minute.
use sqlx::AnyConnection;

use crate::error::Error;
use crate::metering::domain::usage::MINUTE_MS;

const DAY_MS: i64 = 86_400_000;

/// (hours waiting for their rollup, when the oldest of them was marked).
pub async fn rollup_backlog(conn: &mut AnyConnection) -> Result<(i64, Option<i64>), Error> {
    Ok(sqlx::query_as("select count(*), min(marked_at) from usage_dirty_hours").fetch_one(conn).await?)
}

/// Keeps the largest lag seen in the minute of `now`: instances sample independently, and the
/// worst of them is the one to see.
pub async fn record_lag_sample(conn: &mut AnyConnection, now: i64, lag_ms: i64, dirty_hours: i64) -> Result<(), Error> {
    sqlx::query(
        "insert into rollup_lag_samples (minute, lag_ms, dirty_hours) values ($1, $2, $3)
         on conflict (minute) do update set
             lag_ms = case when excluded.lag_ms > rollup_lag_samples.lag_ms then excluded.lag_ms else rollup_lag_samples.lag_ms end,
             dirty_hours = case when excluded.dirty_hours > rollup_lag_samples.dirty_hours
                 then excluded.dirty_hours else rollup_lag_samples.dirty_hours end",
    )
    .bind(now - now.rem_euclid(MINUTE_MS))
    .bind(lag_ms)
    .bind(dirty_hours)
    .execute(conn)
    .await?;
    Ok(())
}

/// (minute, largest lag in ms) from `since` on, oldest first.
pub async fn lag_per_minute(conn: &mut AnyConnection, since: i64) -> Result<Vec<(i64, i64)>, Error> {
    Ok(sqlx::query_as("select minute, lag_ms from rollup_lag_samples where minute >= $1 order by minute")
        .bind(since)
        .fetch_all(conn)
        .await?)
}

pub async fn prune_lag_samples(conn: &mut AnyConnection, now: i64) -> Result<(), Error> {
    sqlx::query("delete from rollup_lag_samples where minute < $1").bind(now - DAY_MS).execute(conn).await?;
    Ok(())
}
