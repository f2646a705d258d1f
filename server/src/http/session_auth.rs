//! The logged-in user for plain axum routes (the server functions have their own path in `app`).
use app::api::backend::keep_alive;
use app::api::dto::SessionUser;
use app::api::error::AppError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use tower_sessions::Session;

use super::AppState;
use crate::accounts::login;

pub struct LoggedIn(pub SessionUser);

impl FromRequestParts<AppState> for LoggedIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state).await.map_err(|_| AppError::Internal)?;
        let session_id = session.id().ok_or(AppError::Unauthorized)?;
        let signed_in =
            login::user_of_session(&state.db, &session_id.to_string()).await?.ok_or(AppError::Unauthorized)?;
        keep_alive(&session, signed_in.session_expires_at);
        Ok(Self(signed_in.user))
    }
}
