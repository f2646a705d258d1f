//! Announcing an event: written in the transaction of its cause, as one delivery per endpoint
//! that receives its type, sent after commit. An organization without such an endpoint stores
//! nothing, so a billing run over thousands of customers pays one query for this.
use std::collections::HashSet;

use serde_json::{Value, json};
use sqlx::AnyConnection;

use crate::error::Error;
use crate::shared::ids::{IdKind, new_id};
use crate::shared::time::display_rfc3339;
use crate::webhooks::db::{NewDelivery, NewEvent, enabled_endpoints_of, insert_deliveries, insert_events};
use crate::webhooks::domain::event_types::API_VERSION;

/// The statements of a billing run stay under both databases' limits on bound values.
const EVENTS_PER_STATEMENT: usize = 500;

pub struct Announcement {
    pub organization_id: String,
    pub event_type: &'static str,
    /// With the type, unique: announcing the same thing again sends nothing more.
    pub reference: String,
    /// The event's own fields, under `data` in the payload.
    pub data: Value,
}

pub async fn announce(conn: &mut AnyConnection, announcement: Announcement, now: i64) -> Result<(), Error> {
    announce_many(conn, &[announcement], now).await
}

pub async fn announce_many(conn: &mut AnyConnection, announcements: &[Announcement], now: i64) -> Result<(), Error> {
    if announcements.is_empty() {
        return Ok(());
    }
    let organizations: Vec<String> =
        announcements.iter().map(|a| a.organization_id.clone()).collect::<HashSet<_>>().into_iter().collect();
    let endpoints = enabled_endpoints_of(conn, &organizations).await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    for chunk in announcements.chunks(EVENTS_PER_STATEMENT) {
        let events: Vec<NewEvent> = chunk
            .iter()
            .filter(|a| endpoints.iter().any(|e| e.organization_id == a.organization_id && e.receives(a.event_type)))
            .map(|a| {
                let id = new_id(IdKind::WebhookEvent, now);
                let payload = json!({
                    "id": id,
                    "type": a.event_type,
                    "api_version": API_VERSION,
                    "timestamp": display_rfc3339(now),
                    "organization_id": a.organization_id,
                    "data": a.data,
                });
                NewEvent {
                    id,
                    organization_id: a.organization_id.clone(),
                    event_type: a.event_type,
                    reference: a.reference.clone(),
                    payload: payload.to_string(),
                }
            })
            .collect();
        let stored: HashSet<String> = insert_events(conn, &events, now).await?.into_iter().collect();
        let deliveries: Vec<NewDelivery> = events
            .iter()
            .filter(|event| stored.contains(&event.id))
            .flat_map(|event| {
                endpoints
                    .iter()
                    .filter(|e| e.organization_id == event.organization_id && e.receives(event.event_type))
                    .map(|endpoint| NewDelivery {
                        id: new_id(IdKind::WebhookDelivery, now),
                        event_id: event.id.clone(),
                        endpoint_id: endpoint.id.clone(),
                        organization_id: event.organization_id.clone(),
                    })
            })
            .collect();
        for batch in deliveries.chunks(EVENTS_PER_STATEMENT) {
            insert_deliveries(conn, batch, now).await?;
        }
    }
    Ok(())
}
