use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::dto::payments::{PaymentMethodPage, PaymentView};
use crate::api::payments::{SaveTestCard, StartCardSetup, get_payment_method_page};
use crate::api::session::whoami;
use crate::components::action_result::ActionResult;
use crate::components::error_view::ErrorView;
use crate::components::field_error::{FieldError, field_message, form_message};
use crate::components::layout::use_organization_id;
use crate::components::loading::Loading;
use crate::components::past_due::{Timeline, use_billing_refresh};
use crate::components::status::StatusBadge;
use crate::components::when::When;

/// The card on file, the form that replaces it, and every payment attempt.
#[component]
pub fn PaymentPage() -> impl IntoView {
    let organization_id = use_organization_id();
    let refresh = use_billing_refresh();
    let save = ServerAction::<SaveTestCard>::new();
    let page = Resource::new(
        move || (organization_id.get(), refresh.get(), save.version().get()),
        |(org, _, _)| get_payment_method_page(org),
    );
    // The banner on every page reads the new state too.
    Effect::new(move |previous: Option<usize>| {
        let version = save.version().get();
        if previous.is_some_and(|p| p != version) {
            refresh.update(|n| *n += 1);
        }
        version
    });
    let user = Resource::new(|| (), |_| whoami());
    view! {
        <Title text="Payment method · Billing portal"/>
        <h1>"Payment method"</h1>
        <Transition fallback=|| view! { <Loading what="payment details"/> }>
            {move || Suspend::new(async move {
                let page = match page.await {
                    Ok(page) => page,
                    Err(error) => return view! { <ErrorView error/> }.into_any(),
                };
                let org = organization_id.get_untracked();
                // Owners and the billing role keep the card.
                let is_owner = matches!(user.await, Ok(Some(u)) if u.keeps_billing(&org));
                view! { <PaymentDetails page is_owner save organization_id/> }.into_any()
            })}
        </Transition>
    }
}

#[component]
fn PaymentDetails(
    page: PaymentMethodPage,
    is_owner: bool,
    save: ServerAction<SaveTestCard>,
    organization_id: Signal<String>,
) -> impl IntoView {
    let saved = save.value().get_untracked().is_some_and(|r| r.is_ok());
    let outcome = saved.then(|| match (&page.status.past_due.is_empty(), &page.status.last_failure) {
        (true, _) => "Card saved. Nothing is past due.".to_owned(),
        (false, Some(failure)) => format!("Card saved, but paying with it failed: {failure}"),
        (false, None) => "Card saved.".to_owned(),
    });
    view! {
        <section class="card">
            <h2>"Card on file"</h2>
            {match page.card {
                Some(card) => view! {
                    <p id="card-on-file">{format!("{} •••• {}, expires {}", card.brand, card.last4, card.expires)}</p>
                }.into_any(),
                None => view! { <p id="card-on-file">"No payment method on file."</p> }.into_any(),
            }}
            {outcome.map(|text| view! { <ActionResult id="card-saved-result"><p id="card-saved" role="status">{text}</p></ActionResult> })}
            {(is_owner && page.test_mode).then(|| view! { <CardForm save organization_id/> })}
            {(is_owner && !page.test_mode).then(|| view! { <HostedSetup organization_id/> })}
            {(!is_owner).then(|| view! { <p id="member-note">"Only owners and billing members can change the payment method."</p> })}
        </section>
        {page.status.past_due.into_iter().map(|invoice| view! {
            <section class="card past-due">
                <h2>{format!("Invoice {} is past due ({})", invoice.number, invoice.amount_due)}</h2>
                <Timeline entries=invoice.timeline/>
            </section>
        }).collect_view()}
        <h2>"Payment history"</h2>
        <PaymentTable payments=page.payments id="payments" organization_id=organization_id.get_untracked()/>
    }
}

#[component]
fn CardForm(save: ServerAction<SaveTestCard>, organization_id: Signal<String>) -> impl IntoView {
    let error = move |field: &'static str| Signal::derive(move || field_message(save.value().get(), field));
    view! {
        <ActionForm action=save attr:id="card-form">
            <input type="hidden" name="organization_id" value=organization_id/>
            <p class="hint">"Test mode: 4242 4242 4242 4242 succeeds; 4000 0000 0000 0341 is declined; \
                4000 0000 0000 9995 has insufficient funds; 4000 0025 0000 3155 needs authentication."</p>
            <label>"Card number" <input name="number" autocomplete="cc-number" inputmode="numeric" maxlength="32" required/></label>
            <FieldError id="number-error" message=error("number")/>
            <label>"Expiry month" <input name="exp_month" inputmode="numeric" maxlength="2" required/></label>
            <FieldError id="exp-month-error" message=error("exp_month")/>
            <label>"Expiry year" <input name="exp_year" inputmode="numeric" maxlength="4" required/></label>
            <FieldError id="exp-year-error" message=error("exp_year")/>
            <button type="submit" id="save-card">"Save card"</button>
            <p class="form-error" role="alert">{move || form_message(save.value().get())}</p>
        </ActionForm>
    }
}

/// Stripe mode: the card is entered on Stripe's page; the portal learns of it by webhook.
#[component]
fn HostedSetup(organization_id: Signal<String>) -> impl IntoView {
    let start = ServerAction::<StartCardSetup>::new();
    Effect::new(move |_| {
        if let Some(Ok(url)) = start.value().get() {
            #[cfg(feature = "hydrate")]
            let _ = window().location().set_href(&url);
            #[cfg(not(feature = "hydrate"))]
            let _ = url;
        }
    });
    view! {
        <ActionForm action=start>
            <input type="hidden" name="organization_id" value=organization_id/>
            <button type="submit" id="start-card-setup">"Add or replace card on Stripe"</button>
            <p class="form-error" role="alert">{move || form_message(start.value().get())}</p>
        </ActionForm>
    }
}

/// Payment attempts, newest first.
#[component]
pub fn PaymentTable(payments: Vec<PaymentView>, #[prop(into)] id: String, organization_id: String) -> impl IntoView {
    if payments.is_empty() {
        return view! { <p class="empty">"No payments yet."</p> }.into_any();
    }
    view! {
        <table id=id class="stack">
            <thead><tr><th>"When"</th><th>"Invoice"</th><th>"Attempt"</th><th class="amount">"Amount"</th><th>"Result"</th><th>"Started by"</th><th>"Receipt"</th></tr></thead>
            <tbody>
                {payments.into_iter().map(|p| {
                    let receipt = (p.status == "succeeded").then(|| view! {
                        <a href=format!("/orgs/{organization_id}/payments/{}/receipt", p.id) download=""
                            aria-label=format!("Download the receipt of {} attempt {}", p.invoice_number, p.attempt)>"Receipt"</a>
                    });
                    view! {
                    <tr>
                        <td data-label="When"><When at=p.at/></td><td data-label="Invoice">{p.invoice_number}</td>
                        <td data-label="Attempt">{p.attempt}</td><td data-label="Amount" class="amount">{p.amount}</td>
                        <td data-label="Result"><StatusBadge state=p.status.clone()/>
                            {p.failure.map(|f| format!(": {f}"))}
                            {p.refunded.map(|r| format!(" (refunded {r})"))}</td>
                        <td data-label="Started by">{p.trigger}</td>
                        <td data-label="Receipt">{receipt}</td>
                    </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
