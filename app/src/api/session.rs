//! Log in, log out, and who is logged in.
use leptos::prelude::*;

use super::dto::{Preferences, SessionUser};
use super::error::AppError;

#[server(endpoint = "login")]
pub async fn login(email: String, password: String) -> Result<(), AppError> {
    use super::backend::{backend, client_address, log_in, respond_to_read};
    // What logging in writes, the session, is always read from the primary: the pages that follow
    // may read a replica.
    respond_to_read(
        async {
            let client = client_address().await;
            let backend = backend()?;
            let authenticated = backend.authenticate(email.trim(), &password, &client).await?;
            let user = backend
                .session_user(&authenticated.user_id, authenticated.generation)
                .await?
                .ok_or(AppError::Unauthorized)?;
            log_in(&authenticated).await?;
            leptos_axum::redirect(&user.home_path());
            Ok(())
        }
        .await,
    )
}

#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use super::backend::{respond, session};
    respond(
        async {
            session().await?.flush().await.map_err(|_| AppError::Internal)?;
            leptos_axum::redirect("/login");
            Ok(())
        }
        .await,
    )
}

/// `None` when nobody is logged in: pages decide whether that means "go to the login page".
#[server(endpoint = "whoami")]
pub async fn whoami() -> Result<Option<SessionUser>, AppError> {
    use super::backend::{require_user, respond_to_read};
    respond_to_read(match require_user().await {
        Ok(user) => Ok(Some(user)),
        Err(AppError::Unauthorized) => Ok(None),
        Err(other) => Err(other),
    })
}

/// The signed-in person's own settings, on a page of one of their organizations.
#[server(endpoint = "preferences")]
pub async fn get_preferences(organization_id: String) -> Result<Preferences, AppError> {
    use super::backend::{Caller, browser_time_zone, serve};
    serve!(reads Caller::Member(&organization_id), |user, backend| { backend.preferences(&user, browser_time_zone()).await })
}

/// An IANA zone name (`Europe/Paris`) to read times in, or empty for the browser's.
#[server(endpoint = "set_time_zone")]
pub async fn set_time_zone(time_zone: String) -> Result<(), AppError> {
    use super::backend::{backend, require_user, respond};
    respond(async { backend()?.set_time_zone(&require_user().await?, &time_zone).await }.await)
}
