use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::dto::{BillingDetails, BillingDetailsPage, Country};
use crate::api::organization::{AddBillingContact, RemoveBillingContact, SaveBillingDetails, get_billing_details};
use crate::components::action_result::ActionResult;
use crate::components::error_view::ErrorView;
use crate::components::field_error::{FieldError, field_message, form_message};
use crate::components::layout::use_organization_id;
use crate::components::loading::Loading;
use crate::components::toast::toast_on_success;

/// The customer's legal name, address, tax id and billing email: what invoices print and where
/// they are sent. Owners edit them; members read them.
#[component]
pub fn BillingDetailsPage() -> impl IntoView {
    let organization_id = use_organization_id();
    let save = ServerAction::<SaveBillingDetails>::new();
    // Reloaded after a save that succeeded only: after a refused one the form keeps what was typed
    // (a reload would put the stored country back and lose the rest).
    let last_success = Memo::new(move |previous: Option<&usize>| match save.value().get() {
        Some(Ok(_)) => save.version().get(),
        _ => previous.copied().unwrap_or_default(),
    });
    let page = Resource::new(move || (organization_id.get(), last_success.get()), |(org, _)| get_billing_details(org));
    view! {
        <Title text="Billing details · Billing portal"/>
        <h1>"Billing details"</h1>
        <p>"Invoices show these details, and invoices and payment notices go to the billing email and the billing contacts."</p>
        <Transition fallback=|| view! { <Loading what="billing details"/> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(page) if page.can_edit => {
                        let contacts = page.contacts.clone();
                        view! {
                            <DetailsForm page action=save organization_id/>
                            <BillingContacts contacts can_edit=true organization_id/>
                        }.into_any()
                    }
                    Ok(page) => view! {
                        <DetailsSummary details=page.details countries=page.countries/>
                        <BillingContacts contacts=page.contacts can_edit=false organization_id/>
                    }.into_any(),
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

fn country_name(countries: &[Country], code: &str) -> String {
    countries.iter().find(|c| c.code == code).map(|c| c.name.clone()).unwrap_or_default()
}

#[component]
fn DetailsSummary(details: BillingDetails, countries: Vec<Country>) -> impl IntoView {
    let or_dash = |value: String| if value.is_empty() { "—".to_owned() } else { value };
    let address = [
        details.address_line1,
        details.address_line2,
        format!("{} {}", details.postal_code, details.city).trim().to_owned(),
        details.region,
        country_name(&countries, &details.country),
    ]
    .into_iter()
    .filter(|line| !line.is_empty())
    .collect::<Vec<_>>()
    .join(", ");
    view! {
        <dl class="card" id="billing-details">
            <dt>"Legal name"</dt><dd>{or_dash(details.legal_name)}</dd>
            <dt>"Address"</dt><dd>{or_dash(address)}</dd>
            <dt>"Tax id"</dt><dd>{or_dash(details.tax_id)}</dd>
            <dt>"Billing email"</dt><dd>{details.billing_email}</dd>
        </dl>
        <p id="member-note">"Only owners can change the billing details."</p>
    }
}

#[component]
fn DetailsForm(
    page: BillingDetailsPage,
    action: ServerAction<SaveBillingDetails>,
    organization_id: Signal<String>,
) -> impl IntoView {
    let details = page.details;
    let error_of = move |field: &'static str| Signal::derive(move || field_message(action.value().get(), field));
    let form_error = move || form_message(action.value().get());
    let saved = move || matches!(action.value().get(), Some(Ok(_)));
    let selected = details.country.clone();
    view! {
        <ActionForm action attr:class="card form" attr:id="billing-details-form">
            <input type="hidden" name="organization_id" value=organization_id/>
            <TextField name="legal_name" label="Legal name" value=details.legal_name error=error_of("legal_name") autocomplete="organization"/>
            <TextField name="billing_email" label="Billing email" value=details.billing_email error=error_of("billing_email") autocomplete="email" kind="email" required=true/>
            <TextField name="address_line1" label="Address" value=details.address_line1 error=error_of("address_line1") autocomplete="address-line1"/>
            <TextField name="address_line2" label="Address, second line" value=details.address_line2 error=error_of("address_line2") autocomplete="address-line2"/>
            <TextField name="postal_code" label="Postal code" value=details.postal_code error=error_of("postal_code") autocomplete="postal-code"/>
            <TextField name="city" label="City" value=details.city error=error_of("city") autocomplete="address-level2"/>
            <TextField name="region" label="State, province or region" value=details.region error=error_of("region") autocomplete="address-level1"/>
            <label for="billing-country">"Country"</label>
            <select id="billing-country" name="country" autocomplete="country" aria-describedby="billing-country-error">
                <option value="" selected=selected.is_empty()>"—"</option>
                {page.countries.into_iter().map(|country| {
                    let chosen = country.code == selected;
                    view! { <option value=country.code selected=chosen>{country.name}</option> }
                }).collect_view()}
            </select>
            <FieldError id="billing-country-error" message=error_of("country")/>
            <TextField name="tax_id" label="Tax id (VAT number, EIN, ABN…)" value=details.tax_id error=error_of("tax_id") autocomplete="off"/>
            <p class="form-error" role="alert">{form_error}</p>
            <button type="submit" id="save-billing-details">"Save billing details"</button>
            {move || saved().then(|| view! { <ActionResult id="billing-details-saved-result"><p role="status" id="billing-details-saved">"Billing details saved."</p></ActionResult> })}
        </ActionForm>
    }
}

#[component]
fn TextField(
    name: &'static str,
    label: &'static str,
    value: String,
    error: Signal<Option<String>>,
    autocomplete: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(default = false)] required: bool,
) -> impl IntoView {
    let id = format!("billing-{}", name.replace('_', "-"));
    let error_id = format!("{id}-error");
    view! {
        <label for=id.clone()>{label}</label>
        // `prop:value` as well: after a save the form is rebuilt in place, which sets attributes,
        // and an attribute no longer changes what an input shows once someone has typed in it.
        <input id=id name=name type=kind value=value.clone() prop:value=value maxlength="200" autocomplete=autocomplete required=required
            aria-describedby=error_id.clone()/>
        <FieldError id=error_id message=error/>
    }
}

/// Who receives invoices and payment notices beside the billing email; owners add and remove them.
#[component]
fn BillingContacts(contacts: Vec<String>, can_edit: bool, organization_id: Signal<String>) -> impl IntoView {
    let add = ServerAction::<AddBillingContact>::new();
    toast_on_success(add, "Billing contact added.");
    let remove = ServerAction::<RemoveBillingContact>::new();
    toast_on_success(remove, "Billing contact removed.");
    // The list as the last successful change left it: each answer carries the whole list.
    let shown = RwSignal::new(contacts);
    Effect::new(move |_| {
        if let Some(Ok(page)) = add.value().get() {
            shown.set(page.contacts);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(page)) = remove.value().get() {
            shown.set(page.contacts);
        }
    });
    let error = Signal::derive(move || field_message(add.value().get(), "email"));
    view! {
        <section class="card" id="billing-contacts" aria-labelledby="contacts-heading">
            <h2 id="contacts-heading">"Billing contacts"</h2>
            <p class="hint">"They receive every invoice and payment notice, with the PDF, without logging in."</p>
            {move || {
                let list = shown.get();
                if list.is_empty() {
                    view! { <p id="no-contacts">"None yet: notices go to the billing email only."</p> }.into_any()
                } else {
                    view! {
                        <ul class="contacts">
                            {list.into_iter().map(|email| {
                                let label = format!("Remove {email}");
                                let value = email.clone();
                                view! {
                                    <li>
                                        <span>{email}</span>
                                        {can_edit.then(|| view! {
                                            <ActionForm action=remove attr:class="inline-action">
                                                <input type="hidden" name="organization_id" value=organization_id/>
                                                <input type="hidden" name="email" value=value/>
                                                <button type="submit" class="link-button" aria-label=label>"Remove"</button>
                                            </ActionForm>
                                        })}
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }
            }}
            {can_edit.then(|| view! {
                <ActionForm action=add attr:class="form inline" attr:id="add-contact-form">
                    <input type="hidden" name="organization_id" value=organization_id/>
                    <label for="contact-email">"Add a contact"</label>
                    <input id="contact-email" name="email" type="email" required maxlength="254" aria-describedby="contact-email-error"/>
                    <button type="submit" id="add-contact">"Add contact"</button>
                </ActionForm>
                <FieldError id="contact-email-error" message=error/>
            })}
        </section>
    }
}
