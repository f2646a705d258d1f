//! Staff actions, and a customer's actions that cannot be taken back, open a dialog first: what
//! the action will do, the reason the audit log keeps (staff), and the button that does it. The dialog is an HTML popover its button opens, so it works
//! before the page hydrates and needs no script.
use leptos::prelude::*;

use crate::api::dto::MAX_REASON_LEN;

/// The reason a staff action records in the audit log.
#[component]
pub fn ReasonField(#[prop(into)] id: String) -> impl IntoView {
    view! {
        <label for=id.clone()>"Reason (audit log)"</label>
        <input id=id name="reason" required maxlength=MAX_REASON_LEN/>
    }
}

/// A button (`open`) that opens a dialog asking `title`, saying what happens (`effect`), holding
/// the form's fields (`children`) and the button that submits the enclosing form (`confirm`).
#[component]
pub fn ActionDialog(
    /// Unique on the page.
    #[prop(into)]
    id: String,
    #[prop(into)] open: String,
    #[prop(into)] title: String,
    #[prop(into)] effect: String,
    #[prop(into)] confirm: String,
    /// The action takes service or money away: its buttons say so.
    #[prop(optional)]
    danger: bool,
    #[prop(optional, into)] confirm_id: Option<String>,
    /// The fields the action needs (a reason, an amount); none for a plain confirmation.
    #[prop(optional)]
    children: Option<Children>,
) -> impl IntoView {
    let title_id = format!("{id}-title");
    let labelled_by = title_id.clone();
    let (opener, closer) = (id.clone(), id.clone());
    let class = if danger { "danger" } else { "" };
    view! {
        <button type="button" class=format!("open-dialog {class}") popovertarget=opener>{open}</button>
        <div popover="auto" id=id class="dialog" role="dialog" aria-labelledby=labelled_by>
            // Focus lands on the question, so it is read first; the fields follow.
            <h3 id=title_id tabindex="-1" autofocus>{title}</h3>
            <p class="effect">{effect}</p>
            {children.map(|fields| view! { <div class="form">{fields()}</div> })}
            <div class="actions">
                <button type="submit" class=class id=confirm_id>{confirm}</button>
                <button type="button" class="secondary" popovertarget=closer popovertargetaction="hide">"Cancel"</button>
            </div>
        </div>
    }
}
