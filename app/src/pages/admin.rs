use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::organization::list_organizations;
use crate::components::error_view::ErrorView;
use crate::components::layout::AdminHeader;

/// Staff only: every organization the portal bills.
#[component]
pub fn AdminPage() -> impl IntoView {
    let organizations = Resource::new(|| (), |_| list_organizations());
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
        </main>
    }
}
