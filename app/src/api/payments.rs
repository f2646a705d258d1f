//! Payment method, the past-due status every page shows, and "Pay now" (members read, owners act).
use leptos::prelude::*;

use super::dto::payments::{BillingStatus, ParkedEvent, PayPage, PaymentMethodPage};
use super::error::AppError;

#[server(endpoint = "billing_status")]
pub async fn get_billing_status(organization_id: String) -> Result<BillingStatus, AppError> {
    use super::backend::{Caller, serve};
    serve!(reads Caller::Member(&organization_id), |user, backend| { backend.billing_status(&user, &organization_id).await })
}

#[server(endpoint = "payment_method")]
pub async fn get_payment_method_page(organization_id: String) -> Result<PaymentMethodPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(reads Caller::Member(&organization_id), |_user, backend| { backend.payment_method_page(&organization_id).await })
}

#[server(endpoint = "save_test_card")]
pub async fn save_test_card(
    organization_id: String,
    number: String,
    exp_month: String,
    exp_year: String,
) -> Result<PaymentMethodPage, AppError> {
    use super::backend::{Caller, TestCardForm, serve};
    serve!(Caller::Billing(&organization_id), |user, backend| {
        let card = TestCardForm { number, exp_month, exp_year };
        backend.save_test_card(&user, &organization_id, card).await
    })
}

#[server(endpoint = "pay_now")]
pub async fn pay_now(organization_id: String) -> Result<PaymentMethodPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Billing(&organization_id), |user, backend| { backend.pay_now(&user, &organization_id).await })
}

/// The invoice's Pay page, where an owner or billing member confirms a payment their bank asked
/// them to.
#[server(endpoint = "pay_page")]
pub async fn get_pay_page(organization_id: String, invoice_id: String) -> Result<PayPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(reads Caller::Billing(&organization_id), |_user, backend| {
        backend.pay_page(&organization_id, &invoice_id).await
    })
}

/// Test mode's simulated bank step: `outcome` is `approve` or `fail`.
#[server(endpoint = "confirm_test_payment")]
pub async fn confirm_test_payment(
    organization_id: String,
    invoice_id: String,
    outcome: String,
) -> Result<PayPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Billing(&organization_id), |user, backend| {
        let approve = match outcome.as_str() {
            "approve" => true,
            "fail" => false,
            _ => return Err(AppError::invalid("outcome", "must be approve or fail")),
        };
        backend.confirm_test_payment(&user, &organization_id, &invoice_id, approve).await
    })
}

/// Stripe mode: where to send an owner or billing member to add or replace the card.
#[server(endpoint = "start_card_setup")]
pub async fn start_card_setup(organization_id: String) -> Result<String, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Billing(&organization_id), |_user, backend| { backend.start_card_setup(&organization_id).await })
}

#[server(endpoint = "admin_parked_events")]
pub async fn get_parked_events() -> Result<Vec<ParkedEvent>, AppError> {
    use super::backend::{Caller, serve};
    serve!(reads Caller::Staff, |_user, backend| { backend.parked_events().await })
}

#[server(endpoint = "refund_payment")]
pub async fn refund_payment(
    payment_id: String,
    amount: String,
    reason: String,
    idempotency_key: String,
) -> Result<(), AppError> {
    use super::backend::{Caller, RefundForm, serve};
    serve!(Caller::Staff, |user, backend| {
        backend.refund_payment(&user, RefundForm { payment_id, amount, reason, idempotency_key }).await
    })
}

#[server(endpoint = "admin_retry_payments")]
pub async fn admin_retry_payments(organization_id: String, reason: String) -> Result<usize, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Staff, |user, backend| { backend.admin_retry_payments(&user, &organization_id, &reason).await })
}

#[server(endpoint = "mark_uncollectible")]
pub async fn mark_uncollectible(invoice_id: String, reason: String) -> Result<(), AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Staff, |user, backend| { backend.mark_uncollectible(&user, &invoice_id, &reason).await })
}

#[server(endpoint = "replay_webhook_event")]
pub async fn replay_webhook_event(event_id: String, reason: String) -> Result<String, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Staff, |user, backend| { backend.replay_webhook_event(&user, &event_id, &reason).await })
}
