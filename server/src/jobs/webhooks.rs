//! The webhook job: starts what is due every half second, and at once when this instance hears
//! that an organization's rollups changed (a budget's alert is announced right after its rollup),
//! so an alert reaches its endpoints within moments of the usage that crossed it. Its work is in
//! durable rows; a restart resumes it.
use std::time::Duration;

use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio::sync::watch;

use crate::store::Db;
use crate::webhooks::delivery::{Sender, start_due_deliveries};

const INTERVAL: Duration = Duration::from_millis(500);

#[tracing::instrument(skip_all)]
pub async fn run_webhook_job(
    db: Db,
    sender: Sender,
    mut rolled_up: broadcast::Receiver<String>,
    mut stop: watch::Receiver<bool>,
) {
    let mut hearing = true;
    loop {
        if let Err(error) = start_due_deliveries(&db, &sender).await {
            tracing::warn!(%error, "starting webhook deliveries failed; the next pass tries again");
        }
        tokio::select! {
            _ = tokio::time::sleep(INTERVAL) => {}
            heard = rolled_up.recv(), if hearing => {
                hearing = heard.is_ok() || matches!(heard, Err(RecvError::Lagged(_)));
                // One pass answers every notice heard so far: a rollup of many organizations
                // sends one each.
                while !matches!(rolled_up.try_recv(), Err(TryRecvError::Empty | TryRecvError::Closed)) {}
            }
            _ = stop.changed() => return,
        }
    }
}
