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
            {e.projection.map(|p| view! {
                <p class="projection" id="projection">
                    "Projected for the whole period: " <strong id="projected-total">{p.total}</strong>
                    " (an estimate: this period's usage so far, carried to its end at the same pace)"
                </p>
                {(p.per_namespace.len() > 1).then(|| view! {
                    <ul class="projections" id="projected-namespaces" aria-label="Projected usage by namespace">
                        {p.per_namespace.into_iter().map(|n| view! {
                            <li data-namespace=n.namespace.clone()>{n.namespace.clone()} ": " <span class="amount">{n.usage}</span></li>
                        }).collect_view()}
                    </ul>
                })}
            })}
        }
    })
}
