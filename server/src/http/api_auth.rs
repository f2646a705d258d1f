//! `Authorization: Bearer <api key>` for the JSON API: the key's hash is looked up, never the key.
use app::api::error::AppError;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::AppState;
use crate::accounts::db::api_keys;
use crate::accounts::domain::api_key::hash_api_key;
use crate::error::Error;
use crate::shared::time::now_ms;

/// The organization an API request acts for.
pub struct ApiCaller {
    pub organization_id: String,
    pub key_id: String,
    /// The organization's own ingestion rate, when staff set one.
    pub ingest_events_per_second: Option<i64>,
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let secret = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= 200)
            .ok_or(AppError::Unauthorized)?;
        let mut conn = state.db.pool.acquire().await.map_err(Error::from)?;
        let key =
            api_keys::find_active_key_by_hash(&mut conn, &hash_api_key(secret)).await?.ok_or(AppError::Unauthorized)?;
        let now = now_ms();
        // A write per request would queue behind ingestion on SQLite's single writer; a minute's
        // precision is what the page shows anyway.
        if key.last_used_at.is_none_or(|at| at < now - 60_000) {
            api_keys::touch_api_key(&mut conn, &key.id, now).await?;
        }
        Ok(Self {
            organization_id: key.organization_id,
            key_id: key.id,
            ingest_events_per_second: key.ingest_events_per_second,
        })
    }
}
