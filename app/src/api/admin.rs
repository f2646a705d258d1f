//! Staff only: customer search, the operations view, and acting for a customer (plan change with
//! the owner's proration preview, suspension). Every change carries a reason for the audit log.
use leptos::prelude::*;

use super::dto::admin::{CouponForm, CouponsPage, CustomerSearch, NewCustomerForm, Operations, PromotionCodeForm};
use super::dto::billing::{PlanChangePreview, PlanPage};
use super::error::AppError;

#[server(endpoint = "admin_search_customers")]
pub async fn search_customers(query: String, page: u32) -> Result<CustomerSearch, AppError> {
    use super::backend::{Caller, serve};
    serve!(reads Caller::Staff, |_user, backend| { backend.search_customers(&query, page).await })
}

#[server(endpoint = "admin_operations")]
pub async fn get_operations() -> Result<Operations, AppError> {
    use super::backend::{Caller, serve};
    serve!(reads Caller::Staff, |_user, backend| { backend.operations().await })
}

#[server(endpoint = "admin_preview_plan_change")]
pub async fn admin_preview_plan_change(organization_id: String, plan: String) -> Result<PlanChangePreview, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Staff, |_user, backend| { backend.preview_plan_change(&organization_id, &plan).await })
}

#[server(endpoint = "admin_change_plan")]
pub async fn admin_change_plan(
    organization_id: String,
    plan: String,
    token: String,
    reason: String,
) -> Result<PlanPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Staff, |user, backend| {
        backend.confirm_plan_change(&user, &organization_id, &plan, &token, Some(&reason)).await
    })
}

#[server(endpoint = "admin_suspend")]
pub async fn suspend_customer(organization_id: String, reason: String) -> Result<(), AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Staff, |user, backend| { backend.set_suspended(&user, &organization_id, true, &reason).await })
}

#[server(endpoint = "admin_unsuspend")]
pub async fn unsuspend_customer(organization_id: String, reason: String) -> Result<(), AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Staff, |user, backend| { backend.set_suspended(&user, &organization_id, false, &reason).await })
}

/// `events_per_second`: empty for the portal's setting, 0 for no limit.
#[server(endpoint = "admin_set_ingest_quota")]
pub async fn set_ingest_quota(
    organization_id: String,
    events_per_second: String,
    reason: String,
) -> Result<(), AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Staff, |user, backend| {
        backend.set_ingest_quota(&user, &organization_id, &events_per_second, &reason).await
    })
}

#[server(endpoint = "admin_coupons")]
pub async fn get_coupons() -> Result<CouponsPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(reads Caller::Staff, |_user, backend| { backend.coupons().await })
}

#[server(endpoint = "admin_create_coupon")]
pub async fn create_coupon(form: CouponForm) -> Result<CouponsPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Staff, |user, backend| { backend.create_coupon(&user, form).await })
}

#[server(endpoint = "admin_create_promotion_code")]
pub async fn create_promotion_code(form: PromotionCodeForm) -> Result<CouponsPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Staff, |user, backend| { backend.create_promotion_code(&user, form).await })
}

/// Answers the new organization's id.
#[server(endpoint = "admin_create_customer")]
pub async fn create_customer(form: NewCustomerForm) -> Result<String, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Staff, |user, backend| { backend.create_customer(&user, form).await })
}

#[server(endpoint = "admin_invite_owner")]
pub async fn invite_owner(organization_id: String, email: String, reason: String) -> Result<(), AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Staff, |user, backend| { backend.invite_owner(&user, &organization_id, &email, &reason).await })
}
