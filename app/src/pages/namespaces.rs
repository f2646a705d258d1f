use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::dto::{ApiKey, Role};
use crate::api::organization::{CreateApiKey, CreateNamespace, RevokeApiKey, get_dashboard, list_api_keys};
use crate::components::action_result::ActionResult;
use crate::components::confirm::ActionDialog;
use crate::components::error_view::ErrorView;
use crate::components::field_error::{FieldError, field_message, form_message};
use crate::components::layout::use_organization_id;
use crate::components::loading::Loading;
use crate::components::toast::toast_on_success;
use crate::components::when::{MaybeWhen, When};

#[component]
pub fn NamespacesPage() -> impl IntoView {
    let organization_id = use_organization_id();
    let create_namespace = ServerAction::<CreateNamespace>::new();
    toast_on_success(create_namespace, "Namespace created.");
    let create_key = ServerAction::<CreateApiKey>::new();
    let revoke_key = ServerAction::<RevokeApiKey>::new();
    toast_on_success(revoke_key, "API key revoked.");

    let dashboard =
        Resource::new(move || (organization_id.get(), create_namespace.version().get()), |(org, _)| get_dashboard(org));
    let keys = Resource::new(
        move || (organization_id.get(), create_key.version().get(), revoke_key.version().get()),
        |(org, _, _)| list_api_keys(org),
    );

    view! {
        <Title text="Namespaces & API keys · Billing portal"/>
        <h1>"Namespaces & API keys"</h1>
        <Suspense fallback=|| view! { <Loading what="namespaces and keys"/> }>
            {move || Suspend::new(async move {
                let dashboard = match dashboard.await {
                    Ok(d) => d,
                    Err(error) => return view! { <ErrorView error/> }.into_any(),
                };
                let keys = match keys.await {
                    Ok(k) => k,
                    Err(error) => return view! { <ErrorView error/> }.into_any(),
                };
                let is_owner = dashboard.role == Role::Owner;
                view! {
                    <section aria-labelledby="namespaces-heading">
                        <h2 id="namespaces-heading">"Namespaces"</h2>
                        {if dashboard.namespaces.is_empty() {
                            let hint = if is_owner { "No namespaces yet: name one below to send usage to it." } else { "No namespaces yet." };
                            view! { <p class="empty" id="no-namespaces">{hint}</p> }.into_any()
                        } else {
                            view! {
                        <table id="namespaces" class="stack">
                            <thead><tr><th>"Name"</th><th>"Id"</th><th>"Created"</th></tr></thead>
                            <tbody>
                                {dashboard.namespaces.into_iter().map(|ns| view! {
                                    <tr><td data-label="Name">{ns.name}</td><td data-label="Id"><code>{ns.id}</code></td>
                                        <td data-label="Created"><When at=ns.created_at/></td></tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                            }.into_any()
                        }}
                        {is_owner.then(|| view! { <NamespaceForm action=create_namespace organization_id/> })}
                    </section>
                    <section aria-labelledby="keys-heading">
                        <h2 id="keys-heading">"API keys"</h2>
                        <ApiKeyTable keys is_owner revoke_key organization_id/>
                        {if is_owner {
                            view! { <ApiKeyForm action=create_key organization_id/> }.into_any()
                        } else {
                            view! { <p id="member-note">"Only owners can create or revoke keys."</p> }.into_any()
                        }}
                    </section>
                }.into_any()
            })}
        </Suspense>
    }
}

#[component]
fn NamespaceForm(action: ServerAction<CreateNamespace>, organization_id: Signal<String>) -> impl IntoView {
    let name_error = Signal::derive(move || field_message(action.value().get(), "name"));
    let form_error = move || form_message(action.value().get());
    view! {
        <ActionForm action attr:class="card form" attr:id="namespace-form">
            <input type="hidden" name="organization_id" value=organization_id/>
            <label for="namespace-name">"New namespace"</label>
            <input id="namespace-name" name="name" required maxlength="63" aria-describedby="namespace-name-error"
                placeholder="payments-prod"/>
            <FieldError id="namespace-name-error" message=name_error/>
            <p class="form-error" role="alert">{form_error}</p>
            <button type="submit" id="create-namespace">"Create namespace"</button>
        </ActionForm>
    }
}

#[component]
fn ApiKeyForm(action: ServerAction<CreateApiKey>, organization_id: Signal<String>) -> impl IntoView {
    let name_error = Signal::derive(move || field_message(action.value().get(), "name"));
    let created = move || action.value().get().and_then(Result::ok);
    view! {
        <ActionForm action attr:class="card form" attr:id="api-key-form">
            <input type="hidden" name="organization_id" value=organization_id/>
            <label for="api-key-name">"New API key"</label>
            <input id="api-key-name" name="name" required maxlength="100" aria-describedby="api-key-name-error"
                placeholder="ingestion worker"/>
            <FieldError id="api-key-name-error" message=name_error/>
            <button type="submit" id="create-api-key">"Create API key"</button>
        </ActionForm>
        {move || created().map(|created| view! {
            <ActionResult id="new-api-key" class="card secret">
                <p role="status">"Copy this key now. It is shown only once:"</p>
                <code id="new-api-key-secret">{created.secret}</code>
            </ActionResult>
        })}
    }
}

#[component]
fn ApiKeyTable(
    keys: Vec<ApiKey>,
    is_owner: bool,
    revoke_key: ServerAction<RevokeApiKey>,
    organization_id: Signal<String>,
) -> impl IntoView {
    if keys.is_empty() {
        return view! { <p id="no-api-keys">"No API keys yet."</p> }.into_any();
    }
    view! {
        <table id="api-keys" class="stack">
            <thead><tr><th>"Name"</th><th>"Key"</th><th>"Created"</th><th>"Last used"</th><th>"Status"</th><th>"Actions"</th></tr></thead>
            <tbody>
                {keys.into_iter().map(|key| {
                    let revoked = key.revoked_at.is_some();
                    let key_id = key.id.clone();
                    view! {
                        <tr data-key-id=key.id.clone()>
                            <td data-label="Name">{key.name.clone()}</td>
                            <td data-label="Key"><code>{format!("{}…", key.prefix)}</code></td>
                            <td data-label="Created"><When at=key.created_at.clone()/></td>
                            <td data-label="Last used"><MaybeWhen at=key.last_used_at.clone() otherwise="never"/></td>
                            <td data-label="Status" class="key-status">{if revoked { "revoked" } else { "active" }}</td>
                            <td data-label="Actions">
                                {(is_owner && !revoked).then(|| view! {
                                    <ActionForm action=revoke_key attr:class="action">
                                        <input type="hidden" name="organization_id" value=organization_id/>
                                        <input type="hidden" name="key_id" value=key_id.clone()/>
                                        <ActionDialog id=format!("revoke-{key_id}") open=format!("Revoke {}…", key.name)
                                            title=format!("Revoke {}?", key.name) confirm="Revoke key" danger=true
                                            effect="Usage sent with this key is refused from then on, and a revoked key cannot be brought back: senders need a new key."/>
                                    </ActionForm>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }.into_any()
}
