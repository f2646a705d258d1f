use leptos::prelude::*;
use leptos_router::components::Redirect;

use crate::api::error::AppError;

/// How a page shows a failed load: a missing login goes to the login page, anything of another
/// organization reads as "not found".
#[component]
pub fn ErrorView(error: AppError) -> impl IntoView {
    match error {
        AppError::Unauthorized => view! { <Redirect path="/login"/> }.into_any(),
        AppError::NotFound => view! {
            <section class="error-page">
                <h1>"Not found"</h1>
                <p>"There is nothing here, or you have no access to it."</p>
            </section>
        }
        .into_any(),
        other => view! {
            <section class="error-page" role="alert">
                <h1>"Something went wrong"</h1>
                <p>{other.message()}</p>
            </section>
        }
        .into_any(),
    }
}
