use leptos::prelude::*;

use crate::api::dto::spend::Budget;
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

/// Each budget's standing under the forecast: how much is used and when the period's pace so far
/// reaches it. Nothing without budgets.
#[component]
pub fn BudgetOutlook(budgets: Vec<Budget>, organization_id: String) -> impl IntoView {
    let href = format!("/orgs/{organization_id}/budgets");
    (!budgets.is_empty()).then(|| {
        view! {
            <section class="budget-outlook" id="budget-outlook" aria-labelledby="budget-outlook-title">
                <h2 id="budget-outlook-title">"Budgets at this pace"</h2>
                <ul>
                    {budgets.into_iter().map(|budget| {
                        let used = match (&budget.used, budget.used_percent) {
                            (Some(used), Some(percent)) => format!("{used} of {} ({percent}%)", budget.limit),
                            _ => format!("{} budget", budget.limit),
                        };
                        view! {
                            <li data-budget-id=budget.id.clone()>
                                <a href=href.clone()>{budget.scope_label.clone()}</a> ": " {used} " · "
                                <span class="budget-reach">{reach_words(&budget)}</span>
                            </li>
                        }
                    }).collect_view()}
                </ul>
                <p class="hint">"Dates are estimates: this period's usage so far, carried on at the same pace."</p>
            </section>
        }
    })
}

fn reach_words(budget: &Budget) -> String {
    match (&budget.reaches, budget.used_percent) {
        _ if budget.capped => "capped: the hard cap is reached".to_owned(),
        (Some(when), _) => format!("reaches it {when}"),
        (None, Some(percent)) if percent >= 100 => "reached".to_owned(),
        (None, Some(_)) => "not reached this period at this pace".to_owned(),
        (None, None) => "counts once a plan is chosen".to_owned(),
    }
}
