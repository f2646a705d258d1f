//! One badge for every state (invoice, subscription, payment, namespace): its class names the
//! state, which the stylesheet colours, and its text reads as words (`past_due` → "past due").
use leptos::prelude::*;

#[component]
pub fn StatusBadge(
    #[prop(into)] state: String,
    #[prop(optional, into)] id: Option<String>,
    /// Words that say more than the state's name: "past 80%".
    #[prop(optional, into)]
    words: Option<String>,
) -> impl IntoView {
    let words = words.unwrap_or_else(|| state.replace('_', " "));
    view! { <span class=format!("status {state}") id=id>{words}</span> }
}
