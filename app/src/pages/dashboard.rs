use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::dto::{GettingStarted, Overview, Role};
use crate::api::organization::get_dashboard;
use crate::api::spend::DismissBudgetAlert;
use crate::components::error_view::ErrorView;
use crate::components::estimate::{BudgetOutlook, EstimateLine};
use crate::components::layout::use_organization_id;
use crate::components::live::follow_rollups;
use crate::components::loading::Loading;
use crate::components::status::StatusBadge;
use crate::components::when::MaybeWhen;
use crate::pages::invoices::InvoiceTable;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let organization_id = use_organization_id();
    let dismiss = ServerAction::<DismissBudgetAlert>::new();
    let (updates, set_updates) = signal(0u32);
    follow_rollups(organization_id, set_updates);
    // New usage may cross a budget's threshold: its alert appears without a reload.
    let dashboard = Resource::new(
        move || (organization_id.get(), updates.get(), dismiss.version().get()),
        |(org, _, _)| get_dashboard(org),
    );

    view! {
        <Transition fallback=|| view! { <Loading what="the dashboard"/> }>
            {move || Suspend::new(async move {
                match dashboard.await {
                    Ok(d) => view! {
                        <Title text=format!("{} · Billing portal", d.organization_name)/>
                        <h1 id="organization-name">{d.organization_name.clone()}</h1>
                        <dl class="facts">
                            <dt>"Billing email"</dt><dd>{d.billing_email.clone()}</dd>
                            <dt>"Currency"</dt><dd>{d.currency.clone()}</dd>
                            <dt>"Your role"</dt><dd id="role">{d.role.as_str()}</dd>
                        </dl>
                        {d.getting_started.clone().map(|steps| view! {
                            <GettingStartedCard steps organization_id=d.organization_id.clone() is_owner=d.role == Role::Owner/>
                        })}
                        <OverviewTiles overview=d.overview.clone() organization_id=d.organization_id.clone() dismiss
                            projected=d.estimate.as_ref().and_then(|e| e.projection.as_ref()).map(|p| p.total.clone())/>
                        <EstimateLine estimate=d.estimate.clone()/>
                        <BudgetOutlook budgets=d.budgets.clone() organization_id=d.organization_id.clone()/>
                        <h2>"Namespaces"</h2>
                        {if d.activity.is_empty() {
                            view! { <p class="empty">"No namespaces yet."</p> }.into_any()
                        } else {
                            let usage = format!("/orgs/{}/usage?range=7d", d.organization_id);
                            view! {
                                <ul id="dashboard-namespaces" class="namespace-cards" aria-label="Namespaces, last 7 days">
                                    {d.activity.into_iter().map(|ns| view! {
                                        <li class="card">
                                            <a href=usage.clone()>
                                                <strong>{ns.name}</strong>
                                                {ns.capped.then(|| view! { <StatusBadge state="capped"/> })}
                                                <span inner_html=ns.sparkline_svg></span>
                                                <span class="hint">{ns.last_7_days} " in the last 7 days"</span>
                                            </a>
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                    }.into_any(),
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Where the organization stands, each tile linking to its page, then what needs the customer
/// and the latest invoices.
#[component]
fn OverviewTiles(
    overview: Overview,
    organization_id: String,
    /// The next invoice's projected total, when there is one.
    projected: Option<String>,
    dismiss: ServerAction<DismissBudgetAlert>,
) -> impl IntoView {
    let href = |section: &str| format!("/orgs/{organization_id}/{section}");
    let org = organization_id.clone();
    let plan = overview.plan.clone().unwrap_or_else(|| "No plan yet".to_owned());
    view! {
        {(!overview.alerts.is_empty()).then(|| view! {
            <ul class="alerts" id="alerts" aria-label="Needs your attention">
                {overview.alerts.iter().map(|alert| {
                    let org = org.clone();
                    view! {
                    <li class=format!("alert {}", alert.severity.as_str())>
                        <span>{alert.message.clone()}</span> " " <a href=href(&alert.section)>"Open"</a>
                        {alert.dismiss.clone().map(|alert_id| view! {
                            <ActionForm action=dismiss attr:class="inline-action">
                                <input type="hidden" name="organization_id" value=org/>
                                <input type="hidden" name="alert_id" value=alert_id/>
                                <button type="submit" class="link-button dismiss" aria-label="Dismiss this alert">"Dismiss"</button>
                            </ActionForm>
                        })}
                    </li>
                }}).collect_view()}
            </ul>
        })}
        <section class="tiles" aria-label="Overview">
            <a class="tile" href=href("plan") id="tile-plan">
                <span class="tile-label">"Plan"</span>
                <strong>{plan}</strong>
                <StatusBadge state=overview.status.clone()/>
            </a>
            <a class="tile" href=href("invoices") id="tile-next-invoice">
                <span class="tile-label">"Next invoice"</span>
                <strong><MaybeWhen at=overview.next_invoice_on.clone() otherwise="None scheduled"/></strong>
                {overview.next_invoice_in.clone().map(|words| view! { <span class="hint" id="tile-next-invoice-in">{words}</span> })}
                {projected.map(|total| view! { <span class="hint" id="tile-next-invoice-estimate">{format!("about {total}, projected")}</span> })}
            </a>
            <a class="tile" href=href("invoices") id="tile-balance">
                <span class="tile-label">"Balance due"</span>
                <strong id="tile-balance-due">{overview.balance_due.clone()}</strong>
                <span class="hint">"Credit " <span id="tile-credit">{overview.credit_balance.clone()}</span></span>
            </a>
        </section>
        {(!overview.latest_invoices.is_empty()).then(|| view! {
            <h2>"Latest invoices"</h2>
            <InvoiceTable invoices=overview.latest_invoices.clone() link_base=Some(href("invoices"))
                organization_id=organization_id.clone()/>
        })}
    }
}

/// A command that sends one event, for the customer to paste into a shell with the key exported
/// as `PORTAL_API_KEY`; the timestamp is the shell's own clock.
fn first_event_command(events_url: &str, namespace: &str) -> String {
    format!(
        "curl -X POST {events_url} \\\n  -H \"Authorization: Bearer $PORTAL_API_KEY\" \\\n  \
         -H \"Content-Type: application/json\" \\\n  \
         -d '[{{\"id\": \"first-event\", \"namespace\": \"{namespace}\", \"metric\": \"actions\", \
         \"quantity\": 1, \"timestamp\": \"'\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"'\"}}]'"
    )
}

/// From sign-up to the first metered event: each step links to where it is done and is ticked
/// once done; the card goes away when all are.
#[component]
fn GettingStartedCard(steps: GettingStarted, organization_id: String, is_owner: bool) -> impl IntoView {
    let plan = format!("/orgs/{organization_id}/plan");
    let namespaces = format!("/orgs/{organization_id}/namespaces");
    let namespace = steps.first_namespace.clone().unwrap_or_else(|| "your-namespace".to_owned());
    let command = first_event_command(&steps.events_url, &namespace);
    let state = |done: bool| if done { "done" } else { "to do" };
    // Each step links an owner to its form; anyone else learns who takes it.
    let action = move |done: bool, href: &str, label: &'static str, owner_does: &'static str| {
        (!done).then(|| {
            if is_owner {
                view! { <a href=href.to_owned()>{label}</a> }.into_any()
            } else {
                view! { <span class="hint">{owner_does}</span> }.into_any()
            }
        })
    };
    view! {
        <section class="card getting-started" id="get-started" aria-labelledby="get-started-title">
            <h2 id="get-started-title">"Get started"</h2>
            <ol class="steps">
                <li data-step="plan" class:done=steps.has_plan id="choose-plan-prompt">
                    <span class="step-state">{state(steps.has_plan)}</span>
                    <strong>"Choose a plan. "</strong>
                    "Usage is accepted once the organization has one. "
                    {action(steps.has_plan, &plan, "See the plans and their free trials", "An owner chooses the plan.")}
                </li>
                <li data-step="namespace" class:done=steps.first_namespace.is_some()>
                    <span class="step-state">{state(steps.first_namespace.is_some())}</span>
                    <strong>"Name your first namespace. "</strong>
                    "Usage is counted per namespace. "
                    {action(steps.first_namespace.is_some(), &namespaces, "Create a namespace", "An owner creates the namespace.")}
                </li>
                <li data-step="key" class:done=steps.has_api_key>
                    <span class="step-state">{state(steps.has_api_key)}</span>
                    <strong>"Create an API key. "</strong>
                    "Its secret is shown once: keep it where your service reads its settings. "
                    {action(steps.has_api_key, &namespaces, "Create an API key", "An owner creates the key.")}
                </li>
                <li data-step="event" class:done=steps.has_usage>
                    <span class="step-state">{state(steps.has_usage)}</span>
                    <strong>"Send your first event. "</strong>
                    "With the key in " <code>"PORTAL_API_KEY"</code> ", from a shell:"
                    <pre class="snippet" id="first-event-command" tabindex="0"><code>{command}</code></pre>
                </li>
            </ol>
        </section>
    }
}
