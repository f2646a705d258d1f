use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::organization::get_dashboard;
use crate::components::error_view::ErrorView;
use crate::components::estimate::EstimateLine;
use crate::components::layout::use_organization_id;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let organization_id = use_organization_id();
    let dashboard = Resource::new(move || organization_id.get(), get_dashboard);

    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
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
                        // Only an organization without a plan (just signed up) has no estimate.
                        {d.estimate.is_none().then(|| view! {
                            <section class="card" id="choose-plan-prompt">
                                <h2>"Choose a plan to start"</h2>
                                <p>"Usage is accepted once the organization has a plan. "
                                    <a href=format!("/orgs/{}/plan", d.organization_id)>"See the plans and their free trials"</a></p>
                            </section>
                        })}
                        <EstimateLine estimate=d.estimate.clone()/>
                        <h2>"Namespaces"</h2>
                        {if d.namespaces.is_empty() {
                            view! { <p>"No namespaces yet."</p> }.into_any()
                        } else {
                            view! {
                                <ul id="dashboard-namespaces">
                                    {d.namespaces.into_iter().map(|ns| view! { <li>{ns.name}</li> }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                    }.into_any(),
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
