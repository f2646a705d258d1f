//! The customer billing portal's UI: pages, components and server functions, rendered on the
//! server and hydrated in the browser.
pub mod api;
pub mod components;
pub mod pages;

use leptos::prelude::*;
use leptos_meta::{Link, MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{SsrMode, path};

use components::layout::OrgLayout;
use pages::{
    admin::AdminPage,
    admin_customer::AdminCustomerPage,
    admin_operations::OperationsPage,
    dashboard::DashboardPage,
    home::HomePage,
    invoices::{InvoicePage, InvoicesPage},
    login::LoginPage,
    namespaces::NamespacesPage,
    not_found::NotFoundPage,
    payment::PaymentPage,
    plan::PlanPage,
    usage::UsagePage,
};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The route table: every URL of the portal in one place.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser, so this flips once the WASM has taken over the page;
    // tests wait for it because clicks before hydration are lost.
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));

    view! {
        <Stylesheet id="leptos" href="/pkg/portal.css"/>
        <Link rel="icon" href="/favicon.ico"/>
        <Title text="Billing portal"/>
        <div id="root" data-hydrated=move || hydrated.get().to_string()>
            <Router>
                <Routes fallback=NotFoundPage>
                    // Data pages render completely before the first byte, so their HTTP status
                    // (404 for another organization, 302 to the login page) is the real one.
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async/>
                    <Route path=path!("/login") view=LoginPage/>
                    <Route path=path!("/admin") view=AdminPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/orgs/:org") view=AdminCustomerPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/operations") view=OperationsPage ssr=SsrMode::Async/>
                    <ParentRoute path=path!("/orgs/:org") view=OrgLayout ssr=SsrMode::Async>
                        <Route path=path!("") view=DashboardPage ssr=SsrMode::Async/>
                        <Route path=path!("namespaces") view=NamespacesPage ssr=SsrMode::Async/>
                        <Route path=path!("usage") view=UsagePage ssr=SsrMode::Async/>
                        <Route path=path!("invoices") view=InvoicesPage ssr=SsrMode::Async/>
                        <Route path=path!("invoices/:invoice") view=InvoicePage ssr=SsrMode::Async/>
                        <Route path=path!("plan") view=PlanPage ssr=SsrMode::Async/>
                        <Route path=path!("payment") view=PaymentPage ssr=SsrMode::Async/>
                    </ParentRoute>
                </Routes>
            </Router>
        </div>
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
