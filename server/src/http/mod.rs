//! The HTTP surface: one router function per area, merged here, so the route table reads in one place.
pub mod api;
pub mod api_auth;
pub mod api_json;
pub mod client_address;
pub mod documents;
pub mod guard;
pub mod health;
pub mod ingest;
pub mod session_auth;
pub mod stripe_webhook;
pub mod usage;

use std::sync::{Arc, OnceLock};

use app::api::backend::{RequestUser, SecureCookies, SharedBackend};
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::http::HeaderName;
use leptos::prelude::*;
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::accounts::db::sessions::DbSessionStore;
use crate::config::Secret;
use crate::jobs::rollup::Metering;
use crate::metering::quotas::IngestQuotas;
use crate::portal::documents::Documents;
use crate::store::Db;

/// Forms and JSON bodies of the portal are small; larger uploads get their own limit on their route.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub db: Db,
    pub backend: SharedBackend,
    pub documents: Arc<Documents>,
    pub leptos_options: LeptosOptions,
    pub origin: Arc<guard::AllowedOrigin>,
    pub trusted_proxies: Arc<client_address::TrustedProxies>,
    pub metering: Arc<Metering>,
    pub ingest_quotas: Arc<IngestQuotas>,
    /// Without it the webhook endpoint answers 404.
    pub stripe_webhook_secret: Option<Arc<Secret>>,
}

pub struct SessionSettings {
    pub cookie_secure: bool,
    pub idle_minutes: i64,
}

/// Generated once per process: while leptos generates a route list it suppresses every resource
/// load in the process (a global flag, leptos issue #4773), so a page rendering meanwhile in
/// another server of the same process (the API tests run many) would wait forever.
fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(app::App)).clone()
}

pub fn router(state: AppState, sessions: SessionSettings) -> Router {
    let routes = page_routes();
    let backend = state.backend.clone();
    let leptos_options = state.leptos_options.clone();
    let secure_cookies = SecureCookies(sessions.cookie_secure);
    let session_layer = SessionManagerLayer::new(DbSessionStore::new(state.db.pool.clone()))
        .with_name("portal_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(sessions.cookie_secure)
        .with_expiry(Expiry::OnInactivity(time::Duration::minutes(sessions.idle_minutes)));
    let request_id = HeaderName::from_static("x-request-id");

    Router::new()
        .merge(health::routes())
        .merge(api::routes())
        .merge(ingest::routes())
        .merge(usage::routes())
        .merge(documents::routes())
        .merge(stripe_webhook::routes())
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(backend.clone());
                provide_context(RequestUser::default());
                provide_context(secure_cookies);
            },
            move || app::shell(leptos_options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(app::shell))
        .layer(axum::middleware::from_fn(guard::error_status_from_body))
        .layer(axum::middleware::from_fn_with_state(state.origin.clone(), guard::refuse_cross_site))
        .layer(session_layer)
        .layer(axum::middleware::from_fn_with_state(state.trusted_proxies.clone(), client_address::resolve_client))
        .layer(DefaultBodyLimit::max(DEFAULT_BODY_LIMIT))
        .layer(axum::middleware::from_fn(guard::security_headers))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}
