//! The payments job: drains the webhook inbox, runs due charges and dunning steps, and delivers
//! notifications. All of it is read from durable rows on every pass.
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::db::Db;
use crate::db::notifications::{mark_delivered, undelivered};
use crate::error::Error;
use crate::services::collection::{Collector, run_collections};
use crate::services::payment_events::process_inbox;

pub async fn run_payments_job(db: Db, collector: Arc<Collector>, interval: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
        if let Err(error) = run_payments_pass(&db, &collector).await {
            tracing::warn!(%error, "payments pass failed");
        }
    }
}

/// One pass at the store's "now": webhook events first (they may settle charges), then due
/// collection steps, then the notifications they wrote.
pub async fn run_payments_pass(db: &Db, collector: &Collector) -> Result<(), Error> {
    let now = db.clock.now_ms();
    let inbox = process_inbox(db, collector, now).await?;
    if inbox.processed + inbox.failed + inbox.parked > 0 {
        tracing::info!(?inbox, "webhook inbox");
    }
    let collections = run_collections(db, collector, now).await?;
    if collections.steps > 0 {
        tracing::info!(?collections, "collections");
    }
    deliver_notifications(db, now).await
}

/// Without SMTP configured, notifications stay in the mail log that staff read; delivery marks
/// them so each is handed over once.
async fn deliver_notifications(db: &Db, now: i64) -> Result<(), Error> {
    let mut conn = db.pool.acquire().await?;
    for notification in undelivered(&mut conn, 100).await? {
        tracing::info!(to = %notification.recipient, subject = %notification.subject, "notification kept in the mail log");
        mark_delivered(&mut conn, &notification.id, "mail-log", now).await?;
    }
    Ok(())
}
