//! Usage of an organization's namespaces: what the Usage page shows.
use leptos::prelude::*;

use super::dto::usage::{UsageRange, UsageReport};
use super::error::AppError;

#[server(endpoint = "usage")]
pub async fn get_usage(organization_id: String, metric: String, range: UsageRange) -> Result<UsageReport, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Member(&organization_id), |_user, backend| {
        backend.usage_report(&organization_id, &metric, range).await
    })
}
