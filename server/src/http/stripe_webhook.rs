//! `POST /stripe/webhook`: verify Stripe's signature on the raw body, store the event once by its
//! id, answer at once. Processing happens later, from the inbox.
use app::api::error::AppError;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::Error;
use crate::http::AppState;
use crate::payments::db::stripe_events::{ReceivedEvent, insert_event};
use crate::payments::domain::stripe_signature::verify;

/// Stripe's events are far smaller; anything larger is not from Stripe.
const WEBHOOK_BODY_LIMIT: usize = 512 * 1024;
const MAX_EVENT_ID_LEN: usize = 255;

pub fn routes() -> Router<AppState> {
    Router::new().route("/stripe/webhook", post(receive).layer(DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT)))
}

/// The fields every Stripe event has; the rest is kept as sent.
#[derive(Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    created: i64,
    livemode: bool,
}

async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Json<Value>, AppError> {
    let Some(secret) = state.stripe_webhook_secret.as_deref() else {
        return Err(AppError::NotFound);
    };
    let now = state.db.clock.now_ms();
    let header = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    verify(header, &body, secret.expose(), now / 1000)
        .map_err(|error| AppError::malformed("stripe-signature", error.to_string()))?;
    let payload = std::str::from_utf8(&body).map_err(|_| AppError::malformed("body", "is not UTF-8"))?;
    let envelope: Envelope = serde_json::from_str(payload)
        .map_err(|error| AppError::malformed("body", format!("not a Stripe event: {error}")))?;
    if envelope.id.is_empty() || envelope.id.len() > MAX_EVENT_ID_LEN {
        return Err(AppError::malformed("id", format!("must be 1 to {MAX_EVENT_ID_LEN} characters")));
    }
    let event = ReceivedEvent {
        id: &envelope.id,
        event_type: &envelope.event_type,
        created: envelope.created,
        livemode: envelope.livemode,
        payload,
        received_at: now,
    };
    let mut conn = state.db.pool.acquire().await.map_err(Error::from)?;
    let new = insert_event(&mut conn, &event).await?;
    tracing::info!(event = %envelope.id, r#type = %envelope.event_type, new, "stripe event received");
    Ok(Json(json!({ "received": true, "duplicate": !new })))
}
