use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::dto::payments::ParkedEvent;
use crate::api::organization::list_organizations;
use crate::api::payments::{ReplayWebhookEvent, get_parked_events};
use crate::components::error_view::ErrorView;
use crate::components::layout::AdminHeader;

/// Staff only: every organization the portal bills.
#[component]
pub fn AdminPage() -> impl IntoView {
    let organizations = Resource::new(|| (), |_| list_organizations());
    let replay = ServerAction::<ReplayWebhookEvent>::new();
    let parked = Resource::new(move || replay.version().get(), |_| get_parked_events());
    view! {
        <Title text="Admin · Billing portal"/>
        <AdminHeader/>
        <main>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match organizations.await {
                        Ok(list) => view! {
                            <h1>"Customers"</h1>
                            <table id="organizations">
                                <thead><tr><th>"Organization"</th><th>"Id"</th><th>"Billing email"</th>
                                    <th>"Namespaces"</th><th>"Members"</th><th>"Since"</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|o| view! {
                                        <tr><td><a href=format!("/admin/orgs/{}", o.id)>{o.name}</a></td><td><code>{o.id}</code></td><td>{o.billing_email}</td>
                                            <td>{o.namespace_count}</td><td>{o.member_count}</td><td>{o.created_at}</td></tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
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

/// Events that failed every retry: each needs a look, then `server webhooks replay <id>`.
#[component]
fn ParkedEvents(events: Vec<ParkedEvent>, replay: ServerAction<ReplayWebhookEvent>) -> impl IntoView {
    if events.is_empty() {
        return view! { <p id="no-parked-events">"None: every webhook event was processed."</p> }.into_any();
    }
    view! {
        <table id="parked-events">
            <thead><tr><th>"Event"</th><th>"Type"</th><th>"Attempts"</th><th>"Last error"</th><th>"Received"</th><th>"Replay"</th></tr></thead>
            <tbody>
                {events.into_iter().map(|e| view! {
                    <tr><td><code>{e.id.clone()}</code></td><td>{e.event_type}</td><td>{e.attempts}</td><td>{e.last_error}</td><td>{e.received}</td>
                        <td><ActionForm action=replay>
                            <input type="hidden" name="event_id" value=e.id/>
                            <label>"Reason" <input name="reason" required maxlength="500"/></label>
                            <button type="submit">"Replay"</button>
                        </ActionForm></td></tr>
                }).collect_view()}
            </tbody>
        </table>
        <p>"Replay one after fixing its cause, here or with " <code>"server webhooks replay <id>"</code></p>
        <p class="form-error" role="alert">{move || replay.value().get().and_then(|r| r.err()).map(|e| e.message())}</p>
    }
    .into_any()
}
