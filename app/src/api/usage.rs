//! Usage of an organization's namespaces: what the Usage page shows.
use leptos::prelude::*;

use super::dto::usage::{UsageRange, UsageReport};
use super::error::AppError;

#[server(endpoint = "usage")]
pub async fn get_usage(organization_id: String, metric: String, range: UsageRange) -> Result<UsageReport, AppError> {
    use super::backend::{backend, require_user, respond};
    respond(
        async {
            require_user().await?.role_in(&organization_id)?;
            backend()?.usage_report(&organization_id, &metric, range).await
        }
        .await,
    )
}
