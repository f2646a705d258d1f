use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::dto::spend::Choice;
use crate::api::dto::webhooks::{ShownSecret, WebhookDelivery, WebhookEndpoint, WebhooksPage as Page};
use crate::api::webhooks::{
    AddWebhookEndpoint, RotateWebhookSecret, SendWebhookAgain, SetWebhookEndpointEnabled, get_webhooks,
};
use crate::components::action_result::ActionResult;
use crate::components::confirm::ActionDialog;
use crate::components::error_view::ErrorView;
use crate::components::field_error::{FieldError, field_message, form_message};
use crate::components::layout::use_organization_id;
use crate::components::loading::Loading;
use crate::components::status::StatusBadge;
use crate::components::toast::toast_on_success;

/// What a page's actions are, passed down together.
#[derive(Clone, Copy)]
struct Actions {
    add: ServerAction<AddWebhookEndpoint>,
    rotate: ServerAction<RotateWebhookSecret>,
    enable: ServerAction<SetWebhookEndpointEnabled>,
    again: ServerAction<SendWebhookAgain>,
    organization_id: Signal<String>,
}

/// The owners' webhook endpoints: where events are sent, with the log of every delivery.
#[component]
pub fn WebhooksPage() -> impl IntoView {
    let organization_id = use_organization_id();
    let actions = Actions {
        add: ServerAction::new(),
        rotate: ServerAction::new(),
        enable: ServerAction::new(),
        again: ServerAction::new(),
        organization_id,
    };
    toast_on_success(actions.add, "Endpoint added.");
    toast_on_success(actions.rotate, "Secret rotated.");
    toast_on_success(actions.enable, "Endpoint updated.");
    toast_on_success(actions.again, "Delivery queued to be sent again.");
    let page = Resource::new(
        move || {
            let versions = (actions.add.version().get(), actions.rotate.version().get());
            (organization_id.get(), versions, actions.enable.version().get(), actions.again.version().get())
        },
        |(org, ..)| get_webhooks(org),
    );
    // The secret of the latest registration or rotation, whichever came last.
    let shown = RwSignal::new(None::<ShownSecret>);
    Effect::new(move || {
        if let Some(Ok(secret)) = actions.add.value().get() {
            shown.set(Some(secret));
        }
    });
    Effect::new(move || {
        if let Some(Ok(secret)) = actions.rotate.value().get() {
            shown.set(Some(secret));
        }
    });
    view! {
        <Title text="Webhooks · Billing portal"/>
        <h1>"Webhooks"</h1>
        <p>"Your endpoints receive an HTTPS POST with a JSON event when an invoice is finalized or paid, a payment \
            fails, the subscription changes, usage crosses a budget's threshold, a namespace is capped or a credit \
            is granted. Each request is signed with the endpoint's secret by the Standard Webhooks scheme \
            (headers webhook-id, webhook-timestamp and webhook-signature), so any Standard Webhooks library can \
            check it. A delivery that fails is tried again for up to three days."</p>
        {move || shown.get().map(|shown| view! {
            <ActionResult id="webhook-secret" class="card secret">
                <p role="status">"Copy this signing secret now. It is shown only once:"</p>
                <code id="webhook-secret-value">{shown.secret}</code>
            </ActionResult>
        })}
        <Transition fallback=|| view! { <Loading what="webhook endpoints"/> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(page) => view! { <Endpoints page actions/> }.into_any(),
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Endpoints(page: Page, actions: Actions) -> impl IntoView {
    let full = page.endpoints.len() >= page.max_endpoints;
    let limit = format!("An organization has at most {} endpoints.", page.max_endpoints);
    view! {
        {if page.endpoints.is_empty() {
            view! { <p class="empty" id="no-endpoints">"No endpoints yet: add one below."</p> }.into_any()
        } else {
            page.endpoints.into_iter().map(|endpoint| view! { <Endpoint endpoint actions/> }).collect_view().into_any()
        }}
        {if full {
            view! { <p class="hint" id="endpoints-full">{limit}</p> }.into_any()
        } else {
            view! { <EndpointForm event_types=page.event_types actions/> }.into_any()
        }}
    }
}

#[component]
fn Endpoint(endpoint: WebhookEndpoint, actions: Actions) -> impl IntoView {
    let id = endpoint.id;
    let (state, words) = match (&endpoint.disabled_reason, endpoint.enabled) {
        (_, true) => ("enabled", "enabled".to_owned()),
        (Some(reason), false) => ("disabled", format!("disabled: {reason}")),
        (None, false) => ("disabled", "disabled".to_owned()),
    };
    let heading = format!("endpoint-{id}-url");
    let organization_id = actions.organization_id;
    let receives = format!("Added {}. Receives: {}.", endpoint.created, endpoint.event_types.join(", "));
    let rotation = endpoint
        .previous_secret_until
        .map(|until| view! { <p class="hint rotation">{format!("The previous secret also signs until {until}.")}</p> });
    let toggle = if endpoint.enabled {
        view! {
            <input type="hidden" name="enabled" value="false"/>
            <ActionDialog id=format!("disable-{id}") open="Disable…" title="Disable this endpoint?"
                confirm="Disable endpoint" danger=true
                effect="It receives no events until it is enabled again; deliveries due to it are marked failed."/>
        }
        .into_any()
    } else {
        view! {
            <input type="hidden" name="enabled" value="true"/>
            <button type="submit" class="secondary">"Enable"</button>
        }
        .into_any()
    };
    // A parent's attributes are read after its children take theirs.
    let (section_id, labelled_by) = (id.clone(), heading.clone());
    let (rotate_id, toggle_id, log_id) = (id.clone(), id.clone(), id.clone());
    view! {
        <section class="card endpoint" data-endpoint-id=section_id aria-labelledby=labelled_by>
            <h2 id=heading><code class="endpoint-url">{endpoint.url}</code></h2>
            <p class="endpoint-state"><StatusBadge state words/></p>
            <p class="hint">{receives}</p>
            {rotation}
            <div class="actions">
                <ActionForm action=actions.rotate attr:class="action">
                    <input type="hidden" name="organization_id" value=organization_id/>
                    <input type="hidden" name="endpoint_id" value=rotate_id/>
                    <ActionDialog id=format!("rotate-{id}") open="Rotate secret…" title="Rotate the signing secret?"
                        confirm="Rotate secret"
                        effect="A new secret is shown once. The current one keeps signing beside it for 24 hours, so your receiver can switch over without missing a delivery."/>
                </ActionForm>
                <ActionForm action=actions.enable attr:class="action">
                    <input type="hidden" name="organization_id" value=organization_id/>
                    <input type="hidden" name="endpoint_id" value=toggle_id/>
                    {toggle}
                </ActionForm>
            </div>
            <Deliveries deliveries=endpoint.deliveries endpoint_id=log_id actions/>
        </section>
    }
}

#[component]
fn Deliveries(deliveries: Vec<WebhookDelivery>, endpoint_id: String, actions: Actions) -> impl IntoView {
    if deliveries.is_empty() {
        return view! { <p class="empty">"Nothing sent yet: events appear here as they happen."</p> }.into_any();
    }
    let organization_id = actions.organization_id;
    view! {
        <h3 id=format!("deliveries-{endpoint_id}-title")>"Recent deliveries"</h3>
        <table class="stack deliveries" id=format!("deliveries-{endpoint_id}") aria-labelledby=format!("deliveries-{endpoint_id}-title")>
            <thead><tr><th>"Event"</th><th>"Status"</th><th>"Created"</th><th>"Attempts"</th><th>"Actions"</th></tr></thead>
            <tbody>
                {deliveries.into_iter().map(|delivery| {
                    let next = delivery.next_attempt.clone().map(|at| view! { <span class="hint">{format!("Next try {at}.")}</span> });
                    let row_id = delivery.id.clone();
                    view! {
                        <tr data-delivery-id=row_id>
                            <td data-label="Event">{delivery.event_type.clone()}<br/><code class="hint">{delivery.event_id.clone()}</code></td>
                            <td data-label="Status"><StatusBadge state=delivery.status.clone()/></td>
                            <td data-label="Created">{delivery.created.clone()}</td>
                            <td data-label="Attempts">
                                <ol class="attempts">
                                    {delivery.attempts.iter().map(|attempt| view! {
                                        <li class=if attempt.succeeded { "succeeded" } else { "failed" }>
                                            {format!("{}: {} ({} ms)", attempt.at, attempt.result, attempt.duration_ms)}
                                        </li>
                                    }).collect_view()}
                                </ol>
                                {next}
                            </td>
                            <td data-label="Actions">
                                {if delivery.status == "pending" {
                                    view! { <span class="hint">"On its schedule"</span> }.into_any()
                                } else {
                                    view! {
                                        <ActionForm action=actions.again attr:class="action">
                                            <input type="hidden" name="organization_id" value=organization_id/>
                                            <input type="hidden" name="delivery_id" value=delivery.id.clone()/>
                                            <button type="submit" class="secondary">"Send again"</button>
                                        </ActionForm>
                                    }.into_any()
                                }}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn EndpointForm(event_types: Vec<Choice>, actions: Actions) -> impl IntoView {
    let action = actions.add;
    let error_of = move |field: &'static str| Signal::derive(move || field_message(action.value().get(), field));
    let form_error = move || form_message(action.value().get());
    // Every type is chosen at first; the hidden field carries the choice, so the form works the
    // same before hydration (with every type) and after it.
    let chosen = RwSignal::new(event_types.iter().map(|c| c.value.clone()).collect::<Vec<String>>());
    let selection = move || chosen.get().join(" ");
    view! {
        <ActionForm action attr:class="card form" attr:id="webhook-form">
            <h2>"Add an endpoint"</h2>
            <input type="hidden" name="organization_id" value=actions.organization_id/>
            <label for="webhook-url">"Endpoint URL"</label>
            <input id="webhook-url" name="url" type="url" required maxlength="2000" placeholder="https://example.com/webhooks"
                aria-describedby="webhook-url-error"/>
            <FieldError id="webhook-url-error" message=error_of("url")/>
            <fieldset aria-describedby="webhook-events-error">
                <legend>"Events to send"</legend>
                {event_types.into_iter().map(|choice| {
                    let value = choice.value.clone();
                    let checkbox_id = format!("event-{}", value.replace('.', "-"));
                    let toggled = value.clone();
                    let label_for = checkbox_id.clone();
                    view! {
                        <label class="checkbox" for=label_for>
                            <input type="checkbox" id=checkbox_id checked=true
                                on:change=move |event| {
                                    let on = event_target_checked(&event);
                                    chosen.update(|list| {
                                        list.retain(|v| v != &toggled);
                                        if on { list.push(toggled.clone()) }
                                    });
                                }/>
                            <span><code>{value}</code>" — "{choice.label}</span>
                        </label>
                    }
                }).collect_view()}
            </fieldset>
            <input type="hidden" name="event_types" prop:value=selection value=selection/>
            <FieldError id="webhook-events-error" message=error_of("event_types")/>
            <p class="form-error" role="alert">{form_error}</p>
            <button type="submit" id="add-endpoint">"Add endpoint"</button>
        </ActionForm>
    }
}
