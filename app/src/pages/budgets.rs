use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::dto::spend::{Budget, BudgetsPage as Page, Choice};
use crate::api::spend::{DeleteBudget, SaveBudget, get_budgets};
use crate::components::confirm::ActionDialog;
use crate::components::error_view::ErrorView;
use crate::components::field_error::{FieldError, field_message, form_message};
use crate::components::layout::use_organization_id;
use crate::components::loading::Loading;
use crate::components::status::StatusBadge;
use crate::components::toast::toast_on_success;

/// Budgets per namespace or for the whole organization: how much of each is used this period,
/// the thresholds that alert and the caps that stop work. Owners set them; members read them.
#[component]
pub fn BudgetsPage() -> impl IntoView {
    let organization_id = use_organization_id();
    let save = ServerAction::<SaveBudget>::new();
    toast_on_success(save, "Budget saved.");
    let delete = ServerAction::<DeleteBudget>::new();
    toast_on_success(delete, "Budget removed.");
    let page = Resource::new(
        move || (organization_id.get(), save.version().get(), delete.version().get()),
        |(org, _, _)| get_budgets(org),
    );
    view! {
        <Title text="Budgets · Billing portal"/>
        <h1>"Budgets"</h1>
        <p>"A budget counts a namespace's (or all namespaces') cost or usage in the current billing period. \
            Its thresholds mail the billing contacts and show on the dashboard the moment usage crosses them; \
            a hard cap marks the namespace capped, and the platform stops starting new work in it. \
            Usage that still arrives is recorded and billed."</p>
        <Transition fallback=|| view! { <Loading what="budgets"/> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(page) => view! { <Budgets page save delete organization_id/> }.into_any(),
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Budgets(
    page: Page,
    save: ServerAction<SaveBudget>,
    delete: ServerAction<DeleteBudget>,
    organization_id: Signal<String>,
) -> impl IntoView {
    let can_edit = page.can_edit;
    let period = page.period.clone().map_or_else(
        || "Budgets count from the first billing period: choose a plan to start one.".to_owned(),
        |period| format!("This period: {period}."),
    );
    view! {
        <p id="budget-period" class="hint">{period}</p>
        {if page.budgets.is_empty() {
            let hint = if can_edit { "No budgets yet: set one below." } else { "No budgets yet." };
            view! { <p class="empty" id="no-budgets">{hint}</p> }.into_any()
        } else {
            view! {
                <table id="budgets" class="stack">
                    <thead><tr>
                        <th>"For"</th><th>"Counts"</th><th class="amount">"Used"</th><th class="amount">"Budget"</th>
                        <th>"Alerts at"</th><th>"Status"</th>{can_edit.then(|| view! { <th>"Actions"</th> })}
                    </tr></thead>
                    <tbody>
                        {page.budgets.into_iter().map(|budget| view! { <BudgetRow budget can_edit delete organization_id/> }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
        {if can_edit {
            view! { <BudgetForm scopes=page.scopes measures=page.measures action=save organization_id/> }.into_any()
        } else {
            view! { <p id="member-note">"Only owners can set or change budgets."</p> }.into_any()
        }}
    }
}

#[component]
fn BudgetRow(
    budget: Budget,
    can_edit: bool,
    delete: ServerAction<DeleteBudget>,
    organization_id: Signal<String>,
) -> impl IntoView {
    let used = match (&budget.used, budget.used_percent) {
        (Some(used), Some(percent)) => format!("{used} ({percent}%)"),
        _ => "—".to_owned(),
    };
    let state = if budget.capped {
        "capped"
    } else if budget.crossed.is_empty() {
        "within_budget"
    } else {
        "alerted"
    };
    let meter = budget.used_percent.map(|percent| {
        view! { <meter class=format!("budget-meter {state}") min="0" max="100" low="80" high="99" optimum="0"
        value=percent.min(100) aria-hidden="true"></meter> }
    });
    let status = match budget.crossed.iter().max() {
        Some(highest) if !budget.capped => view! { <StatusBadge state words=format!("past {highest}%")/> }.into_any(),
        _ => view! { <StatusBadge state/> }.into_any(),
    };
    let thresholds = if budget.thresholds.is_empty() {
        "none".to_owned()
    } else {
        format!("{}%", budget.thresholds.replace(", ", "%, "))
    };
    let cap = if budget.hard_cap { " · hard cap" } else { "" };
    let title = format!("Remove the budget of {}?", budget.scope_label);
    let id = budget.id.clone();
    view! {
        <tr data-budget-id=budget.id.clone() data-scope=budget.scope.clone()>
            <td data-label="For">{budget.scope_label.clone()}</td>
            <td data-label="Counts">{budget.measure_label.clone()}</td>
            <td data-label="Used" class="amount budget-used">{used}{meter}</td>
            <td data-label="Budget" class="amount">{budget.limit.clone()}</td>
            <td data-label="Alerts at">{thresholds}{cap}</td>
            <td data-label="Status"><span class="budget-status">{status}</span>
                {budget.reaches.clone().map(|when| view! { <span class="hint budget-reaches">{format!("At this pace it reaches the budget {when}, an estimate.")}</span> })}
            </td>
            {can_edit.then(|| view! {
                <td data-label="Actions">
                    <ActionForm action=delete attr:class="action">
                        <input type="hidden" name="organization_id" value=organization_id/>
                        <input type="hidden" name="budget_id" value=id.clone()/>
                        <ActionDialog id=format!("remove-{id}") open="Remove…" title confirm="Remove budget" danger=true
                            effect="Its alerts stop, and a namespace it capped is no longer capped."/>
                    </ActionForm>
                </td>
            })}
        </tr>
    }
}

#[component]
fn BudgetForm(
    scopes: Vec<Choice>,
    measures: Vec<Choice>,
    action: ServerAction<SaveBudget>,
    organization_id: Signal<String>,
) -> impl IntoView {
    let error_of = move |field: &'static str| Signal::derive(move || field_message(action.value().get(), field));
    let form_error = move || form_message(action.value().get());
    view! {
        <ActionForm action attr:class="card form" attr:id="budget-form">
            <h2>"Set a budget"</h2>
            <p class="hint">"A namespace (or all of them) has one budget: saving it again replaces it, and its thresholds alert again."</p>
            <input type="hidden" name="organization_id" value=organization_id/>
            <label for="budget-scope">"For"</label>
            <select id="budget-scope" name="scope" aria-describedby="budget-scope-error">
                {scopes.into_iter().map(|c| view! { <option value=c.value>{c.label}</option> }).collect_view()}
            </select>
            <FieldError id="budget-scope-error" message=error_of("scope")/>
            <label for="budget-measure">"Counts"</label>
            <select id="budget-measure" name="measure" aria-describedby="budget-measure-error">
                {measures.into_iter().map(|c| view! { <option value=c.value>{c.label}</option> }).collect_view()}
            </select>
            <FieldError id="budget-measure-error" message=error_of("measure")/>
            <label for="budget-limit">"Budget per period"</label>
            <input id="budget-limit" name="limit" required maxlength="24" inputmode="decimal" placeholder="250.00"
                aria-describedby="budget-limit-hint budget-limit-error"/>
            <p class="hint" id="budget-limit-hint">"In the currency for cost (250.00), or in the metric's unit (5000000 actions)."</p>
            <FieldError id="budget-limit-error" message=error_of("limit")/>
            <label for="budget-thresholds">"Alert at (% of the budget)"</label>
            <input id="budget-thresholds" name="thresholds" value="50, 80, 100" maxlength="40"
                aria-describedby="budget-thresholds-error"/>
            <FieldError id="budget-thresholds-error" message=error_of("thresholds")/>
            <label class="checkbox" for="budget-hard-cap">
                <input type="checkbox" id="budget-hard-cap" name="hard_cap" value="true"/>
                "Hard cap: mark it capped at 100 %, so the platform stops starting new work"
            </label>
            <p class="form-error" role="alert">{form_error}</p>
            <button type="submit" id="save-budget">"Save budget"</button>
        </ActionForm>
    }
}
