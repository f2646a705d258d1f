//! The JSON API for machines, authenticated by API keys.
use app::api::dto::Namespace;
use app::api::dto::machine::{InvoiceFigures, UsageTotals};
use app::api::dto::usage::UsageEstimate;
use app::api::error::AppError;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::AppState;
use super::api_auth::ApiCaller;
use super::api_json::ApiJson;
use crate::accounts::organizations;
use crate::billing::estimate::usage_estimate;
use crate::portal::machine_api::{UsageQuestion, invoice_list, invoice_with_lines, usage_totals};
use crate::store::Db;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/namespaces", get(list_namespaces).post(create_namespace))
        .route("/v1/estimate", get(estimate))
        .route("/v1/usage", get(usage))
        .route("/v1/invoices", get(list_invoices))
        .route("/v1/invoices/{invoice_id}", get(invoice))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageParams {
    metric: Option<String>,
    namespace: Option<String>,
    from: Option<String>,
    to: Option<String>,
    granularity: Option<String>,
}

/// Rolled-up totals of a metric per namespace and hour or day, with the watermark.
async fn usage(
    caller: ApiCaller,
    State(db): State<Db>,
    params: Result<Query<UsageParams>, QueryRejection>,
) -> Result<Json<UsageTotals>, AppError> {
    let Query(params) = params.map_err(|rejection| AppError::invalid("query", rejection.body_text()))?;
    let question = UsageQuestion {
        metric: required(&params.metric, "metric")?,
        namespace: params.namespace.as_deref(),
        from: required(&params.from, "from")?,
        to: required(&params.to, "to")?,
        granularity: params.granularity.as_deref(),
    };
    Ok(Json(usage_totals(&db, &caller.organization_id, &question).await?))
}

fn required<'a>(value: &'a Option<String>, field: &str) -> Result<&'a str, AppError> {
    value.as_deref().filter(|v| !v.is_empty()).ok_or_else(|| AppError::invalid(field, "is required"))
}

async fn list_invoices(caller: ApiCaller, State(db): State<Db>) -> Result<Json<Vec<InvoiceFigures>>, AppError> {
    Ok(Json(invoice_list(&db, &caller.organization_id).await?))
}

async fn invoice(
    caller: ApiCaller,
    State(db): State<Db>,
    Path(invoice_id): Path<String>,
) -> Result<Json<InvoiceFigures>, AppError> {
    Ok(Json(invoice_with_lines(&db, &caller.organization_id, &invoice_id).await?))
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
