//! The JSON API for machines, authenticated by API keys. Usage and the estimate read a replica when
//! one is set: a machine polls them, and a moment's lag is as old as its last poll. Invoices stay on
//! the primary: a receiver of `invoice.finalized` asks for the invoice at once, while the invoice
//! run's writes are the ones a replica replays last.
use app::api::dto::Namespace;
use app::api::dto::machine::{BudgetFigures, BudgetSetting, InvoiceFigures, NamespaceStatus, UsageTotals};
use app::api::dto::usage::UsageEstimate;
use app::api::error::{AppError, ErrorBody};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::AppState;
use super::api_auth::ApiCaller;
use super::api_json::ApiJson;
use crate::accounts::organizations;
use crate::billing::estimate::usage_estimate;
use crate::error::Error;
use crate::portal::machine_api::{UsageQuestion, invoice_list, invoice_with_lines, usage_totals};
use crate::spend::figures::{budget_figures, namespace_status as status_of, replace_budgets as set_budgets};
use crate::store::Db;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/namespaces", get(list_namespaces).post(create_namespace))
        .route("/v1/namespaces/{namespace}", get(namespace_status))
        .route("/v1/budgets", get(budgets).put(replace_budgets))
        .route("/v1/estimate", get(estimate))
        .route("/v1/usage", get(usage))
        .route("/v1/invoices", get(list_invoices))
        .route("/v1/invoices/{invoice_id}", get(invoice))
        .route("/v1/openapi.json", get(openapi_document))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageParams {
    metric: Option<String>,
    namespace: Option<String>,
    from: Option<String>,
    to: Option<String>,
    granularity: Option<String>,
    group_by: Option<String>,
}

/// Rolled-up totals of a metric per namespace and hour or day, with the watermark.
#[utoipa::path(get, path = "/v1/usage", tag = "usage", security(("api_key" = [])),
    params(
        ("metric" = String, Query, description = "A metric's key: `actions`, `active_storage_gbh`, …"),
        ("from" = String, Query, description = "An RFC 3339 time or a date"),
        ("to" = String, Query, description = "An RFC 3339 time or a date (through that day)"),
        ("namespace" = Option<String>, Query, description = "One namespace's name; all when absent"),
        ("granularity" = Option<String>, Query, description = "`hour` (the default) or `day`"),
        ("group_by" = Option<String>, Query, description = "A dimension of the metric, e.g. `action_type`: each bucket split by its values"),
    ),
    responses((status = 200, body = UsageTotals), (status = 401, description = "No API key, or one revoked", body = ErrorBody), (status = 422, description = "A parameter refused", body = ErrorBody)))]
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
        group_by: params.group_by.as_deref().filter(|g| !g.is_empty()),
    };
    // A namespace the replica does not know yet may be one the caller has just created.
    let answer = match usage_totals(&db.may_lag(), &caller.organization_id, &question).await {
        Err(Error::App(AppError::Invalid { field, .. })) if field == "namespace" && db.has_replica() => {
            usage_totals(&db, &caller.organization_id, &question).await
        }
        answer => answer,
    };
    Ok(Json(answer?))
}

fn required<'a>(value: &'a Option<String>, field: &str) -> Result<&'a str, AppError> {
    value.as_deref().filter(|v| !v.is_empty()).ok_or_else(|| AppError::invalid(field, "is required"))
}

#[utoipa::path(get, path = "/v1/invoices", tag = "invoices", security(("api_key" = [])),
    responses((status = 200, body = Vec<InvoiceFigures>), (status = 401, description = "No API key, or one revoked", body = ErrorBody)))]
async fn list_invoices(caller: ApiCaller, State(db): State<Db>) -> Result<Json<Vec<InvoiceFigures>>, AppError> {
    Ok(Json(invoice_list(&db, &caller.organization_id).await?))
}

#[utoipa::path(get, path = "/v1/invoices/{invoice_id}", tag = "invoices", security(("api_key" = [])),
    params(("invoice_id" = String, Path)),
    responses((status = 200, body = InvoiceFigures), (status = 401, description = "No API key, or one revoked", body = ErrorBody), (status = 404, description = "Not an invoice of the key's organization", body = ErrorBody)))]
async fn invoice(
    caller: ApiCaller,
    State(db): State<Db>,
    Path(invoice_id): Path<String>,
) -> Result<Json<InvoiceFigures>, AppError> {
    Ok(Json(invoice_with_lines(&db, &caller.organization_id, &invoice_id).await?))
}

/// The current period's cost so far and projected, per namespace; 404 without a plan.
#[utoipa::path(get, path = "/v1/estimate", tag = "usage", security(("api_key" = [])),
    responses((status = 200, body = UsageEstimate), (status = 401, description = "No API key, or one revoked", body = ErrorBody), (status = 404, description = "No subscription", body = ErrorBody)))]
async fn estimate(caller: ApiCaller, State(db): State<Db>) -> Result<Json<UsageEstimate>, AppError> {
    Ok(Json(usage_estimate(&db.may_lag(), &caller.organization_id).await?.ok_or(AppError::NotFound)?))
}

#[utoipa::path(get, path = "/v1/namespaces", tag = "namespaces", security(("api_key" = [])),
    responses((status = 200, body = Vec<Namespace>), (status = 401, description = "No API key, or one revoked", body = ErrorBody)))]
async fn list_namespaces(caller: ApiCaller, State(db): State<Db>) -> Result<Json<Vec<Namespace>>, AppError> {
    Ok(Json(organizations::list_namespaces(&db, &caller.organization_id).await?))
}

/// A namespace by name or id, and whether a hard cap stops work in it.
#[utoipa::path(get, path = "/v1/namespaces/{namespace}", tag = "namespaces", security(("api_key" = [])),
    params(("namespace" = String, Path, description = "A namespace's name or id")),
    responses((status = 200, body = NamespaceStatus), (status = 401, description = "No API key, or one revoked", body = ErrorBody), (status = 404, description = "Not a namespace of the key's organization", body = ErrorBody)))]
async fn namespace_status(
    caller: ApiCaller,
    State(db): State<Db>,
    Path(namespace): Path<String>,
) -> Result<Json<NamespaceStatus>, AppError> {
    Ok(Json(status_of(&db, &caller.organization_id, &namespace).await?))
}

#[utoipa::path(get, path = "/v1/budgets", tag = "budgets", security(("api_key" = [])),
    responses((status = 200, body = Vec<BudgetFigures>), (status = 401, description = "No API key, or one revoked", body = ErrorBody)))]
async fn budgets(caller: ApiCaller, State(db): State<Db>) -> Result<Json<Vec<BudgetFigures>>, AppError> {
    Ok(Json(budget_figures(&db, &caller.organization_id).await?))
}

/// The organization's budgets become the list (an empty list removes them all).
#[utoipa::path(put, path = "/v1/budgets", tag = "budgets", security(("api_key" = [])), request_body = Vec<BudgetSetting>,
    responses((status = 200, body = Vec<BudgetFigures>), (status = 401, description = "No API key, or one revoked", body = ErrorBody), (status = 422, description = "An entry refused, naming it: `budgets[1].limit`", body = ErrorBody)))]
async fn replace_budgets(
    caller: ApiCaller,
    State(db): State<Db>,
    ApiJson(settings): ApiJson<Vec<BudgetSetting>>,
) -> Result<Json<Vec<BudgetFigures>>, AppError> {
    let actor = format!("api_key:{}", caller.key_id);
    Ok(Json(set_budgets(&db, &caller.organization_id, &actor, &settings).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewNamespace {
    name: String,
}

#[utoipa::path(post, path = "/v1/namespaces", tag = "namespaces", security(("api_key" = [])), request_body = NewNamespace,
    responses((status = 201, body = Namespace), (status = 401, description = "No API key, or one revoked", body = ErrorBody), (status = 409, description = "The name is taken", body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_namespace(
    caller: ApiCaller,
    State(db): State<Db>,
    ApiJson(body): ApiJson<NewNamespace>,
) -> Result<(StatusCode, Json<Namespace>), AppError> {
    let actor = format!("api_key:{}", caller.key_id);
    let namespace = organizations::create_namespace(&db, &actor, &caller.organization_id, &body.name).await?;
    Ok((StatusCode::CREATED, Json(namespace)))
}

/// The machine API described for code generators and people: generated from the handlers above
/// and their wire types, so it cannot drift from what they answer.
#[derive(OpenApi)]
#[openapi(
    info(title = "Billing portal API", description = "Usage, estimates, invoices, namespaces and budgets of the \
        organization an API key belongs to. Quantities are integers in the metric's stored unit, money integers \
        in minor units, times RFC 3339 in UTC."),
    paths(
        list_namespaces, create_namespace, namespace_status, budgets, replace_budgets, estimate, usage,
        list_invoices, invoice, super::ingest::ingest_events,
    ),
    modifiers(&BearerKey),
)]
pub struct ApiDocument;

/// API keys go in `Authorization: Bearer …`.
struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, document: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("API key").build();
        document
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("api_key", SecurityScheme::Http(scheme));
    }
}

/// Open to anyone: it describes the API, and says nothing of any organization.
async fn openapi_document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDocument::openapi())
}
