//! The payments job: drains the webhook inbox, runs due charges and dunning steps, and delivers
//! notifications. All of it is read from durable rows on every pass.
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::config::Settings;
use crate::db::Db;
use crate::db::notifications::{mark_delivered, undelivered};
use crate::error::Error;
use crate::mail::{Message, relay_address, send};
use crate::services::collection::{Collector, run_collections};
use crate::services::payment_events::process_inbox;

/// Where notifications go: an SMTP relay, or (without one) the mail log alone.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    /// `host:port`.
    pub relay: Option<String>,
    pub from: String,
}

impl Outbox {
    pub fn from_settings(settings: &Settings) -> Result<Self, Error> {
        let relay = settings
            .smtp_url
            .as_deref()
            .map(relay_address)
            .transpose()
            .map_err(|e| Error::Config(format!("SMTP_URL: {e}")))?;
        Ok(Self { relay, from: settings.smtp_from.clone() })
    }
}

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

/// One pass at the store's "now": webhook events first (they may settle charges), then due
/// collection steps, then the notifications they wrote.
pub async fn run_payments_pass(db: &Db, collector: &Collector, outbox: &Outbox) -> Result<(), Error> {
    let now = db.clock.now_ms();
    let inbox = process_inbox(db, collector, now).await?;
    if inbox.processed + inbox.failed + inbox.parked > 0 {
        tracing::info!(?inbox, "webhook inbox");
    }
    let collections = run_collections(db, collector, now).await?;
    if collections.steps > 0 {
        tracing::info!(?collections, "collections");
    }
    deliver_notifications(db, outbox, now).await
}

/// Hands each committed notification over once: to the SMTP relay, or without one to the mail
/// log staff read. A relay that refuses or cannot be reached gets the message on a later pass.
async fn deliver_notifications(db: &Db, outbox: &Outbox, now: i64) -> Result<(), Error> {
    let pending = undelivered(&mut *db.pool.acquire().await?, 100).await?;
    for notification in pending {
        let delivery = match &outbox.relay {
            Some(relay) => {
                let message = Message {
                    from: &outbox.from,
                    to: &notification.recipient,
                    subject: &notification.subject,
                    body: &notification.body,
                };
                if let Err(error) = send(relay, &message).await {
                    tracing::warn!(%error, to = %notification.recipient, "notification not sent; trying again later");
                    return Ok(());
                }
                "smtp"
            }
            None => "mail-log",
        };
        tracing::info!(to = %notification.recipient, subject = %notification.subject, delivery, "notification delivered");
        mark_delivered(&mut *db.pool.acquire().await?, &notification.id, delivery, now).await?;
    }
    Ok(())
}
