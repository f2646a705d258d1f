//! `POST /v1/usage/events`: a batch of usage events as a JSON array, `{"events": [...]}`, or NDJSON.
use app::api::error::{AppError, ErrorBody};
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::AppState;
use super::api_auth::ApiCaller;
use crate::metering::domain::usage::MAX_BATCH_EVENTS;
use crate::metering::usage::{self, EventOutcome};

/// 1,000 events of about 1 KiB each, with room for properties.
pub const INGEST_BODY_LIMIT: usize = 2 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/usage/events", post(ingest_events).layer(DefaultBodyLimit::max(INGEST_BODY_LIMIT)))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct IngestReply {
    accepted: usize,
    duplicates: usize,
    rejected: usize,
    results: Vec<IndexedOutcome>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct IndexedOutcome {
    index: usize,
    #[serde(flatten)]
    outcome: EventOutcome,
}

/// The body is a JSON array of events, `{"events": [...]}` or NDJSON; each event is
/// `{"id", "namespace", "metric", "quantity", "timestamp"}` and is answered on its own.
#[utoipa::path(post, path = "/v1/usage/events", tag = "usage", security(("api_key" = [])),
    request_body(content_type = "application/json", description = "Up to 1,000 events"),
    responses((status = 200, body = IngestReply), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, description = "The batch is malformed", body = ErrorBody),
        (status = 429, description = "Beyond the organization's ingestion quota: nothing was stored; send it again after Retry-After seconds", body = ErrorBody)))]
pub(super) async fn ingest_events(
    caller: ApiCaller,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IngestReply>, AppError> {
    if let Err(refused) =
        state.ingest_quotas.admit(&caller.organization_id, caller.ingest_events_per_second, state.db.clock.now_ms())
    {
        return Err(answer_refusal_late(refused).await);
    }
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge { limit: format!("{INGEST_BODY_LIMIT} bytes") },
        _ => AppError::malformed("body", rejection.body_text()),
    })?;
    let events = parse_batch(&headers, &body)?;
    if let Err(refused) = state.ingest_quotas.take(
        &caller.organization_id,
        caller.ingest_events_per_second,
        events.len(),
        state.db.clock.now_ms(),
    ) {
        return Err(answer_refusal_late(refused).await);
    }
    let batch =
        usage::check_batch(&state.db, &caller.organization_id, &events, state.metering.max_event_age_ms).await?;
    let outcomes = state.metering.writer.store(batch).await?;
    state.metering.ingested.notify_one();
    let count = |wanted: fn(&EventOutcome) -> bool| outcomes.iter().filter(|o| wanted(o)).count();
    Ok(Json(IngestReply {
        accepted: count(|o| matches!(o, EventOutcome::Accepted)),
        duplicates: count(|o| matches!(o, EventOutcome::Duplicate)),
        rejected: count(|o| matches!(o, EventOutcome::Rejected { .. })),
        results: outcomes.into_iter().enumerate().map(|(index, outcome)| IndexedOutcome { index, outcome }).collect(),
    }))
}

/// A refusal for the quota is answered after a pause: a client that ignores `Retry-After` and
/// sends again at once then waits on its own connection instead of taking the shared cores from
/// other customers' batches. The pause is far below the shortest `Retry-After` (a second).
async fn answer_refusal_late(refused: AppError) -> AppError {
    tokio::time::sleep(QUOTA_REFUSAL_PAUSE).await;
    refused
}

const QUOTA_REFUSAL_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);

/// `{"events": [...]}`: other fields are ignored.
#[derive(Deserialize)]
struct WrappedBatch<'a> {
    #[serde(borrow)]
    events: Option<&'a RawValue>,
}

/// The batch's events as JSON text, each checked on its own later: an event that is not an
/// object is refused alone, a body that is not JSON as a whole.
fn parse_batch<'a>(headers: &HeaderMap, body: &'a [u8]) -> Result<Vec<&'a RawValue>, AppError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let ndjson = content_type.starts_with("application/x-ndjson") || content_type.starts_with("application/ndjson");
    if !ndjson && !content_type.starts_with("application/json") {
        return Err(AppError::malformed("content-type", "send application/json or application/x-ndjson"));
    }
    let text = std::str::from_utf8(body).map_err(|_| AppError::malformed("body", "must be UTF-8"))?;
    let events = if ndjson {
        text.lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(n, line)| {
                serde_json::from_str(line).map_err(|e| AppError::malformed("body", format!("line {}: {e}", n + 1)))
            })
            .collect::<Result<Vec<&RawValue>, _>>()?
    } else {
        let whole: &RawValue = serde_json::from_str(text).map_err(|e| AppError::malformed("body", e.to_string()))?;
        let shape = "send an array of events, or {\"events\": [...]}";
        match whole.get().as_bytes().first() {
            Some(b'[') => serde_json::from_str(whole.get()).map_err(|e| AppError::malformed("body", e.to_string()))?,
            Some(b'{') => {
                let wrapped: WrappedBatch =
                    serde_json::from_str(whole.get()).map_err(|e| AppError::malformed("body", e.to_string()))?;
                match wrapped.events.map(|events| serde_json::from_str::<Vec<&RawValue>>(events.get())) {
                    Some(Ok(events)) => events,
                    _ => return Err(AppError::malformed("events", shape)),
                }
            }
            _ => return Err(AppError::malformed("body", shape)),
        }
    };
    if events.len() > MAX_BATCH_EVENTS {
        return Err(AppError::PayloadTooLarge { limit: format!("{MAX_BATCH_EVENTS} events per batch") });
    }
    if events.is_empty() {
        return Err(AppError::invalid("events", "the batch is empty"));
    }
    Ok(events)
}
