//! Webhook endpoints, the events announced to them, their deliveries and every attempt.
use sqlx::{AnyConnection, FromRow};

use crate::error::Error;
use crate::store::Dialect;
use crate::store::bulk::{Value, bind_all, bind_all_as, list_placeholders, row_placeholders};

#[derive(Debug, Clone, FromRow)]
pub struct EndpointRow {
    pub id: String,
    pub organization_id: String,
    pub url: String,
    pub event_types: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<i64>,
    pub disabled_at: Option<i64>,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<i64>,
    pub created_at: i64,
    pub created_by: String,
}

impl EndpointRow {
    pub fn receives(&self, event_type: &str) -> bool {
        self.event_types.split(' ').any(|subscribed| subscribed == event_type)
    }

    /// The secrets that sign at `now`: the current one, and the one before it for a day after a
    /// rotation, so a receiver can switch over without missing a delivery.
    pub fn signing_secrets(&self, now: i64) -> Vec<&str> {
        let mut secrets = vec![self.secret.as_str()];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_secret_until)
            && now < until
        {
            secrets.push(previous);
        }
        secrets
    }
}

const ENDPOINT_COLUMNS: &str = "id, organization_id, url, event_types, secret, previous_secret, previous_secret_until,
    disabled_at, disabled_reason, failing_since, created_at, created_by";

pub async fn insert_endpoint(conn: &mut AnyConnection, endpoint: &EndpointRow) -> Result<(), Error> {
    sqlx::query(&format!(
        "insert into webhook_endpoints ({ENDPOINT_COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    ))
    .bind(&endpoint.id)
    .bind(&endpoint.organization_id)
    .bind(&endpoint.url)
    .bind(&endpoint.event_types)
    .bind(&endpoint.secret)
    .bind(&endpoint.previous_secret)
    .bind(endpoint.previous_secret_until)
    .bind(endpoint.disabled_at)
    .bind(&endpoint.disabled_reason)
    .bind(endpoint.failing_since)
    .bind(endpoint.created_at)
    .bind(&endpoint.created_by)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn endpoints_of(conn: &mut AnyConnection, organization_id: &str) -> Result<Vec<EndpointRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select {ENDPOINT_COLUMNS} from webhook_endpoints where organization_id = $1 order by created_at, id"
    ))
    .bind(organization_id)
    .fetch_all(conn)
    .await?)
}

pub async fn endpoint(
    conn: &mut AnyConnection,
    organization_id: &str,
    endpoint_id: &str,
) -> Result<Option<EndpointRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select {ENDPOINT_COLUMNS} from webhook_endpoints where organization_id = $1 and id = $2"
    ))
    .bind(organization_id)
    .bind(endpoint_id)
    .fetch_optional(conn)
    .await?)
}

/// The enabled endpoints of these organizations.
pub async fn enabled_endpoints_of(
    conn: &mut AnyConnection,
    organization_ids: &[String],
) -> Result<Vec<EndpointRow>, Error> {
    if organization_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "select {ENDPOINT_COLUMNS} from webhook_endpoints
         where disabled_at is null and organization_id in ({})",
        list_placeholders(conn, 1, organization_ids.len())
    );
    let values: Vec<Value> = organization_ids.iter().cloned().map(Value::Text).collect();
    Ok(bind_all_as(sqlx::query_as(&sql), &values).fetch_all(conn).await?)
}

pub async fn rotate_secret(
    conn: &mut AnyConnection,
    endpoint_id: &str,
    secret: &str,
    previous_until: i64,
) -> Result<(), Error> {
    sqlx::query(
        "update webhook_endpoints set previous_secret = secret, previous_secret_until = $1, secret = $2 where id = $3",
    )
    .bind(previous_until)
    .bind(secret)
    .bind(endpoint_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Disables (with the reason) or enables an endpoint; enabling forgets its failures. Answers
/// whether it changed.
pub async fn set_disabled(
    conn: &mut AnyConnection,
    endpoint_id: &str,
    disabled: Option<(i64, &str)>,
) -> Result<bool, Error> {
    let changed = match disabled {
        Some((at, reason)) => {
            sqlx::query(
                "update webhook_endpoints set disabled_at = $1, disabled_reason = $2
                 where id = $3 and disabled_at is null",
            )
            .bind(at)
            .bind(reason)
            .bind(endpoint_id)
            .execute(conn)
            .await?
        }
        None => {
            sqlx::query(
                "update webhook_endpoints set disabled_at = null, disabled_reason = null, failing_since = null
                 where id = $1 and disabled_at is not null",
            )
            .bind(endpoint_id)
            .execute(conn)
            .await?
        }
    };
    Ok(changed.rows_affected() == 1)
}

/// After an attempt: a success clears the endpoint's failing streak, a failure starts one.
/// Answers when the streak began (`None` after a success).
pub async fn note_outcome(
    conn: &mut AnyConnection,
    endpoint_id: &str,
    succeeded: bool,
    now: i64,
) -> Result<Option<i64>, Error> {
    if succeeded {
        sqlx::query("update webhook_endpoints set failing_since = null where id = $1")
            .bind(endpoint_id)
            .execute(conn)
            .await?;
        return Ok(None);
    }
    Ok(sqlx::query_scalar(
        "update webhook_endpoints set failing_since = coalesce(failing_since, $1) where id = $2 returning failing_since",
    )
    .bind(now)
    .bind(endpoint_id)
    .fetch_optional(conn)
    .await?
    .flatten())
}

pub struct NewEvent {
    pub id: String,
    pub organization_id: String,
    pub event_type: &'static str,
    pub reference: String,
    pub payload: String,
}

/// Stores the events not stored before (by type and reference); answers the ids it stored.
pub async fn insert_events(conn: &mut AnyConnection, events: &[NewEvent], now: i64) -> Result<Vec<String>, Error> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "insert into webhook_events (id, organization_id, event_type, reference, payload, created_at) values {}
         on conflict (event_type, reference) do nothing returning id",
        row_placeholders(conn, 1, events.len(), 6)
    );
    let values: Vec<Value> = events
        .iter()
        .flat_map(|e| {
            [
                Value::Text(e.id.clone()),
                Value::Text(e.organization_id.clone()),
                Value::Text(e.event_type.to_owned()),
                Value::Text(e.reference.clone()),
                Value::Text(e.payload.clone()),
                Value::Int(now),
            ]
        })
        .collect();
    Ok(crate::store::bulk::bind_all_scalar(sqlx::query_scalar(&sql), &values).fetch_all(conn).await?)
}

pub struct NewDelivery {
    pub id: String,
    pub event_id: String,
    pub endpoint_id: String,
    pub organization_id: String,
}

/// Queues deliveries, due at once.
pub async fn insert_deliveries(conn: &mut AnyConnection, deliveries: &[NewDelivery], now: i64) -> Result<(), Error> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "insert into webhook_deliveries (id, event_id, endpoint_id, organization_id, status, attempts, next_attempt_at,
             created_at) values {} on conflict (event_id, endpoint_id) do nothing",
        row_placeholders(conn, 1, deliveries.len(), 8)
    );
    let values: Vec<Value> = deliveries
        .iter()
        .flat_map(|d| {
            [
                Value::Text(d.id.clone()),
                Value::Text(d.event_id.clone()),
                Value::Text(d.endpoint_id.clone()),
                Value::Text(d.organization_id.clone()),
                Value::Text("pending".to_owned()),
                Value::Int(0),
                Value::Int(now),
                Value::Int(now),
            ]
        })
        .collect();
    bind_all(sqlx::query(&sql), &values).execute(conn).await?;
    Ok(())
}

/// A claimed delivery with what sending it needs.
#[derive(Debug, Clone, FromRow)]
pub struct DueDelivery {
    pub id: String,
    pub attempts: i64,
    pub created_at: i64,
    pub event_id: String,
    pub event_type: String,
    pub payload: String,
    pub organization_id: String,
    pub endpoint_id: String,
}

/// Whether any delivery is due: read without a write transaction, so an idle job takes no write
/// lock (SQLite has one writer, and ingestion is it).
pub async fn any_due(conn: &mut AnyConnection, now: i64) -> Result<bool, Error> {
    let due: Option<String> = sqlx::query_scalar(
        "select id from webhook_deliveries where next_attempt_at <= $1 and status = 'pending' limit 1",
    )
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(due.is_some())
}

/// Leases up to `limit` deliveries due at `now` until `lease_until`, counting the attempt: at
/// most one per endpoint, and none to the endpoints in `busy` (this instance is sending to them),
/// so one slow endpoint occupies one sender. PostgreSQL skips rows another instance has locked;
/// a lease that lapses (a crash mid-send) makes its delivery due again.
pub async fn claim_due(
    conn: &mut AnyConnection,
    now: i64,
    lease_until: i64,
    limit: i64,
    busy: &[String],
) -> Result<Vec<DueDelivery>, Error> {
    let skip_locked = if Dialect::of(conn) == Dialect::Sqlite { "" } else { "for update skip locked" };
    // Numbered in the order they appear: SQLite numbers `$n` names by first appearance.
    let not_busy = if busy.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = (0..busy.len()).map(|i| format!("${}", 3 + i)).collect();
        format!("and endpoint_id not in ({})", names.join(", "))
    };
    let limit_name = format!("${}", 3 + busy.len());
    // The outer conditions are checked again on the row as it is when locked, so a delivery
    // another instance claimed in the meantime is not claimed twice.
    let sql = format!(
        "update webhook_deliveries set next_attempt_at = $1, attempts = attempts + 1
         where id in (
             select id from webhook_deliveries where id in (
                 select id from (
                     select id, next_attempt_at,
                         row_number() over (partition by endpoint_id order by next_attempt_at, id) as place
                     from webhook_deliveries
                     where status = 'pending' and next_attempt_at <= $2 {not_busy}
                 ) as due
                 where place = 1
                 order by next_attempt_at
                 limit {limit_name}
             ) {skip_locked}
         )
         and status = 'pending' and next_attempt_at <= $2
         returning id"
    );
    let mut query = sqlx::query_scalar(&sql).bind(lease_until).bind(now);
    for endpoint_id in busy {
        query = query.bind(endpoint_id);
    }
    let claimed: Vec<String> = query.bind(limit).fetch_all(&mut *conn).await?;
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "select d.id, d.attempts, d.created_at, e.id as event_id, e.event_type, e.payload, d.organization_id,
             d.endpoint_id
         from webhook_deliveries d join webhook_events e on e.id = d.event_id
         where d.id in ({})",
        list_placeholders(conn, 1, claimed.len())
    );
    let values: Vec<Value> = claimed.into_iter().map(Value::Text).collect();
    Ok(bind_all_as(sqlx::query_as(&sql), &values).fetch_all(conn).await?)
}

pub struct Attempt<'a> {
    pub id: String,
    pub delivery_id: &'a str,
    pub attempted_at: i64,
    pub status_code: Option<i64>,
    pub error: Option<&'a str>,
    pub duration_ms: i64,
}

pub async fn insert_attempt(conn: &mut AnyConnection, attempt: &Attempt<'_>) -> Result<(), Error> {
    sqlx::query(
        "insert into webhook_attempts (id, delivery_id, attempted_at, status_code, error, duration_ms)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&attempt.id)
    .bind(attempt.delivery_id)
    .bind(attempt.attempted_at)
    .bind(attempt.status_code)
    .bind(attempt.error)
    .bind(attempt.duration_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// Where a delivery stands after an attempt: `next_attempt_at` for a retry, `None` once settled.
pub struct Settlement<'a> {
    pub status: &'a str,
    pub next_attempt_at: Option<i64>,
    pub status_code: Option<i64>,
    pub error: Option<&'a str>,
}

/// Records where the attempt that claimed the delivery as its `attempt`th left it. Answers false,
/// changing nothing, when that claim is no longer the delivery's (its lease lapsed and another
/// attempt took it): the later attempt's outcome stands.
pub async fn settle(
    conn: &mut AnyConnection,
    delivery_id: &str,
    attempt: i64,
    settlement: &Settlement<'_>,
    now: i64,
) -> Result<bool, Error> {
    let settled_at = settlement.next_attempt_at.is_none().then_some(now);
    let changed = sqlx::query(
        "update webhook_deliveries set status = $1, next_attempt_at = $2, settled_at = $3, last_status_code = $4,
             last_error = $5
         where id = $6 and attempts = $7 and status = 'pending'",
    )
    .bind(settlement.status)
    .bind(settlement.next_attempt_at)
    .bind(settled_at)
    .bind(settlement.status_code)
    .bind(settlement.error)
    .bind(delivery_id)
    .bind(attempt)
    .execute(conn)
    .await?;
    Ok(changed.rows_affected() == 1)
}

/// `pending`, `delivered` or `failed`; `None` when the organization has no such delivery.
pub async fn delivery_status(
    conn: &mut AnyConnection,
    organization_id: &str,
    delivery_id: &str,
) -> Result<Option<String>, Error> {
    Ok(sqlx::query_scalar("select status from webhook_deliveries where id = $1 and organization_id = $2")
        .bind(delivery_id)
        .bind(organization_id)
        .fetch_optional(conn)
        .await?)
}

/// Makes a settled delivery (delivered or failed) due again now. Answers false for one still
/// pending: it is sent on its schedule, and may be in flight this moment.
pub async fn send_again(
    conn: &mut AnyConnection,
    organization_id: &str,
    delivery_id: &str,
    now: i64,
) -> Result<bool, Error> {
    let changed = sqlx::query(
        "update webhook_deliveries set status = 'pending', next_attempt_at = $1, settled_at = null
         where id = $2 and organization_id = $3 and status <> 'pending'",
    )
    .bind(now)
    .bind(delivery_id)
    .bind(organization_id)
    .execute(conn)
    .await?;
    Ok(changed.rows_affected() == 1)
}

#[derive(Debug, Clone, FromRow)]
pub struct DeliveryRow {
    pub id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub event_type: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub created_at: i64,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
}

/// The newest `limit` deliveries to each of the organization's endpoints.
pub async fn recent_deliveries(
    conn: &mut AnyConnection,
    organization_id: &str,
    limit: i64,
) -> Result<Vec<DeliveryRow>, Error> {
    Ok(sqlx::query_as(
        "select id, endpoint_id, event_id, event_type, status, attempts, next_attempt_at, created_at,
             last_status_code, last_error
         from (select d.id, d.endpoint_id, d.event_id, e.event_type, d.status, d.attempts, d.next_attempt_at,
                   d.created_at, d.last_status_code, d.last_error,
                   row_number() over (partition by d.endpoint_id order by d.created_at desc, d.id desc) as place
               from webhook_deliveries d join webhook_events e on e.id = d.event_id
               where d.organization_id = $1) as ranked
         where place <= $2
         order by created_at desc, id desc",
    )
    .bind(organization_id)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

#[derive(Debug, Clone, FromRow)]
pub struct AttemptRow {
    pub delivery_id: String,
    pub attempted_at: i64,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

pub async fn attempts_of(conn: &mut AnyConnection, delivery_ids: &[String]) -> Result<Vec<AttemptRow>, Error> {
    if delivery_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "select delivery_id, attempted_at, status_code, error, duration_ms from webhook_attempts
         where delivery_id in ({}) order by attempted_at, id",
        list_placeholders(conn, 1, delivery_ids.len())
    );
    let values: Vec<Value> = delivery_ids.iter().cloned().map(Value::Text).collect();
    Ok(bind_all_as(sqlx::query_as(&sql), &values).fetch_all(conn).await?)
}
