use leptos::prelude::*;
use leptos_router::components::{A, Outlet};
use leptos_router::hooks::use_params_map;

use crate::api::session::{Logout, whoami};
use crate::components::past_due::{BillingRefresh, PastDueBanner};
use crate::components::toast::ToastRegion;

/// The organization of the current URL (`/orgs/:org/...`).
pub fn use_organization_id() -> Signal<String> {
    let params = use_params_map();
    Signal::derive(move || params.read().get("org").unwrap_or_default())
}

#[component]
pub fn LogoutButton() -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    view! {
        <ActionForm action=logout attr:class="logout">
            <button type="submit" id="logout">"Log out"</button>
        </ActionForm>
    }
}

/// The header of the staff pages.
#[component]
pub fn AdminHeader() -> impl IntoView {
    let user = Resource::new(|| (), |_| whoami());
    view! {
        <header class="topbar">
            <div class="identity">
                <strong>"Staff console"</strong>
                <Suspense>
                    {move || Suspend::new(async move {
                        let user = user.await.ok().flatten()?;
                        Some(view! { <span class="signed-in" id="signed-in-as">{user.email}" · staff"</span> })
                    })}
                </Suspense>
                <LogoutButton/>
            </div>
            <nav aria-label="Main"><A href="/admin" exact=true>"Customers"</A><A href="/admin/operations">"Operations"</A><A href="/admin/coupons">"Coupons"</A></nav>
        </header>
        <ToastRegion/>
    }
}

/// Navigation for every page of one organization, under a header naming the organization and
/// who is signed in.
#[component]
pub fn OrgLayout() -> impl IntoView {
    let organization_id = use_organization_id();
    provide_context(BillingRefresh(RwSignal::new(0)));
    let user = Resource::new(|| (), |_| whoami());
    let base = move || format!("/orgs/{}", organization_id.get());

    view! {
        <header class="topbar">
            <div class="identity">
                <Suspense>
                    {move || Suspend::new(async move {
                        let user = user.await.ok().flatten()?;
                        let membership = user.memberships.iter().find(|m| m.organization_id == organization_id.get())?.clone();
                        Some(view! {
                            <strong id="header-organization">{membership.organization_name}</strong>
                            <span class="signed-in" id="signed-in-as">
                                <a href=format!("/orgs/{}/preferences", membership.organization_id) title="Your preferences">{user.email}</a>
                                " · " {membership.role.as_str()}
                            </span>
                        })
                    })}
                </Suspense>
                <LogoutButton/>
            </div>
            <nav aria-label="Main">
                <A href=base exact=true>"Dashboard"</A>
                <A href=move || format!("{}/usage", base())>"Usage"</A>
                <A href=move || format!("{}/budgets", base())>"Budgets"</A>
                <A href=move || format!("{}/invoices", base())>"Invoices"</A>
                <A href=move || format!("{}/plan", base())>"Plan"</A>
                <A href=move || format!("{}/payment", base())>"Payment"</A>
                <A href=move || format!("{}/billing-details", base())>"Billing details"</A>
                <A href=move || format!("{}/namespaces", base())>"Namespaces & API keys"</A>
                <A href=move || format!("{}/team", base())>"Team"</A>
                <Suspense>
                    {move || Suspend::new(async move {
                        let owner = matches!(user.await, Ok(Some(u)) if u.require_owner(&organization_id.get()).is_ok());
                        owner.then(|| view! { <A href=move || format!("{}/webhooks", base())>"Webhooks"</A> })
                    })}
                </Suspense>
                <Suspense>
                    {move || Suspend::new(async move {
                        let staff = matches!(user.await, Ok(Some(u)) if u.is_staff);
                        staff.then(|| view! { <A href="/admin">"Admin"</A> })
                    })}
                </Suspense>
            </nav>
        </header>
        <main>
            <PastDueBanner user/>
            <Outlet/>
        </main>
        <ToastRegion/>
    }
}
