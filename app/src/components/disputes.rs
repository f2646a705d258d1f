use leptos::prelude::*;

use crate::api::dto::payments::DisputeView;

/// Chargebacks, with the date evidence is due while it can still be sent.
#[component]
pub fn DisputeTable(
    disputes: Vec<DisputeView>,
    #[prop(into)] id: String,
    #[prop(into)] empty: String,
) -> impl IntoView {
    if disputes.is_empty() {
        return view! { <p class="empty" id=id>{empty}</p> }.into_any();
    }
    view! {
        <table id=id>
            <thead><tr><th>"Opened"</th><th>"Customer"</th><th>"Invoice"</th><th>"Amount"</th><th>"Reason"</th><th>"Status"</th><th>"Evidence due"</th></tr></thead>
            <tbody>
                {disputes.into_iter().map(|d| view! {
                    <tr data-dispute=d.id>
                        <td>{d.opened}</td><td>{d.customer}</td><td>{d.invoice}</td><td>{d.amount}</td><td>{d.reason}</td>
                        <td><span class="status">{d.status}</span></td><td>{d.evidence_due.unwrap_or_else(|| "–".into())}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
