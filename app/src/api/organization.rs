//! An organization's dashboard, namespaces and API keys. Members read; owners change.
use leptos::prelude::*;

use super::dto::{ApiKey, CreatedApiKey, Dashboard, Namespace};
use super::error::AppError;

#[server(endpoint = "dashboard")]
pub async fn get_dashboard(organization_id: String) -> Result<Dashboard, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Member(&organization_id), |user, backend| { backend.dashboard(&organization_id, &user).await })
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
    serve!(Caller::Member(&organization_id), |_user, backend| { backend.list_api_keys(&organization_id).await })
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
