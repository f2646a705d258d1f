//! Webhook endpoints: owners register them, rotate their secrets, disable and enable them, read
//! the delivery log and send a delivery again.
use leptos::prelude::*;

use super::dto::webhooks::{ShownSecret, WebhooksPage};
use super::error::AppError;

#[server(endpoint = "webhooks")]
pub async fn get_webhooks(organization_id: String) -> Result<WebhooksPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(reads Caller::Owner(&organization_id), |user, backend| { backend.webhooks_page(&user, &organization_id).await })
}

/// `event_types` lists the types to receive, separated by commas or spaces.
#[server(endpoint = "add_webhook_endpoint")]
pub async fn add_webhook_endpoint(
    organization_id: String,
    url: String,
    event_types: String,
) -> Result<ShownSecret, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Owner(&organization_id), |user, backend| {
        backend.add_webhook_endpoint(&user, &organization_id, &url, &event_types).await
    })
}

#[server(endpoint = "rotate_webhook_secret")]
pub async fn rotate_webhook_secret(organization_id: String, endpoint_id: String) -> Result<ShownSecret, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Owner(&organization_id), |user, backend| {
        backend.rotate_webhook_secret(&user, &organization_id, &endpoint_id).await
    })
}

/// `enabled` is `true` to enable, anything else to disable.
#[server(endpoint = "set_webhook_endpoint_enabled")]
pub async fn set_webhook_endpoint_enabled(
    organization_id: String,
    endpoint_id: String,
    enabled: String,
) -> Result<WebhooksPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Owner(&organization_id), |user, backend| {
        backend.set_webhook_endpoint_enabled(&user, &organization_id, &endpoint_id, enabled == "true").await
    })
}

#[server(endpoint = "send_webhook_again")]
pub async fn send_webhook_again(organization_id: String, delivery_id: String) -> Result<WebhooksPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Owner(&organization_id), |user, backend| {
        backend.send_webhook_again(&user, &organization_id, &delivery_id).await
    })
}
