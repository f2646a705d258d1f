//! Signing up and recovering an account: the server functions anyone may call, logged in or not.
use leptos::prelude::*;

use super::error::AppError;

/// Mails a confirmation link. The answer is the same whether the address has an account or not.
#[server(endpoint = "sign_up")]
pub async fn sign_up(email: String, password: String, organization_name: String) -> Result<(), AppError> {
    use super::backend::{backend, respond};
    respond(async { backend()?.sign_up(&email, &password, &organization_name).await }.await)
}

/// Uses a confirmation link with the password chosen at sign-up (so whoever typed someone else's
/// address cannot choose their password): the organization and its owner are made, the owner is
/// logged in and sent to choose a plan.
#[server(endpoint = "confirm_sign_up")]
pub async fn confirm_sign_up(token: String, password: String) -> Result<(), AppError> {
    use super::backend::{backend, log_in, respond};
    respond(
        async {
            let (authenticated, organization_id) = backend()?.confirm_sign_up(&token, &password).await?;
            log_in(&authenticated).await?;
            leptos_axum::redirect(&format!("/orgs/{organization_id}/plan"));
            Ok(())
        }
        .await,
    )
}

/// Mails a reset link when the address has an account; answers the same when it has none.
#[server(endpoint = "request_password_reset")]
pub async fn request_password_reset(email: String) -> Result<(), AppError> {
    use super::backend::{backend, respond};
    respond(async { backend()?.request_password_reset(&email).await }.await)
}

/// Sets a new password through a reset link; every session of the user ends.
#[server(endpoint = "reset_password")]
pub async fn reset_password(token: String, password: String) -> Result<(), AppError> {
    use super::backend::{backend, respond};
    respond(async { backend()?.reset_password(&token, &password).await }.await)
}
