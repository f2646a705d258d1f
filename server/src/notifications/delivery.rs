//! Handing committed notices over: to an SMTP relay, or without one to the mail log staff read.
use crate::error::Error;
use crate::notifications::db::{mark_delivered, undelivered};
use crate::notifications::mail::{Message, send};
use crate::store::Db;

/// Where notifications go: an SMTP relay, or (without one) the mail log alone.
#[derive(Debug, Clone, Default)]
pub struct Outbox {
    /// `host:port`.
    pub relay: Option<String>,
    pub from: String,
}

/// Hands each committed notification over once: to the SMTP relay, or without one to the mail
/// log staff read. A relay that refuses or cannot be reached gets the message on a later pass.
#[tracing::instrument(skip_all)]
pub async fn deliver_notifications(db: &Db, outbox: &Outbox, now: i64) -> Result<(), Error> {
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
