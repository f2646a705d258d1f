//! Budgets: every member reads them, owners set and remove them, and anyone in the organization
//! may dismiss a threshold's alert from the dashboard.
use leptos::prelude::*;

use super::dto::spend::BudgetsPage;
use super::error::AppError;

#[server(endpoint = "budgets")]
pub async fn get_budgets(organization_id: String) -> Result<BudgetsPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(reads Caller::Member(&organization_id), |user, backend| { backend.budgets_page(&user, &organization_id).await })
}

/// `hard_cap` is a checkbox's: present (`true`) when ticked, absent otherwise.
#[server(endpoint = "save_budget")]
pub async fn save_budget(
    organization_id: String,
    scope: String,
    measure: String,
    limit: String,
    thresholds: String,
    hard_cap: Option<String>,
) -> Result<BudgetsPage, AppError> {
    use super::backend::{BudgetForm, Caller, serve};
    serve!(Caller::Owner(&organization_id), |user, backend| {
        let form = BudgetForm {
            scope,
            measure,
            limit,
            thresholds,
            hard_cap: hard_cap.is_some_and(|v| v == "true" || v == "on"),
        };
        backend.save_budget(&user, &organization_id, &form).await
    })
}

#[server(endpoint = "delete_budget")]
pub async fn delete_budget(organization_id: String, budget_id: String) -> Result<BudgetsPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Owner(&organization_id), |user, backend| {
        backend.delete_budget(&user, &organization_id, &budget_id).await
    })
}

#[server(endpoint = "dismiss_budget_alert")]
pub async fn dismiss_budget_alert(organization_id: String, alert_id: String) -> Result<(), AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Member(&organization_id), |user, backend| {
        backend.dismiss_budget_alert(&user, &organization_id, &alert_id).await
    })
}
