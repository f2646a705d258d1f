use std::time::Duration;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::dto::payments::{PayPage, PayStep};
use crate::api::payments::{ConfirmTestPayment, get_billing_status, get_pay_page};
use crate::components::error_view::ErrorView;
use crate::components::field_error::form_message;
use crate::components::layout::use_organization_id;
use crate::components::loading::Loading;
use crate::components::past_due::use_billing_refresh;

/// An invoice's Pay page: the payment that waits for the card holder, confirmed here with the
/// bank (test mode's simulated step, or Stripe.js), then the invoice shown paid.
#[component]
pub fn PayInvoicePage() -> impl IntoView {
    let organization_id = use_organization_id();
    let params = use_params_map();
    let invoice_id = move || params.read().get("invoice").unwrap_or_default();
    let refresh = use_billing_refresh();
    let confirm = ServerAction::<ConfirmTestPayment>::new();
    // Not the banner's polling: a page read again every few seconds would wipe what Stripe.js
    // wrote on it. It reads again after a confirmation, or once Stripe's payment has settled.
    let settled = RwSignal::new(0u32);
    let page = Resource::new(
        move || (organization_id.get(), invoice_id(), confirm.version().get(), settled.get()),
        |(org, invoice, _, _)| get_pay_page(org, invoice),
    );
    // The banner on every page reads the new state too.
    Effect::new(move |previous: Option<usize>| {
        let version = confirm.version().get();
        if previous.is_some_and(|p| p != version) {
            refresh.update(|n| *n += 1);
        }
        version
    });
    view! {
        <Title text="Confirm your payment · Billing portal"/>
        <h1>"Confirm your payment"</h1>
        <Transition fallback=|| view! { <Loading what="the invoice"/> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(page) => view! { <PayStepView page confirm settled organization_id=organization_id.get_untracked()/> }.into_any(),
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn PayStepView(
    page: PayPage,
    confirm: ServerAction<ConfirmTestPayment>,
    settled: RwSignal<u32>,
    organization_id: String,
) -> impl IntoView {
    let invoice_href = format!("/orgs/{organization_id}/invoices/{}", page.invoice_id);
    let card =
        page.card.as_ref().map(|c| format!("{} •••• {}", c.brand, c.last4)).unwrap_or_else(|| "your card".into());
    let summary = format!("Invoice {}: {} to {}.", page.invoice_number, page.amount_due, card);
    let notice = confirm.value().get_untracked().and_then(|r| r.ok()).and_then(|p| p.notice);
    match page.step {
        PayStep::Paid => view! {
            <section class="card" id="pay-status" data-step="paid" role="status">
                <p><strong>{format!("Invoice {} is paid.", page.invoice_number)}</strong>
                    " Thank you: a receipt is on its way to your billing contacts."</p>
                <p><a href=invoice_href>"View the invoice"</a></p>
            </section>
        }
        .into_any(),
        PayStep::NothingToConfirm => view! {
            <section class="card" id="pay-status" data-step="nothing" role="status">
                <p>{format!("No payment for invoice {} waits for your confirmation.", page.invoice_number)}</p>
                <p>"If a payment failed for another reason, "
                    <a href=format!("/orgs/{organization_id}/payment")>"update your payment method"</a>
                    " and it is charged again at once."</p>
            </section>
        }
        .into_any(),
        PayStep::TestAuthentication => view! {
            <section class="card" id="pay-status" data-step="confirm" aria-labelledby="bank-step">
                <p>{summary}</p>
                <h2 id="bank-step">"Your bank asks you to confirm this payment"</h2>
                <p class="hint">"Test mode: this step stands in for your bank's 3-D Secure page."</p>
                {notice.map(|n| view! { <p class="notice" id="pay-notice" role="status">{n}</p> })}
                <div class="actions">
                    <OutcomeForm confirm organization_id=organization_id.clone() invoice_id=page.invoice_id.clone()
                        outcome="approve" label="Confirm payment" id="approve-payment"/>
                    <OutcomeForm confirm organization_id invoice_id=page.invoice_id
                        outcome="fail" label="Fail authentication" id="fail-payment"/>
                </div>
                <p class="form-error" role="alert">{move || form_message(confirm.value().get())}</p>
            </section>
        }
        .into_any(),
        PayStep::Stripe { publishable_key, client_secret, payment_method_id } => view! {
            <section class="card" id="pay-status" data-step="confirm" aria-labelledby="bank-step">
                <p>{summary}</p>
                <h2 id="bank-step">"Your bank asks you to confirm this payment"</h2>
                <p>"Your bank's page opens here; the invoice turns paid a moment after you confirm."</p>
                <button type="button" id="stripe-confirm" data-publishable-key=publishable_key
                    data-client-secret=client_secret data-payment-method=payment_method_id>"Confirm payment"</button>
                <p id="stripe-status" role="status"></p>
                <StripeWatcher organization_id invoice_id=page.invoice_id settled/>
                <script src="/stripe-confirm.js"></script>
            </section>
        }
        .into_any(),
    }
}

#[component]
fn OutcomeForm(
    confirm: ServerAction<ConfirmTestPayment>,
    organization_id: String,
    invoice_id: String,
    outcome: &'static str,
    label: &'static str,
    id: &'static str,
) -> impl IntoView {
    view! {
        <ActionForm action=confirm>
            <input type="hidden" name="organization_id" value=organization_id/>
            <input type="hidden" name="invoice_id" value=invoice_id/>
            <input type="hidden" name="outcome" value=outcome/>
            <button type="submit" id=id class=if outcome == "fail" { "secondary" } else { "" }>{label}</button>
        </ActionForm>
    }
}

/// With Stripe the payment settles by webhook after Stripe.js confirms it: the organization's
/// billing status (not Stripe) is read every few seconds, and the page shown again once the
/// invoice is no longer past due.
#[component]
fn StripeWatcher(organization_id: String, invoice_id: String, settled: RwSignal<u32>) -> impl IntoView {
    Effect::new(move |_| {
        let (org, invoice) = (organization_id.clone(), invoice_id.clone());
        let look = move || {
            let (org, invoice) = (org.clone(), invoice.clone());
            leptos::task::spawn_local(async move {
                if get_billing_status(org).await.is_ok_and(|s| s.past_due.iter().all(|p| p.invoice_id != invoice)) {
                    settled.update(|n| *n += 1);
                }
            });
        };
        if let Ok(handle) = set_interval_with_handle(look, Duration::from_secs(3)) {
            on_cleanup(move || handle.clear());
        }
    });
}
