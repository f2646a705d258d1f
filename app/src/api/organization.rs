//! An organization's dashboard, namespaces and API keys. Members read; owners change.
use leptos::prelude::*;

use super::dto::{ApiKey, BillingDetailsPage, CreatedApiKey, Dashboard, Namespace};
use super::error::AppError;

#[server(endpoint = "dashboard")]
pub async fn get_dashboard(organization_id: String) -> Result<Dashboard, AppError> {
    use super::backend::{Caller, serve};
    serve!(reads Caller::Member(&organization_id), |user, backend| { backend.dashboard(&organization_id, &user).await })
}

#[server(endpoint = "create_namespace")]
pub async fn create_namespace(organization_id: String, name: String) -> Result<Namespace, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Owner(&organization_id), |user, backend| {
        backend.create_namespace(&user, &organization_id, &name).await
    })
}

#[server(endpoint = "api_keys")]
pub async fn list_api_keys(organization_id: String) -> Result<Vec<ApiKey>, AppError> {
    use super::backend::{Caller, serve};
    serve!(reads Caller::Member(&organization_id), |_user, backend| { backend.list_api_keys(&organization_id).await })
}

#[server(endpoint = "create_api_key")]
pub async fn create_api_key(organization_id: String, name: String) -> Result<CreatedApiKey, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Owner(&organization_id), |user, backend| {
        backend.create_api_key(&user, &organization_id, &name).await
    })
}

#[server(endpoint = "revoke_api_key")]
pub async fn revoke_api_key(organization_id: String, key_id: String) -> Result<(), AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Owner(&organization_id), |user, backend| {
        backend.revoke_api_key(&user, &organization_id, &key_id).await
    })
}

#[server(endpoint = "billing_details")]
pub async fn get_billing_details(organization_id: String) -> Result<BillingDetailsPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(reads Caller::Member(&organization_id), |user, backend| { backend.billing_details(&organization_id, &user).await })
}

#[server(endpoint = "save_billing_details")]
#[allow(clippy::too_many_arguments)]
pub async fn save_billing_details(
    organization_id: String,
    legal_name: String,
    address_line1: String,
    address_line2: String,
    city: String,
    postal_code: String,
    region: String,
    country: String,
    tax_id: String,
    billing_email: String,
) -> Result<BillingDetailsPage, AppError> {
    use super::backend::{Caller, serve};
    use super::dto::BillingDetails;
    let details = BillingDetails {
        legal_name,
        address_line1,
        address_line2,
        city,
        postal_code,
        region,
        country,
        tax_id,
        billing_email,
    };
    serve!(Caller::Billing(&organization_id), |user, backend| {
        backend.save_billing_details(&user, &organization_id, details).await
    })
}

/// Someone who receives invoices and payment notices beside the billing email, without logging in.
#[server(endpoint = "add_billing_contact")]
pub async fn add_billing_contact(organization_id: String, email: String) -> Result<BillingDetailsPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Billing(&organization_id), |user, backend| {
        backend.add_billing_contact(&user, &organization_id, &email).await
    })
}

#[server(endpoint = "remove_billing_contact")]
pub async fn remove_billing_contact(organization_id: String, email: String) -> Result<BillingDetailsPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Billing(&organization_id), |user, backend| {
        backend.remove_billing_contact(&user, &organization_id, &email).await
    })
}
