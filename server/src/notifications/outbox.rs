//! Writing a notice: in the transaction of its cause, to the organization's billing email.
use sqlx::AnyConnection;

use crate::accounts::db::billing_contacts::billing_recipients;
use crate::error::Error;
use crate::notifications::db::{NewNotification, enqueue};

/// The attachment reference of an invoice's PDF.
pub fn invoice_document(organization_id: &str, invoice_id: &str) -> String {
    format!("invoice:{organization_id}:{invoice_id}")
}

/// The attachment reference of a payment's receipt.
pub fn receipt_document(organization_id: &str, payment_id: &str) -> String {
    format!("receipt:{organization_id}:{payment_id}")
}

/// What a notice says and what it carries.
pub struct Notice<'a> {
    pub kind: &'a str,
    /// With `kind`, unique: a step that runs again does not notify twice.
    pub reference: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub attachment: Option<&'a str>,
}

/// Queues a notice for the organization's billing email; it is handed over after commit.
pub async fn notify(
    conn: &mut AnyConnection,
    organization_id: &str,
    kind: &str,
    reference: &str,
    subject: &str,
    body: &str,
    now: i64,
) -> Result<(), Error> {
    let notice = Notice { kind, reference, subject, body, attachment: None };
    notify_with(conn, organization_id, &notice, now).await
}

pub async fn notify_with(
    conn: &mut AnyConnection,
    organization_id: &str,
    notice: &Notice<'_>,
    now: i64,
) -> Result<(), Error> {
    let recipient =
        billing_recipients(conn, &[organization_id.to_owned()]).await?.remove(organization_id).unwrap_or_default();
    let notification = NewNotification {
        organization_id: Some(organization_id),
        kind: notice.kind,
        reference: notice.reference,
        recipient: &recipient,
        subject: notice.subject,
        body: notice.body,
        attachment: notice.attachment,
    };
    enqueue(conn, &notification, now).await
}
