//! The team of an organization: members and invitations. Members read; owners change.
use leptos::prelude::*;

use super::dto::TeamPage;
use super::error::AppError;

#[server(endpoint = "team")]
pub async fn get_team(organization_id: String) -> Result<TeamPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(reads Caller::Member(&organization_id), |user, backend| { backend.team_page(&user, &organization_id).await })
}

/// Mails an invitation to join as `role` (`owner` or `member`).
#[server(endpoint = "invite_member")]
pub async fn invite_member(organization_id: String, email: String, role: String) -> Result<TeamPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Owner(&organization_id), |user, backend| {
        backend.invite_member(&user, &organization_id, &email, &role).await
    })
}

/// Mails a waiting invitation again with a new link; the old link stops working.
#[server(endpoint = "resend_invitation")]
pub async fn resend_invitation(organization_id: String, invitation_id: String) -> Result<TeamPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Owner(&organization_id), |user, backend| {
        backend.resend_invitation(&user, &organization_id, &invitation_id).await
    })
}

#[server(endpoint = "withdraw_invitation")]
pub async fn withdraw_invitation(organization_id: String, invitation_id: String) -> Result<TeamPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Owner(&organization_id), |user, backend| {
        backend.withdraw_invitation(&user, &organization_id, &invitation_id).await
    })
}

/// Removes a member; never the organization's last owner.
#[server(endpoint = "remove_member")]
pub async fn remove_member(organization_id: String, user_id: String) -> Result<TeamPage, AppError> {
    use super::backend::{Caller, serve};
    serve!(Caller::Owner(&organization_id), |user, backend| {
        backend.remove_member(&user, &organization_id, &user_id).await
    })
}

/// Uses an invitation's link: a new account's password is chosen here, an existing account's is
/// asked. Logs in and goes to the organization joined.
#[server(endpoint = "accept_invitation")]
pub async fn accept_invitation(token: String, password: String) -> Result<(), AppError> {
    use super::backend::{backend, client_address, log_in, respond};
    respond(
        async {
            let client = client_address().await;
            let (authenticated, organization_id) = backend()?.accept_invitation(&token, &password, &client).await?;
            log_in(&authenticated).await?;
            leptos_axum::redirect(&format!("/orgs/{organization_id}"));
            Ok(())
        }
        .await,
    )
}
