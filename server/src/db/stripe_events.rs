//! The inbox of Stripe webhook events.
use sqlx::AnyConnection;

use crate::error::Error;

pub struct ReceivedEvent<'a> {
    pub id: &'a str,
    pub event_type: &'a str,
    pub created: i64,
    pub livemode: bool,
    pub payload: &'a str,
    pub received_at: i64,
}

/// Stores the event unless its id is already in the inbox. Returns whether it was new.
pub async fn insert_event(conn: &mut AnyConnection, event: &ReceivedEvent<'_>) -> Result<bool, Error> {
    let inserted = sqlx::query(
        "insert into stripe_events (id, event_type, created, livemode, payload, received_at, status, next_attempt_at)
         values ($1, $2, $3, $4, $5, $6, 'pending', $6) on conflict (id) do nothing",
    )
    .bind(event.id)
    .bind(event.event_type)
    .bind(event.created)
    .bind(i64::from(event.livemode))
    .bind(event.payload)
    .bind(event.received_at)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}
