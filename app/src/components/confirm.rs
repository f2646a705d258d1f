use leptos::prelude::*;

/// A staff action's confirmation: the browser submits the form only once this is ticked. The box
/// has no name, so the server never sees it; the reason beside it is what the audit log keeps.
#[component]
pub fn ConfirmCheck(#[prop(into)] text: String) -> impl IntoView {
    view! { <label class="confirm"><input type="checkbox" required/> {text}</label> }
}
