use leptos::prelude::*;

use crate::api::error::AppError;
use crate::components::error_view::ErrorView;

#[component]
pub fn NotFoundPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! { <ErrorView error=AppError::NotFound/> }
}
