//! Usage of an organization's namespaces: what the Usage page shows.
use leptos::prelude::*;

use super::dto::usage::{UsageRange, UsageReport};
use super::error::AppError;

/// `from` and `to` are days (`2026-11-01`) read for the custom range; `hide` names the series,
/// comma-separated, left off the chart; `by` is a dimension of the metric (`action_type`) whose
/// values are the series instead of the namespaces. `after_rollup`: the page has heard a rollup
/// notice, so it reads where that rollup surely is already (the primary, not a replica).
#[server(endpoint = "usage")]
pub async fn get_usage(
    organization_id: String,
    metric: String,
    range: UsageRange,
    from: Option<String>,
    to: Option<String>,
    hide: Option<String>,
    by: Option<String>,
    #[server(default)] after_rollup: bool,
) -> Result<UsageReport, AppError> {
    use super::backend::{Caller, on_primary, serve};
    use super::dto::usage::UsageWindow;
    let window = UsageWindow { range, from, to };
    let hidden: Vec<String> =
        hide.unwrap_or_default().split(',').filter(|n| !n.is_empty()).map(str::to_owned).collect();
    serve!(reads Caller::Member(&organization_id), |_user, backend| {
        let report = backend.usage_report(&organization_id, &metric, &window, &hidden, by.as_deref().filter(|b| !b.is_empty()));
        if after_rollup { on_primary(report).await } else { report.await }
    })
}
