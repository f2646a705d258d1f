//! Where someone lands who belongs to no organization any more (an owner removed them from their
//! last team): what happened and what they can do, instead of a page that is not there.
use leptos::prelude::*;
use leptos_router::components::Redirect;

use crate::api::session::whoami;
use crate::components::error_view::ErrorView;
use crate::components::layout::LogoutButton;
use crate::components::loading::Loading;

#[component]
pub fn NoOrganizationPage() -> impl IntoView {
    let user = Resource::new(|| (), |_| whoami());
    view! {
        <Suspense fallback=|| view! { <Loading what="your organizations"/> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(user)) if user.memberships.is_empty() && !user.is_staff => {
                        view! {
                            <main class="login">
                                <h1>"You are not in an organization"</h1>
                                <section class="card" id="no-organization">
                                    <p>
                                        "You are signed in as " <strong>{user.email}</strong>
                                        ", but no organization has you on its team any more."
                                    </p>
                                    <p>"Ask one of its owners to invite you again; the invitation comes by email."</p>
                                    <LogoutButton/>
                                </section>
                            </main>
                        }
                            .into_any()
                    }
                    Ok(Some(user)) => view! { <Redirect path=user.home_path()/> }.into_any(),
                    Ok(None) => view! { <Redirect path="/login"/> }.into_any(),
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
