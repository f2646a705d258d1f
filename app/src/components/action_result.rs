//! What an action did, given the focus as it appears: keyboard and screen reader users land on
//! the result instead of staying on the button that caused it.
use leptos::html::Section;
use leptos::prelude::*;

#[component]
pub fn ActionResult(
    #[prop(into)] id: String,
    #[prop(optional, into)] class: String,
    /// The heading that names the result, when it has one.
    #[prop(optional, into)]
    labelled_by: Option<String>,
    children: Children,
) -> impl IntoView {
    let node = NodeRef::<Section>::new();
    Effect::new(move |_| {
        if let Some(section) = node.get() {
            let _ = section.focus();
        }
    });
    view! {
        <section node_ref=node id=id class=format!("action-result {class}") tabindex="-1" aria-labelledby=labelled_by>
            {children()}
        </section>
    }
}
