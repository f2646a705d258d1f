//! Plans, plan changes, invoices (members read, owners change) and staff billing actions.
use leptos::prelude::*;

use super::dto::admin::AdminCustomer;
use super::dto::billing::{InvoiceDetail, InvoicesPage, IssuedCredit, PlanChangePreview, PlanPage, PromotionPreview};
use super::error::AppError;

#[server(endpoint = "plan")]
pub async fn get_plan_page(organization_id: String) -> Result<PlanPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(reads Caller::Member(&organization_id), |_user, backend| { backend.plan_page(&organization_id).await })
}

#[server(endpoint = "preview_plan_change")]
pub async fn preview_plan_change(organization_id: String, plan: String) -> Result<PlanChangePreview, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Owner(&organization_id), |_user, backend| {
        backend.preview_plan_change(&organization_id, &plan).await
    })
}

#[server(endpoint = "confirm_plan_change")]
pub async fn confirm_plan_change(organization_id: String, plan: String, token: String) -> Result<PlanPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Owner(&organization_id), |user, backend| {
        backend.confirm_plan_change(&user, &organization_id, &plan, &token, None).await
    })
}

/// `reason` is optional: why the customer leaves, in their words.
#[server(endpoint = "cancel_subscription")]
pub async fn cancel_subscription(organization_id: String, reason: Option<String>) -> Result<PlanPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Owner(&organization_id), |user, backend| {
        backend.cancel_subscription(&user, &organization_id, reason.as_deref()).await
    })
}

#[server(endpoint = "keep_subscription")]
pub async fn keep_subscription(organization_id: String) -> Result<PlanPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Owner(&organization_id), |user, backend| {
        backend.keep_subscription(&user, &organization_id).await
    })
}

#[server(endpoint = "start_plan")]
pub async fn start_plan(organization_id: String, plan: String) -> Result<PlanPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Owner(&organization_id), |user, backend| {
        backend.start_plan(&user, &organization_id, &plan).await
    })
}

#[server(endpoint = "invoices")]
pub async fn get_invoices(organization_id: String) -> Result<InvoicesPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(reads Caller::Member(&organization_id), |_user, backend| { backend.invoices_page(&organization_id).await })
}

#[server(endpoint = "invoice")]
pub async fn get_invoice(organization_id: String, invoice_id: String) -> Result<InvoiceDetail, AppError> {
    use super::backend::{Caller, serve};
    serve!(reads Caller::Member(&organization_id), |_user, backend| {
        backend.invoice_detail(&organization_id, &invoice_id).await
    })
}

#[server(endpoint = "admin_customer")]
pub async fn get_admin_customer(organization_id: String) -> Result<AdminCustomer, AppError> {
    use super::backend::{Caller, serve};
    serve!(reads Caller::Staff, |_user, backend| { backend.admin_customer(&organization_id).await })
}

#[server(endpoint = "issue_credit")]
pub async fn issue_credit(
    organization_id: String,
    amount: String,
    reason: String,
    expires: String,
    idempotency_key: String,
) -> Result<IssuedCredit, AppError> {
    use super::backend::{Caller, CreditForm, serve};
    serve!(Caller::Staff, |user, backend| {
        let form = CreditForm { organization_id, amount, reason, expires, idempotency_key };
        backend.issue_credit(&user, form).await
    })
}

#[server(endpoint = "void_invoice")]
pub async fn void_invoice(invoice_id: String, reason: String) -> Result<(), AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Staff, |user, backend| { backend.void_invoice(&user, &invoice_id, &reason).await })
}

/// What a promotion code would take off this period's invoice so far, before it is applied.
#[server(endpoint = "preview_promotion_code")]
pub async fn preview_promotion_code(organization_id: String, code: String) -> Result<PromotionPreview, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Owner(&organization_id), |_user, backend| {
        backend.preview_promotion_code(&organization_id, &code).await
    })
}

#[server(endpoint = "redeem_promotion_code")]
pub async fn redeem_promotion_code(organization_id: String, code: String) -> Result<PlanPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Owner(&organization_id), |user, backend| {
        backend.redeem_promotion_code(&user, &organization_id, &code).await
    })
}
