//! The payments job: drains the webhook inbox, runs due charges and dunning steps, and delivers
//! notifications. All of it is read from durable rows on every pass.
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::notifications::delivery::Outbox;
use crate::payments::collection::Collector;
use crate::payments::pass::run_payments_pass;
use crate::store::Db;

#[tracing::instrument(skip_all)]
pub async fn run_payments_job(
    db: Db,
    collector: Arc<Collector>,
    outbox: Outbox,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    // The first pass runs at start, so work a crash interrupted resumes at once.
    loop {
        if let Err(error) = run_payments_pass(&db, &collector, &outbox).await {
            tracing::warn!(%error, "payments pass failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
    }
}
