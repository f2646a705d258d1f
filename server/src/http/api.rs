//! The JSON API for machines, authenticated by API keys.
use app::api::dto::Namespace;
use app::api::dto::usage::UsageEstimate;
use app::api::error::AppError;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::AppState;
use super::api_auth::ApiCaller;
use super::api_json::ApiJson;
use crate::accounts::organizations;
use crate::billing::estimate::usage_estimate;
use crate::store::Db;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/namespaces", get(list_namespaces).post(create_namespace))
        .route("/v1/estimate", get(estimate))
}

/// The current period's cost so far and projected, per namespace; 404 without a plan.
async fn estimate(caller: ApiCaller, State(db): State<Db>) -> Result<Json<UsageEstimate>, AppError> {
    Ok(Json(usage_estimate(&db, &caller.organization_id).await?.ok_or(AppError::NotFound)?))
}

async fn list_namespaces(caller: ApiCaller, State(db): State<Db>) -> Result<Json<Vec<Namespace>>, AppError> {
    Ok(Json(organizations::list_namespaces(&db, &caller.organization_id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewNamespace {
    name: String,
}

async fn create_namespace(
    caller: ApiCaller,
    State(db): State<Db>,
    ApiJson(body): ApiJson<NewNamespace>,
) -> Result<(StatusCode, Json<Namespace>), AppError> {
    let actor = format!("api_key:{}", caller.key_id);
    let namespace = organizations::create_namespace(&db, &actor, &caller.organization_id, &body.name).await?;
    Ok((StatusCode::CREATED, Json(namespace)))
}
