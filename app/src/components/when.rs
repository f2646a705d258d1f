//! A moment on a page: read in the reader's zone, with UTC on hover.
use leptos::prelude::*;

use crate::api::dto::Moment;

#[component]
pub fn When(at: Moment) -> impl IntoView {
    let title = at.utc_text();
    view! { <time datetime=at.utc title=title>{at.local}</time> }
}

/// A moment that may not exist, e.g. an expiry: `otherwise` stands in for it.
#[component]
pub fn MaybeWhen(at: Option<Moment>, otherwise: &'static str) -> impl IntoView {
    match at {
        Some(at) => view! { <When at/> }.into_any(),
        None => otherwise.into_any(),
    }
}
