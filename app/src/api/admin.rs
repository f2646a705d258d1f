//! Staff only: customer search, the operations view, and acting for a customer (plan change with
//! the owner's proration preview, suspension). Every change carries a reason for the audit log.
use leptos::prelude::*;

use super::dto::admin::{CustomerSearch, Operations};
use super::dto::billing::{PlanChangePreview, PlanPage};
use super::error::AppError;

#[server(endpoint = "admin_search_customers")]
pub async fn search_customers(query: String, page: u32) -> Result<CustomerSearch, AppError> {
    use super::backend::{backend, require_user, respond};
    respond(
        async {
            require_user().await?.require_staff()?;
            backend()?.search_customers(&query, page).await
        }
        .await,
    )
}

#[server(endpoint = "admin_operations")]
pub async fn get_operations() -> Result<Operations, AppError> {
    use super::backend::{backend, require_user, respond};
    respond(
        async {
            require_user().await?.require_staff()?;
            backend()?.operations().await
        }
        .await,
    )
}

#[server(endpoint = "admin_preview_plan_change")]
pub async fn admin_preview_plan_change(organization_id: String, plan: String) -> Result<PlanChangePreview, AppError> {
    use super::backend::{backend, require_user, respond};
    respond(
        async {
            require_user().await?.require_staff()?;
            backend()?.preview_plan_change(&organization_id, &plan).await
        }
        .await,
    )
}

#[server(endpoint = "admin_change_plan")]
pub async fn admin_change_plan(
    organization_id: String,
    plan: String,
    token: String,
    reason: String,
) -> Result<PlanPage, AppError> {
    use super::backend::{backend, require_user, respond};
    respond(
        async {
            let user = require_user().await?;
            user.require_staff()?;
            backend()?.confirm_plan_change(&user, &organization_id, &plan, &token, Some(&reason)).await
        }
        .await,
    )
}

#[server(endpoint = "admin_suspend")]
pub async fn suspend_customer(organization_id: String, reason: String) -> Result<(), AppError> {
    use super::backend::{backend, require_user, respond};
    respond(
        async {
            let user = require_user().await?;
            user.require_staff()?;
            backend()?.set_suspended(&user, &organization_id, true, &reason).await
        }
        .await,
    )
}

#[server(endpoint = "admin_unsuspend")]
pub async fn unsuspend_customer(organization_id: String, reason: String) -> Result<(), AppError> {
    use super::backend::{backend, require_user, respond};
    respond(
        async {
            let user = require_user().await?;
            user.require_staff()?;
            backend()?.set_suspended(&user, &organization_id, false, &reason).await
        }
        .await,
    )
}
