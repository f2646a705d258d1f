use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

use crate::api::admin::search_customers;
use crate::api::dto::admin::CustomerSearch;
use crate::api::dto::payments::ParkedEvent;
use crate::api::payments::{ReplayWebhookEvent, get_parked_events};
use crate::components::confirm::{ActionDialog, ReasonField};
use crate::components::error_view::ErrorView;
use crate::components::layout::AdminHeader;
use crate::components::loading::Loading;
use crate::components::status::StatusBadge;
use crate::components::toast::toast_on_success;
use crate::components::when::When;
use crate::pages::admin_new_customer::NewCustomer;
use crate::query::query_value;

/// Staff only: find a customer by name, email, id or invoice number; parked webhook events.
#[component]
pub fn AdminPage() -> impl IntoView {
    let query = use_query_map();
    let search = move || query.read().get("q").unwrap_or_default();
    let page = move || query.read().get("page").and_then(|p| p.parse::<u32>().ok()).unwrap_or(0);
    let results = Resource::new(move || (search(), page()), |(q, page)| search_customers(q, page));
    let replay = ServerAction::<ReplayWebhookEvent>::new();
    toast_on_success(replay, "Event replayed.");
    let parked = Resource::new(move || replay.version().get(), |_| get_parked_events());
    view! {
        <Title text="Admin · Billing portal"/>
        <AdminHeader/>
        <main>
            <h1>"Customers"</h1>
            <Form method="GET" action="/admin" attr:class="search" attr:role="search">
                <label>"Name, email, organization id or invoice number "
                    <input type="search" name="q" id="customer-search" maxlength="200" prop:value=search/></label>
                <button type="submit">"Search"</button>
            </Form>
            <Suspense fallback=|| view! { <Loading what="customers"/> }>
                {move || Suspend::new(async move {
                    match results.await {
                        Ok(found) => {
                            let plans = found.plans.clone();
                            view! { <SearchResults found/> <NewCustomer plans/> }.into_any()
                        }
                        Err(error) => view! { <ErrorView error/> }.into_any(),
                    }
                })}
            </Suspense>
            <h2>"Parked webhook events"</h2>
            <Suspense>
                {move || Suspend::new(async move { parked.await.ok().map(|events| view! { <ParkedEvents events replay/> }) })}
            </Suspense>
        </main>
    }
}

#[component]
fn SearchResults(found: CustomerSearch) -> impl IntoView {
    if found.customers.is_empty() {
        return view! { <p id="no-customers">"No customer matches."</p> }.into_any();
    }
    let link = |page: u32| format!("/admin?q={}&page={page}", query_value(&found.query));
    let previous = (found.page > 0).then(|| link(found.page - 1));
    let next = found.has_next.then(|| link(found.page + 1));
    view! {
        <table id="organizations" class="stack">
            <thead><tr><th>"Organization"</th><th>"Status"</th><th class="amount">"Owed"</th><th class="amount">"Credit"</th>
                <th>"Billing email"</th><th>"Namespaces"</th><th>"Members"</th><th>"Since"</th></tr></thead>
            <tbody>
                {found.customers.into_iter().map(|o| view! {
                    <tr data-organization=o.id.clone()><td data-label="Organization"><a href=format!("/admin/orgs/{}", o.id)>{o.name}</a></td>
                        <td data-label="Status"><StatusBadge state=o.status.clone()/></td>
                        <td data-label="Owed" class="amount owed">{o.owed}</td><td data-label="Credit" class="amount">{o.credit}</td>
                        <td data-label="Billing email">{o.billing_email}</td>
                        <td data-label="Namespaces">{o.namespace_count}</td><td data-label="Members">{o.member_count}</td><td data-label="Since"><When at=o.created_at/></td></tr>
                }).collect_view()}
            </tbody>
        </table>
        <nav class="pager" aria-label="Pages">
            {previous.map(|href| view! { <a href=href rel="prev">"← Previous"</a> })}
            <span>{format!(" Page {} ", found.page + 1)}</span>
            {next.map(|href| view! { <a href=href rel="next" id="next-page">"Next →"</a> })}
        </nav>
    }
    .into_any()
}

/// Events that failed every retry: each needs a look, then `server webhooks replay <id>`.
#[component]
fn ParkedEvents(events: Vec<ParkedEvent>, replay: ServerAction<ReplayWebhookEvent>) -> impl IntoView {
    if events.is_empty() {
        return view! { <p id="no-parked-events">"None: every webhook event was processed."</p> }.into_any();
    }
    view! {
        <table id="parked-events" class="stack">
            <thead><tr><th>"Event"</th><th>"Type"</th><th>"Attempts"</th><th>"Last error"</th><th>"Received"</th><th>"Replay"</th></tr></thead>
            <tbody>
                {events.into_iter().map(|e| view! {
                    <tr><td data-label="Event"><code>{e.id.clone()}</code></td><td data-label="Type">{e.event_type}</td><td data-label="Attempts">{e.attempts}</td><td data-label="Last error">{e.last_error}</td><td data-label="Received"><When at=e.received/></td>
                        <td data-label="Replay"><ActionForm action=replay attr:class="action">
                            <input type="hidden" name="event_id" value=e.id.clone()/>
                            <ActionDialog id=format!("replay-{}", e.id) open="Replay…" title=format!("Replay {}?", e.id)
                                effect="The event is processed again, as if the processor had just sent it." confirm="Replay">
                                <ReasonField id=format!("replay-reason-{}", e.id)/>
                            </ActionDialog>
                        </ActionForm></td></tr>
                }).collect_view()}
            </tbody>
        </table>
        <p>"Replay one after fixing its cause, here or with " <code>"server webhooks replay <id>"</code></p>
        <p class="form-error" role="alert">{move || replay.value().get().and_then(|r| r.err()).map(|e| e.message())}</p>
    }
    .into_any()
}
