//! The outbox of customer notifications: written with their cause, delivered after commit.
use sqlx::{AnyConnection, FromRow};

use crate::error::Error;
use crate::shared::ids::{IdKind, new_id};
use crate::store::Dialect;
use crate::store::bulk::{Value, bind_all, row_placeholders};

pub struct NewNotification<'a> {
    /// `None` for mail about an account without an organization yet (a sign-up, a password reset).
    pub organization_id: Option<&'a str>,
    pub kind: &'a str,
    /// With `kind`, unique: a step that runs again does not notify twice.
    pub reference: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    /// What to attach when the mail is sent, e.g. `invoice:<organization>:<invoice>`.
    pub attachment: Option<&'a str>,
}

pub async fn enqueue(conn: &mut AnyConnection, notification: &NewNotification<'_>, now: i64) -> Result<(), Error> {
    enqueue_many(conn, std::slice::from_ref(notification), now).await
}

/// Queues many notices in one statement (an invoice run finalizes thousands at once).
pub async fn enqueue_many(
    conn: &mut AnyConnection,
    notifications: &[NewNotification<'_>],
    now: i64,
) -> Result<(), Error> {
    if notifications.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "insert into notifications (id, organization_id, kind, reference, recipient, subject, body, attachment, created_at)
         values {} on conflict (kind, reference) do nothing",
        row_placeholders(conn, 1, notifications.len(), 9)
    );
    let values: Vec<Value> = notifications
        .iter()
        .flat_map(|n| {
            [
                Value::Text(new_id(IdKind::Notification, now)),
                Value::MaybeText(n.organization_id.map(str::to_owned)),
                Value::Text(n.kind.to_owned()),
                Value::Text(n.reference.to_owned()),
                Value::Text(n.recipient.to_owned()),
                Value::Text(n.subject.to_owned()),
                Value::Text(n.body.to_owned()),
                Value::MaybeText(n.attachment.map(str::to_owned)),
                Value::Int(now),
            ]
        })
        .collect();
    bind_all(sqlx::query(&sql), &values).execute(conn).await?;
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct NotificationRow {
    pub id: String,
    pub organization_id: Option<String>,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub attachment: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
    pub delivery: Option<String>,
    pub attempts: i64,
    pub parked_at: Option<i64>,
    pub last_error: Option<String>,
}

const NOTIFICATION_COLUMNS: &str =
    "id, organization_id, kind, recipient, subject, body, attachment, created_at, delivered_at,
    delivery, attempts, parked_at, last_error";

/// Leases up to `limit` notifications due for (another) delivery attempt until `lease_until`,
/// oldest first, counting the attempt. PostgreSQL skips rows another worker has locked.
pub async fn claim_due(
    conn: &mut AnyConnection,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<NotificationRow>, Error> {
    let skip_locked = if Dialect::of(conn) == Dialect::Sqlite { "" } else { "for update skip locked" };
    Ok(sqlx::query_as(&format!(
        "update notifications set next_attempt_at = $1, attempts = attempts + 1
         where id in (
             select id from notifications
             where delivered_at is null and parked_at is null and (next_attempt_at is null or next_attempt_at <= $2)
             order by created_at limit $3 {skip_locked})
         returning {NOTIFICATION_COLUMNS}"
    ))
    .bind(lease_until)
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Marks a notice delivered. Account mail carries a one-time link: once handed over, its text is
/// not kept, so the database (or a backup of it) holds no link that still works.
pub async fn mark_delivered(conn: &mut AnyConnection, id: &str, delivery: &str, now: i64) -> Result<(), Error> {
    sqlx::query(
        "update notifications set delivered_at = $1, delivery = $2, last_error = null,
             body = case when kind like 'account.%' then '(sent; its link is not kept)' else body end
         where id = $3 and delivered_at is null",
    )
    .bind(now)
    .bind(delivery)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// After a temporary failure: the next attempt at `next_attempt_at`, with the reason.
pub async fn retry_later(conn: &mut AnyConnection, id: &str, next_attempt_at: i64, error: &str) -> Result<(), Error> {
    sqlx::query(
        "update notifications set next_attempt_at = $1, last_error = $2 where id = $3 and delivered_at is null",
    )
    .bind(next_attempt_at)
    .bind(error)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// After a permanent failure: no more attempts; staff see it with the reason.
pub async fn park(conn: &mut AnyConnection, id: &str, error: &str, now: i64) -> Result<(), Error> {
    sqlx::query("update notifications set parked_at = $1, last_error = $2 where id = $3 and delivered_at is null")
        .bind(now)
        .bind(error)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn notifications_of(conn: &mut AnyConnection, organization_id: &str) -> Result<Vec<NotificationRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select {NOTIFICATION_COLUMNS} from notifications where organization_id = $1 order by created_at desc, id desc"
    ))
    .bind(organization_id)
    .fetch_all(conn)
    .await?)
}
