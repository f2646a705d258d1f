use leptos::prelude::*;

use crate::api::dto::usage::CostEstimate;

/// The current period's cost so far, as the dashboard and the Usage page show it.
#[component]
pub fn EstimateLine(estimate: Option<CostEstimate>) -> impl IntoView {
    estimate.map(|e| {
        view! {
            <p class="estimate">
                "Month-to-date estimate: " <strong id="estimate">{e.total}</strong>
                {format!(" on the {} plan, period {}", e.plan, e.period)}
                {e.discount.map(|discount| view! { ", after " <span id="estimate-discount">{discount}</span> })}
                {e.usage_change.map(|change| view! { <br/><span class="hint" id="usage-change">{change}</span> })}
            </p>
        }
    })
}
