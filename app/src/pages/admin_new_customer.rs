use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use crate::api::admin::CreateCustomer;
use crate::components::field_error::{FieldError, field_message, form_message};

/// Staff create a customer sold to by hand; its first owner is invited by mail. On success the
/// console opens the new customer's page.
#[component]
pub fn NewCustomer(plans: Vec<String>) -> impl IntoView {
    let create = ServerAction::<CreateCustomer>::new();
    let error = move |field: &'static str| Signal::derive(move || field_message(create.value().get(), field));
    Effect::new(move |_| {
        if let Some(Ok(organization_id)) = create.value().get() {
            use_navigate()(&format!("/admin/orgs/{organization_id}"), Default::default());
        }
    });
    view! {
        <details class="card" id="new-customer">
            <summary>"New customer"</summary>
            <ActionForm action=create attr:class="form" attr:id="new-customer-form">
                <p class="hint">"For a customer sold to by hand. Its first owner gets an invitation by mail to take it over."</p>
                <label for="new-customer-name">"Organization name"</label>
                <input id="new-customer-name" name="form[name]" required maxlength="100"/>
                <FieldError id="new-customer-name-error" message=error("name")/>
                <label for="customer-billing-email">"Billing email"</label>
                <input id="customer-billing-email" name="form[billing_email]" type="email" required/>
                <FieldError id="customer-billing-email-error" message=error("billing_email")/>
                <label for="customer-plan">"Plan"</label>
                <select id="customer-plan" name="form[plan]">
                    <option value="">"None yet: the owner chooses"</option>
                    {plans.into_iter().map(|p| { let value = p.clone(); view! { <option value=value>{p}</option> } }).collect_view()}
                </select>
                <FieldError id="customer-plan-error" message=error("plan")/>
                <label for="customer-trial">"Free trial in days (optional, up to 90)"</label>
                <input id="customer-trial" name="form[trial_days]" inputmode="numeric"/>
                <FieldError id="customer-trial-error" message=error("trial_days")/>
                <label for="customer-owner">"First owner's email"</label>
                <input id="customer-owner" name="form[owner_email]" type="email" required/>
                <FieldError id="customer-owner-error" message=error("owner_email")/>
                <label for="customer-reason">"Reason (audit log): the deal or contract"</label>
                <input id="customer-reason" name="form[reason]" required maxlength="500"/>
                <FieldError id="customer-reason-error" message=error("reason")/>
                <button type="submit" id="create-customer" disabled=move || create.pending().get()>
                    "Create customer and invite the owner"
                </button>
                <p class="form-error" role="alert">{move || form_message(create.value().get())}</p>
            </ActionForm>
        </details>
    }
}
