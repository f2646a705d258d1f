//! The customer billing portal's UI: pages, components and server functions, rendered on the
//! server and hydrated in the browser.
pub mod api;
pub mod components;
#[cfg(feature = "ssr")]
pub mod csp;
pub mod numbers;
pub mod pages;
pub mod query;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{Lazy, LazyRoute, SsrMode, lazy_route, path};

use components::layout::OrgLayout;
use components::toast::provide_toasts;
use pages::{
    account::{AcceptInvitationPage, ConfirmSignUpPage, ForgotPasswordPage, ResetPasswordPage, SignUpPage},
    admin::AdminPage,
    admin_coupons::CouponsAdminPage,
    admin_customer::AdminCustomerPage,
    admin_operations::OperationsPage,
    billing_details::BillingDetailsPage,
    budgets::BudgetsPage,
    dashboard::DashboardPage,
    home::HomePage,
    invoices::{InvoicePage, InvoicesPage},
    login::LoginPage,
    namespaces::NamespacesPage,
    no_organization::NoOrganizationPage,
    not_found::NotFoundPage,
    pay::PayInvoicePage,
    payment::PaymentPage,
    plan::PlanPage,
    preferences::PreferencesPage,
    team::TeamPage,
    usage::UsagePage,
    webhooks::WebhooksPage,
};

const BROWSER_ZONE_SCRIPT: &str = "try{var z=Intl.DateTimeFormat().resolvedOptions().timeZone;\
    if(z&&document.cookie.indexOf('tz='+z)<0)document.cookie='tz='+z+';path=/;max-age=31536000;samesite=lax'}catch(e){}";

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                // Written here rather than registered through leptos_meta's `<Stylesheet>` and
                // `<Link>`: they never change, and registering them cost every page a tenth of
                // its rendering time.
                <link rel="stylesheet" href="/pkg/portal.css"/>
                <link rel="icon" href="/favicon.ico"/>
                <HydrationScripts options/>
                {without_chunk_preloads()}
                // Keeps the browser's time zone in a cookie, so pages read times in it.
                <script nonce=leptos::nonce::use_nonce() inner_html=BROWSER_ZONE_SCRIPT></script>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Leaves out the `<link rel="preload">` leptos adds for each WASM chunk of the page's lazy routes
/// (about 400 on an organization's page, a third of them twice). Registered one by one through
/// leptos_meta once the body is done, they cost a third of the page's rendering, and most of the
/// time they came too late for the head and were dropped anyway ("without `ServerMetaContext`"),
/// so pages differed from one request to the next. The chunks load when hydration reaches them,
/// as they did whenever the links were dropped. Keeps the split loader's own module preload.
fn without_chunk_preloads() {
    #[cfg(feature = "ssr")]
    if let Some(manifest) = use_context::<leptos::WasmSplitManifest>() {
        let (pkg_path, loader) = manifest.0.with_value(|(pkg_path, _, loader)| (pkg_path.clone(), loader.clone()));
        let no_chunks = std::collections::HashMap::new();
        provide_context(leptos::WasmSplitManifest(ArcStoredValue::new((pkg_path, no_chunks, loader))));
    }
}

/// The route table: every URL of the portal in one place.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    provide_toasts();
    view! {
        <Title text="Billing portal"/>
        // `hydrate` flips this once the page, lazy parts included, has hydrated; tests wait for
        // it because clicks before hydration are lost.
        <div id="root" data-hydrated="false">
            <Router>
                <Routes fallback=NotFoundPage>
                    // Data pages render completely before the first byte, so their HTTP status
                    // (404 for another organization, 302 to the login page) is the real one.
                    <Route path=path!("/") view={Lazy::<HomeRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/login") view={Lazy::<LoginRoute>::new()}/>
                    <Route path=path!("/signup") view={Lazy::<SignUpRoute>::new()}/>
                    <Route path=path!("/signup/confirm") view={Lazy::<ConfirmSignUpRoute>::new()}/>
                    <Route path=path!("/password-reset") view={Lazy::<ForgotPasswordRoute>::new()}/>
                    <Route path=path!("/password-reset/confirm") view={Lazy::<ResetPasswordRoute>::new()}/>
                    <Route path=path!("/invitation") view={Lazy::<AcceptInvitationRoute>::new()}/>
                    <Route path=path!("/no-organization") view={Lazy::<NoOrganizationRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/admin") view={Lazy::<AdminRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/admin/orgs/:org") view={Lazy::<AdminCustomerRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/admin/operations") view={Lazy::<OperationsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/admin/coupons") view={Lazy::<CouponsRoute>::new()} ssr=SsrMode::Async/>
                    <ParentRoute path=path!("/orgs/:org") view={Lazy::<OrgLayoutRoute>::new()} ssr=SsrMode::Async>
                        <Route path=path!("") view={Lazy::<DashboardRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("namespaces") view={Lazy::<NamespacesRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("usage") view={Lazy::<UsageRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("budgets") view={Lazy::<BudgetsRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("webhooks") view={Lazy::<WebhooksRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("invoices") view={Lazy::<InvoicesRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("invoices/:invoice") view={Lazy::<InvoiceRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("invoices/:invoice/pay") view={Lazy::<PayInvoiceRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("plan") view={Lazy::<PlanRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("payment") view={Lazy::<PaymentRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("billing-details") view={Lazy::<BillingDetailsRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("team") view={Lazy::<TeamRoute>::new()} ssr=SsrMode::Async/>
                        <Route path=path!("preferences") view={Lazy::<PreferencesRoute>::new()} ssr=SsrMode::Async/>
                    </ParentRoute>
                </Routes>
            </Router>
        </div>
    }
}

/// Every page, and the organization layout, is its own lazily loaded WASM chunk (`cargo leptos
/// build --split`): the first download holds the router and the reactive runtime, and each page's
/// code and wire types arrive when that page is first shown.
macro_rules! lazy_pages {
    ($($route:ident => $page:ident),* $(,)?) => {$(
        struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(_this: Self) -> AnyView {
                view! { <$page/> }.into_any()
            }
        }
    )*};
}

lazy_pages! {
    OrgLayoutRoute => OrgLayout,
    HomeRoute => HomePage,
    LoginRoute => LoginPage,
    SignUpRoute => SignUpPage,
    ConfirmSignUpRoute => ConfirmSignUpPage,
    ForgotPasswordRoute => ForgotPasswordPage,
    ResetPasswordRoute => ResetPasswordPage,
    AcceptInvitationRoute => AcceptInvitationPage,
    NoOrganizationRoute => NoOrganizationPage,
    AdminRoute => AdminPage,
    AdminCustomerRoute => AdminCustomerPage,
    OperationsRoute => OperationsPage,
    CouponsRoute => CouponsAdminPage,
    DashboardRoute => DashboardPage,
    NamespacesRoute => NamespacesPage,
    UsageRoute => UsagePage,
    BudgetsRoute => BudgetsPage,
    WebhooksRoute => WebhooksPage,
    InvoicesRoute => InvoicesPage,
    InvoiceRoute => InvoicePage,
    PayInvoiceRoute => PayInvoicePage,
    PlanRoute => PlanPage,
    PaymentRoute => PaymentPage,
    BillingDetailsRoute => BillingDetailsPage,
    TeamRoute => TeamPage,
    PreferencesRoute => PreferencesPage,
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // A server function's redirect (after logging in or out, confirming a sign-up, accepting an
    // invitation) loads the new page from the server, which renders it with its data at once. The
    // router's own hook would navigate in the browser, and the page would wait for its WASM
    // chunks, about 250 after logging in, before it showed anything. The first hook set wins, so
    // this one is set before the router mounts.
    let _ = leptos::server_fn::redirect::set_redirect_hook(|location: &str| {
        let _ = window().location().set_href(location);
    });
    // The asynchronous hydration waits for the current page's chunk before it walks the DOM.
    wasm_bindgen_futures::spawn_local(async {
        let Some(body) = document().body() else { return };
        let mounted = leptos::mount::hydrate_from_async(body, App).await;
        mounted.forget();
        if let Some(root) = document().get_element_by_id("root") {
            let _ = root.set_attribute("data-hydrated", "true");
        }
    });
}
