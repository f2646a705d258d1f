use leptos::prelude::*;

use crate::api::dto::MAX_REASON_LEN;

/// A staff action's confirmation: the browser submits the form only once this is ticked. The box
/// has no name, so the server never sees it; the reason beside it is what the audit log keeps.
#[component]
pub fn ConfirmCheck(#[prop(into)] text: String) -> impl IntoView {
    view! { <label class="confirm"><input type="checkbox" required/> {text}</label> }
}

/// The reason a staff action records in the audit log, and the box that confirms the action.
#[component]
pub fn StaffReason(
    #[prop(into)] label: String,
    #[prop(into)] confirm: String,
    #[prop(optional, into)] id: Option<String>,
) -> impl IntoView {
    view! {
        <label>{label} " " <input name="reason" id=id required maxlength=MAX_REASON_LEN/></label>
        <ConfirmCheck text=confirm/>
    }
}
