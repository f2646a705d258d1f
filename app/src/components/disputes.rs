use leptos::prelude::*;

use crate::api::dto::payments::DisputeView;
use crate::components::status::StatusBadge;
use crate::components::when::{MaybeWhen, When};

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
        <table id=id class="stack">
            <thead><tr><th>"Opened"</th><th>"Customer"</th><th>"Invoice"</th><th class="amount">"Amount"</th><th>"Reason"</th><th>"Status"</th><th>"Evidence due"</th></tr></thead>
            <tbody>
                {disputes.into_iter().map(|d| view! {
                    <tr data-dispute=d.id>
                        <td data-label="Opened"><When at=d.opened/></td><td data-label="Customer">{d.customer}</td><td data-label="Invoice">{d.invoice}</td><td data-label="Amount" class="amount">{d.amount}</td><td data-label="Reason">{d.reason}</td>
                        <td data-label="Status"><StatusBadge state=d.status/></td><td data-label="Evidence due"><MaybeWhen at=d.evidence_due otherwise="–"/></td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
