//! What a page shows while its data is on the way: the rough shape of it, and words for screen
//! readers.
use leptos::prelude::*;

#[component]
pub fn Loading(
    /// What is loading, as in "Loading {what}…".
    #[prop(into)]
    what: String,
) -> impl IntoView {
    view! {
        <div class="loading" role="status" aria-busy="true">
            <span class="visually-hidden">{format!("Loading {what}…")}</span>
            <div class="skeleton short" aria-hidden="true"></div>
            <div class="skeleton block" aria-hidden="true"></div>
            <div class="skeleton" aria-hidden="true"></div>
        </div>
    }
}
