use leptos::prelude::*;

use crate::api::dto::billing::PlanChangePreview;

/// A plan change's proration, as the owner sees it before confirming and staff see it before
/// changing the plan for the customer.
#[component]
pub fn ProrationTable(preview: PlanChangePreview) -> impl IntoView {
    let when = if preview.immediate {
        format!("takes effect now ({})", preview.effective_at)
    } else {
        format!("takes effect at the end of this period ({})", preview.effective_at)
    };
    view! {
        <h2 id="preview-heading">{format!("{} → {}", preview.from_plan, preview.to_plan)}</h2>
        <p>{if preview.upgrade { "Upgrade" } else { "Downgrade" }} ", " {when}</p>
        <table>
            <tbody>
                <tr><th>"Remaining time"</th><td id="preview-days" class="amount">{format!("{} of {} days", preview.remaining_days, preview.period_days)}</td></tr>
                <tr><th>"Credit for unused " {preview.from_plan.clone()}</th><td id="preview-credit" class="amount">{preview.credit}</td></tr>
                <tr><th>"Charge for remaining " {preview.to_plan.clone()}</th><td id="preview-charge" class="amount">{preview.charge}</td></tr>
                <tr><th>"Net on the next invoice"</th><td id="preview-net" class="amount">{preview.net}</td></tr>
            </tbody>
        </table>
        <ul>{preview.usage_split.into_iter().map(|s| view! { <li>{s}</li> }).collect_view()}</ul>
    }
    .into_any()
}
