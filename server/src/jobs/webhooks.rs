//! The webhook job: starts what is due every half second, so an event reaches its endpoints
//! within about a second of its commit. Its work is in durable rows; a restart resumes it.
use std::time::Duration;

use tokio::sync::watch;

use crate::store::Db;
use crate::webhooks::delivery::{Sender, start_due_deliveries};

const INTERVAL: Duration = Duration::from_millis(500);

#[tracing::instrument(skip_all)]
pub async fn run_webhook_job(db: Db, sender: Sender, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(error) = start_due_deliveries(&db, &sender).await {
            tracing::warn!(%error, "starting webhook deliveries failed; the next pass tries again");
        }
        tokio::select! {
            _ = tokio::time::sleep(INTERVAL) => {}
            _ = stop.changed() => return,
        }
    }
}
