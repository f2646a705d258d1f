//! Handing committed notices over, each on its own: to an SMTP relay, or without one to the mail
//! log staff read. A message the relay refuses for now is tried again with a backoff; one it
//! refuses for good (or with no valid address) is parked for staff. Neither holds back the rest.
use std::sync::Arc;

use async_trait::async_trait;

use crate::error::Error;
use crate::notifications::db::{NotificationRow, claim_due, mark_delivered, park, retry_later};
use crate::notifications::mail::{Attachment, MailFailure, Mailer, OutgoingMail};
use crate::store::Db;

/// A claimed batch is this worker's until the lease lapses; after a crash another sends it. The
/// lease outlasts a batch in which every message waits out lettre's one-minute timeout.
const LEASE_MS: i64 = 15 * 60_000;
const CLAIM_BATCH: i64 = 10;

/// Where notifications go: an SMTP relay, a folder of `.eml` files, or (with neither) the mail log
/// in the database alone.
#[derive(Clone, Default)]
pub struct Outbox {
    mailer: Option<Arc<Mailer>>,
    attachments: Option<Arc<dyn Attachments>>,
}

/// Makes the file a notice names (an invoice's PDF) when it is sent, so the outbox stores a
/// reference, not the document. A document withdrawn since the notice was written (a voided
/// invoice) is an error: its mail is held back for staff rather than sent.
#[async_trait]
pub trait Attachments: Send + Sync {
    async fn attachment(&self, reference: &str) -> Result<Attachment, Error>;
}

impl Outbox {
    pub fn with_attachments(self, attachments: Arc<dyn Attachments>) -> Self {
        Self { attachments: Some(attachments), ..self }
    }

    pub fn smtp(url: &str, from: &str, message_id_domain: &str) -> Result<Self, String> {
        Ok(Self { mailer: Some(Arc::new(Mailer::new(url, from, message_id_domain)?)), attachments: None })
    }

    pub fn folder(folder: std::path::PathBuf, from: &str, message_id_domain: &str) -> Result<Self, String> {
        Ok(Self { mailer: Some(Arc::new(Mailer::folder(folder, from, message_id_domain)?)), attachments: None })
    }
}

/// 1 min, 2, 4 … doubling up to 6 hours between attempts.
fn backoff_ms(attempts: i64) -> i64 {
    (60_000i64 << attempts.clamp(1, 20).saturating_sub(1)).min(6 * 3_600_000)
}

#[tracing::instrument(skip_all)]
pub async fn deliver_notifications(db: &Db, outbox: &Outbox, now: i64) -> Result<(), Error> {
    loop {
        let due = {
            let mut tx = db.begin().await?;
            let due = claim_due(&mut tx, now, now + LEASE_MS, CLAIM_BATCH).await?;
            tx.commit().await?;
            due
        };
        if due.is_empty() {
            return Ok(());
        }
        deliver_batch(db, outbox, due, now).await?;
    }
}

async fn deliver_batch(db: &Db, outbox: &Outbox, due: Vec<NotificationRow>, now: i64) -> Result<(), Error> {
    for notification in due {
        let result = match &outbox.mailer {
            None => Ok("mail-log"),
            Some(mailer) => send(outbox, mailer, &notification).await.map(|()| mailer.delivery()),
        };
        let mut conn = db.pool.acquire().await?;
        match result {
            Ok(delivery) => {
                tracing::info!(notification = %notification.id, delivery, "notification delivered");
                mark_delivered(&mut conn, &notification.id, delivery, now).await?;
            }
            Err(MailFailure::Transient(error)) => {
                tracing::warn!(notification = %notification.id, %error, "notification not sent; trying again later");
                retry_later(&mut conn, &notification.id, now + backoff_ms(notification.attempts), &error).await?;
            }
            Err(MailFailure::Permanent(error)) => {
                tracing::warn!(notification = %notification.id, %error, "notification refused; parked for staff");
                park(&mut conn, &notification.id, &error, now).await?;
            }
        }
    }
    Ok(())
}

/// Why an attachment could not be made decides whether sending again can help: a database or
/// disk that failed may work later; a document that is gone, withdrawn or unknown will not.
fn attachment_failure(error: Error) -> MailFailure {
    match error {
        Error::Database(_) | Error::Io { .. } | Error::Task(_) => {
            MailFailure::Transient(format!("the attachment cannot be made now: {error}"))
        }
        other => MailFailure::Permanent(format!("the attachment cannot be made: {other}")),
    }
}

async fn send(outbox: &Outbox, mailer: &Mailer, notification: &NotificationRow) -> Result<(), MailFailure> {
    let attachment = match (&notification.attachment, &outbox.attachments) {
        (None, _) => None,
        (Some(reference), Some(attachments)) => {
            Some(attachments.attachment(reference).await.map_err(attachment_failure)?)
        }
        (Some(_), None) => return Err(MailFailure::Permanent("no documents to attach are configured".into())),
    };
    let mail = OutgoingMail {
        id: &notification.id,
        to: &notification.recipient,
        subject: &notification.subject,
        body: &notification.body,
        attachment: attachment.as_ref(),
    };
    mailer.send(&mail).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_a_minute_up_to_six_hours() {
        assert_eq!(backoff_ms(1), 60_000);
        assert_eq!(backoff_ms(3), 240_000);
        assert_eq!(backoff_ms(30), 21_600_000);
    }
}
