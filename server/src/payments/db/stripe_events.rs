//! The inbox of Stripe webhook events.
use sqlx::AnyConnection;

use crate::error::Error;
use crate::payments::domain::status::InboxStatus;

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

/// Events whose turn has come, oldest Stripe time first.
pub async fn due_events(conn: &mut AnyConnection, now: i64, limit: i64) -> Result<Vec<String>, Error> {
    Ok(sqlx::query_scalar(
        "select id from stripe_events where status in ('pending', 'failed') and next_attempt_at <= $1
         order by created, received_at limit $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedEvent {
    pub id: String,
    pub event_type: String,
    pub created: i64,
    pub payload: String,
    pub attempts: i64,
    pub received_at: i64,
}

/// Takes one event for processing until `lease_until` (its next attempt time doubles as the
/// lease): None when another worker took it first or it is settled.
pub async fn claim_event(
    conn: &mut AnyConnection,
    id: &str,
    now: i64,
    lease_until: i64,
) -> Result<Option<ClaimedEvent>, Error> {
    Ok(sqlx::query_as(
        "update stripe_events set attempts = attempts + 1, next_attempt_at = $1
         where id = $2 and status in ('pending', 'failed') and next_attempt_at <= $3
         returning id, event_type, created, payload, attempts, received_at",
    )
    .bind(lease_until)
    .bind(id)
    .bind(now)
    .fetch_optional(conn)
    .await?)
}

pub struct Settlement<'a> {
    /// Processed, ignored, failed (with its next attempt) or parked.
    pub status: InboxStatus,
    pub error: Option<&'a str>,
    pub next_attempt_at: i64,
    /// The customer the event turned out to be about, when it is one of ours.
    pub organization_id: Option<&'a str>,
}

/// Records how processing ended.
pub async fn settle_event(
    conn: &mut AnyConnection,
    id: &str,
    settlement: &Settlement<'_>,
    now: i64,
) -> Result<(), Error> {
    sqlx::query(
        "update stripe_events set status = $1, last_error = $2, next_attempt_at = $3,
             processed_at = case when $1 in ('processed', 'ignored') then $4 else processed_at end,
             organization_id = coalesce($6, organization_id)
         where id = $5",
    )
    .bind(settlement.status.as_str())
    .bind(settlement.error)
    .bind(settlement.next_attempt_at)
    .bind(now)
    .bind(id)
    .bind(settlement.organization_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Puts an event back in line to run at once (`server webhooks replay`), whatever its status.
pub async fn requeue(conn: &mut AnyConnection, id: &str, now: i64) -> Result<bool, Error> {
    let updated =
        sqlx::query("update stripe_events set status = 'pending', next_attempt_at = $1, attempts = 0 where id = $2")
            .bind(now)
            .bind(id)
            .execute(conn)
            .await?;
    Ok(updated.rows_affected() == 1)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventSummary {
    pub id: String,
    pub event_type: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub received_at: i64,
}

pub async fn event_summary(conn: &mut AnyConnection, id: &str) -> Result<Option<EventSummary>, Error> {
    Ok(sqlx::query_as(
        "select id, event_type, status, attempts, last_error, received_at from stripe_events where id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Events that need a person: parked after their retries, newest first.
pub async fn parked_events(conn: &mut AnyConnection, limit: i64) -> Result<Vec<EventSummary>, Error> {
    Ok(sqlx::query_as(
        "select id, event_type, status, attempts, last_error, received_at from stripe_events
         where status = 'parked' order by received_at desc limit $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// The Stripe events about one organization, newest first.
pub async fn events_of(
    conn: &mut AnyConnection,
    organization_id: &str,
    limit: i64,
) -> Result<Vec<EventSummary>, Error> {
    Ok(sqlx::query_as(
        "select id, event_type, status, attempts, last_error, received_at from stripe_events
         where organization_id = $1 order by received_at desc limit $2",
    )
    .bind(organization_id)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

pub async fn parked_count(conn: &mut AnyConnection) -> Result<i64, Error> {
    Ok(sqlx::query_scalar("select count(*) from stripe_events where status = 'parked'").fetch_one(conn).await?)
}
