use leptos::prelude::*;
use leptos_router::components::Redirect;

use crate::api::session::whoami;
use crate::components::loading::Loading;

/// `/` sends a logged-in user to their organization and everyone else to the login page.
#[component]
pub fn HomePage() -> impl IntoView {
    let user = Resource::new(|| (), |_| whoami());
    view! {
        <Suspense fallback=|| view! { <Loading what="your organizations"/> }>
            {move || Suspend::new(async move {
                let path = match user.await {
                    Ok(Some(user)) => user.home_path(),
                    _ => "/login".to_owned(),
                };
                view! { <Redirect path=path/> }
            })}
        </Suspense>
    }
}
