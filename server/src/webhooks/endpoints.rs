//! The owners' side: registering endpoints, rotating their secrets, disabling and enabling them,
//! reading what was sent and sending a delivery again. Each change is in the audit log.
use std::collections::HashMap;

use app::api::dto::SessionUser;
use app::api::dto::spend::Choice;
use app::api::dto::webhooks::{ShownSecret, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhooksPage};
use app::api::error::AppError;
use serde_json::json;

use crate::accounts::db::audit::{AuditEntry, append_audit};
use crate::accounts::db::organizations::lock_organizations;
use crate::error::Error;
use crate::reader::display_time;
use crate::shared::ids::{IdKind, new_id};
use crate::store::Db;
use crate::webhooks::db::{self, AttemptRow, DeliveryRow, EndpointRow};
use crate::webhooks::domain::event_types::{EVENT_TYPES, parse_selection};
use crate::webhooks::domain::signature::new_secret;
use crate::webhooks::targets::TargetPolicy;

/// Enough for a production and a staging receiver per team; more is a mistake or abuse.
pub const MAX_ENDPOINTS: usize = 10;
const DELIVERIES_SHOWN: i64 = 20;
const ROTATION_OVERLAP_MS: i64 = 24 * 3_600_000;

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn webhooks_page(db: &Db, organization_id: &str, viewer: &SessionUser) -> Result<WebhooksPage, Error> {
    viewer.require_owner(organization_id)?;
    let mut conn = db.pool.acquire().await?;
    let endpoints = db::endpoints_of(&mut conn, organization_id).await?;
    let deliveries = db::recent_deliveries(&mut conn, organization_id, DELIVERIES_SHOWN).await?;
    let ids: Vec<String> = deliveries.iter().map(|d| d.id.clone()).collect();
    let mut attempts: HashMap<String, Vec<AttemptRow>> = HashMap::new();
    for attempt in db::attempts_of(&mut conn, &ids).await? {
        attempts.entry(attempt.delivery_id.clone()).or_default().push(attempt);
    }
    let now = db.clock.now_ms();
    let mut by_endpoint: HashMap<String, Vec<WebhookDelivery>> = HashMap::new();
    for delivery in deliveries {
        let tried = attempts.remove(&delivery.id).unwrap_or_default();
        by_endpoint.entry(delivery.endpoint_id.clone()).or_default().push(delivery_view(delivery, tried));
    }
    Ok(WebhooksPage {
        organization_id: organization_id.to_owned(),
        endpoints: endpoints
            .into_iter()
            .map(|endpoint| {
                let deliveries = by_endpoint.remove(&endpoint.id).unwrap_or_default();
                endpoint_view(endpoint, deliveries, now)
            })
            .collect(),
        event_types: EVENT_TYPES
            .iter()
            .map(|(value, label)| Choice { value: (*value).to_owned(), label: (*label).to_owned() })
            .collect(),
        max_endpoints: MAX_ENDPOINTS,
    })
}

fn endpoint_view(endpoint: EndpointRow, deliveries: Vec<WebhookDelivery>, now: i64) -> WebhookEndpoint {
    WebhookEndpoint {
        enabled: endpoint.disabled_at.is_none(),
        disabled_reason: endpoint.disabled_reason,
        created: display_time(endpoint.created_at),
        previous_secret_until: endpoint.previous_secret_until.filter(|until| *until > now).map(display_time),
        event_types: endpoint.event_types.split(' ').map(str::to_owned).collect(),
        url: endpoint.url,
        id: endpoint.id,
        deliveries,
    }
}

fn delivery_view(delivery: DeliveryRow, attempts: Vec<AttemptRow>) -> WebhookDelivery {
    WebhookDelivery {
        next_attempt: (delivery.status == "pending").then_some(delivery.next_attempt_at).flatten().map(display_time),
        created: display_time(delivery.created_at),
        attempts: attempts
            .into_iter()
            .map(|attempt| WebhookAttempt {
                at: display_time(attempt.attempted_at),
                succeeded: attempt.error.is_none(),
                result: attempt.error.unwrap_or_else(|| format!("HTTP {}", attempt.status_code.unwrap_or_default())),
                duration_ms: attempt.duration_ms,
            })
            .collect(),
        id: delivery.id,
        event_id: delivery.event_id,
        event_type: delivery.event_type,
        status: delivery.status,
    }
}

pub async fn add_endpoint(
    db: &Db,
    policy: &TargetPolicy,
    actor: &SessionUser,
    organization_id: &str,
    url: &str,
    event_types: &str,
) -> Result<ShownSecret, Error> {
    actor.require_owner(organization_id)?;
    let event_types = parse_selection(event_types).map_err(|reason| AppError::invalid("event_types", reason))?;
    let url = policy.check(url).await.map_err(|reason| AppError::invalid("url", reason))?;
    let now = db.clock.now_ms();
    let endpoint = EndpointRow {
        id: new_id(IdKind::WebhookEndpoint, now),
        organization_id: organization_id.to_owned(),
        url: url.to_string(),
        event_types: event_types.join(" "),
        secret: new_secret(),
        previous_secret: None,
        previous_secret_until: None,
        disabled_at: None,
        disabled_reason: None,
        failing_since: None,
        created_at: now,
        created_by: actor.user_id.clone(),
    };
    let mut tx = db.begin().await?;
    // Two registrations at once count one after the other.
    lock_organizations(&mut tx, &[organization_id.to_owned()]).await?;
    if db::endpoints_of(&mut tx, organization_id).await?.len() >= MAX_ENDPOINTS {
        return Err(AppError::invalid("url", format!("an organization has at most {MAX_ENDPOINTS} endpoints")).into());
    }
    db::insert_endpoint(&mut tx, &endpoint).await?;
    let after = json!({ "url": endpoint.url, "event_types": endpoint.event_types });
    audit(&mut tx, organization_id, actor, "webhook_endpoint.add", &endpoint.id, Some(after), now).await?;
    tx.commit().await?;
    let page = webhooks_page(db, organization_id, actor).await?;
    Ok(ShownSecret { endpoint_id: endpoint.id, secret: endpoint.secret, page })
}

pub async fn rotate_secret(
    db: &Db,
    actor: &SessionUser,
    organization_id: &str,
    endpoint_id: &str,
) -> Result<ShownSecret, Error> {
    actor.require_owner(organization_id)?;
    let now = db.clock.now_ms();
    let secret = new_secret();
    let mut tx = db.begin().await?;
    let endpoint = db::endpoint(&mut tx, organization_id, endpoint_id).await?.ok_or(AppError::NotFound)?;
    // The secret before the last rotation was promised its day; a second rotation would end it early.
    if let Some(until) = endpoint.previous_secret_until.filter(|until| *until > now) {
        let message = format!(
            "the secret was rotated less than a day ago; rotate again once the secret before it stops signing, {}",
            display_time(until)
        );
        return Err(AppError::conflict("endpoint_id", message).into());
    }
    db::rotate_secret(&mut tx, &endpoint.id, &secret, now + ROTATION_OVERLAP_MS).await?;
    audit(&mut tx, organization_id, actor, "webhook_endpoint.rotate_secret", &endpoint.id, None, now).await?;
    tx.commit().await?;
    let page = webhooks_page(db, organization_id, actor).await?;
    Ok(ShownSecret { endpoint_id: endpoint.id, secret, page })
}

pub async fn set_enabled(
    db: &Db,
    actor: &SessionUser,
    organization_id: &str,
    endpoint_id: &str,
    enabled: bool,
) -> Result<WebhooksPage, Error> {
    actor.require_owner(organization_id)?;
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    let endpoint = db::endpoint(&mut tx, organization_id, endpoint_id).await?.ok_or(AppError::NotFound)?;
    let disabled = (!enabled).then_some((now, "disabled by an owner"));
    if db::set_disabled(&mut tx, &endpoint.id, disabled).await? {
        let action = if enabled { "webhook_endpoint.enable" } else { "webhook_endpoint.disable" };
        audit(&mut tx, organization_id, actor, action, &endpoint.id, None, now).await?;
    }
    tx.commit().await?;
    webhooks_page(db, organization_id, actor).await
}

pub async fn send_again(
    db: &Db,
    actor: &SessionUser,
    organization_id: &str,
    delivery_id: &str,
) -> Result<WebhooksPage, Error> {
    actor.require_owner(organization_id)?;
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    match db::delivery_status(&mut tx, organization_id, delivery_id).await?.as_deref() {
        None => return Err(AppError::NotFound.into()),
        Some("pending") => {
            let message =
                "it is still being sent: it is tried again on its schedule, and can be sent again once settled";
            return Err(AppError::conflict("delivery_id", message).into());
        }
        Some(_) => {}
    }
    if !db::send_again(&mut tx, organization_id, delivery_id, now).await? {
        return Err(AppError::conflict("delivery_id", "it was just sent again").into());
    }
    audit(&mut tx, organization_id, actor, "webhook_delivery.send_again", delivery_id, None, now).await?;
    tx.commit().await?;
    webhooks_page(db, organization_id, actor).await
}

async fn audit(
    conn: &mut sqlx::AnyConnection,
    organization_id: &str,
    actor: &SessionUser,
    action: &str,
    target: &str,
    after: Option<serde_json::Value>,
    now: i64,
) -> Result<(), Error> {
    let entry = AuditEntry {
        organization_id: Some(organization_id),
        actor: &actor.user_id,
        action,
        target,
        before: None,
        after,
        reason: None,
    };
    append_audit(conn, entry, now).await
}
