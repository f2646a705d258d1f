//! Samples the rollup backlog every few seconds into per-minute rows, so the operations view on
//! any instance can draw the last hour of rollup lag.
use std::time::Duration;

use tokio::sync::watch;

use crate::error::Error;
use crate::metering::db::rollup_lag::{record_lag_sample, rollup_backlog};
use crate::store::Db;

/// Several samples a minute: a backlog that builds and clears within one still shows.
const SAMPLE_EVERY: Duration = Duration::from_secs(10);

pub async fn run_lag_sampler(db: Db, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(error) = sample_rollup_lag(&db).await {
            tracing::warn!(%error, "sampling the rollup lag failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(SAMPLE_EVERY) => {}
            _ = stop.changed() => return,
        }
    }
}

pub async fn sample_rollup_lag(db: &Db) -> Result<(), Error> {
    let now = db.clock.now_ms();
    let mut conn = db.pool.acquire().await?;
    let (dirty_hours, oldest_mark) = rollup_backlog(&mut conn).await?;
    let lag_ms = oldest_mark.map_or(0, |marked| (now - marked).max(0));
    record_lag_sample(&mut conn, now, lag_ms, dirty_hours).await
}
