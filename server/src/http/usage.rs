//! Usage for people: a CSV download and a live stream of "your totals changed" notices.
use std::convert::Infallible;
use std::time::Duration;

use app::api::backend::{WROTE_COOKIE, cookie_value};
use app::api::dto::usage::{UsageRange, UsageWindow};
use app::api::error::AppError;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures_util::stream::{Stream, StreamExt};
use serde::Deserialize;
use tokio_stream::wrappers::BroadcastStream;

use super::AppState;
use super::session_auth::LoggedIn;
use crate::portal::usage_page::usage_csv;
use crate::store::rollup_derived::EVERY_ORGANIZATION;

pub fn routes() -> Router<AppState> {
    Router::new().route("/orgs/{org}/usage.csv", get(download_csv)).route("/orgs/{org}/usage/live", get(live_updates))
}

#[derive(Deserialize)]
struct CsvQuery {
    metric: Option<String>,
    range: Option<String>,
    from: Option<String>,
    to: Option<String>,
    /// A dimension of the metric to break the rows down by (`action_type`).
    by: Option<String>,
}

async fn download_csv(
    LoggedIn(user): LoggedIn,
    State(state): State<AppState>,
    Path(organization_id): Path<String>,
    Query(query): Query<CsvQuery>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, AppError> {
    user.role_in(&organization_id)?;
    // A browser that has just written reads the primary (see `WROTE_COOKIE`).
    let db = if cookie_value(&headers, WROTE_COOKIE).is_some() { state.db.clone() } else { state.db.may_lag() };
    let metric = query.metric.unwrap_or_else(|| "actions".to_owned());
    let range = UsageRange::from_key(query.range.as_deref().unwrap_or("24h"));
    let window = UsageWindow { range, from: query.from, to: query.to };
    let csv = usage_csv(&db, &organization_id, &metric, &window, query.by.as_deref()).await?;
    let file = format!("attachment; filename=\"usage-{metric}-{}.csv\"", range.key());
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, file)], csv))
}

/// Server-sent events: one `rollup` event each time the organization's hourly totals change.
async fn live_updates(
    LoggedIn(user): LoggedIn,
    State(state): State<AppState>,
    Path(organization_id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    user.role_in(&organization_id)?;
    let updates = BroadcastStream::new(state.metering.rolled_up.subscribe()).filter_map(move |changed| {
        let mine = match changed {
            Ok(org) => org == organization_id || org == EVERY_ORGANIZATION,
            // Missed notices mean "something changed": refreshing once is always right.
            Err(_) => true,
        };
        std::future::ready(mine.then(|| Ok(Event::default().event("rollup").data("changed"))))
    });
    Ok(Sse::new(updates).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
