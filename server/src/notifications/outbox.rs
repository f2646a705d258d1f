//! Writing a notice: in the transaction of its cause, to the organization's billing email.
use sqlx::AnyConnection;

use crate::accounts::db::organizations::find_organization;
use crate::error::Error;
use crate::notifications::db::{NewNotification, enqueue};

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
    let recipient = find_organization(conn, organization_id).await?.map(|o| o.billing_email).unwrap_or_default();
    let notification = NewNotification {
        organization_id: Some(organization_id),
        kind,
        reference,
        recipient: &recipient,
        subject,
        body,
    };
    enqueue(conn, &notification, now).await
}
