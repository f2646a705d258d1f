use std::time::Duration;

use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::dto::SessionUser;
use crate::api::dto::payments::{BillingStatus, TimelineEntry};
use crate::api::error::AppError;
use crate::api::payments::{PayNow, get_billing_status};
use crate::components::field_error::form_message;
use crate::components::layout::use_organization_id;
use crate::components::when::When;

/// Where the card holder confirms a payment their bank asked them to: the link mailed to them
/// and shown in the banner. Followed as a full page load, so that in Stripe mode the page's
/// Content-Security-Policy admits Stripe.js.
pub fn pay_page_href(organization_id: &str, invoice_id: &str) -> String {
    format!("/orgs/{organization_id}/invoices/{invoice_id}/pay")
}

/// Bumped whenever something may have changed what the organization owes, so the banner and
/// the payment page read it again.
#[derive(Clone, Copy)]
pub struct BillingRefresh(pub RwSignal<u32>);

pub fn use_billing_refresh() -> RwSignal<u32> {
    use_context::<BillingRefresh>().map(|r| r.0).unwrap_or_else(|| RwSignal::new(0))
}

/// While a payment is past due: on every page of the organization, what is owed, why the last
/// attempt failed, what happens next, and "Pay now". It polls while shown, because a payment
/// can settle through a webhook at any moment, and disappears the moment nothing is past due.
/// `user` is the layout's: owners and billing members get "Pay now", the others whom to ask.
#[component]
pub fn PastDueBanner(user: Resource<Result<Option<SessionUser>, AppError>>) -> impl IntoView {
    let organization_id = use_organization_id();
    let refresh = use_billing_refresh();
    let pay = ServerAction::<PayNow>::new();
    let status = Resource::new(
        move || (organization_id.get(), refresh.get(), pay.version().get()),
        |(org, _, _)| get_billing_status(org),
    );
    Effect::new(move |_| {
        let past_due = status.get().and_then(Result::ok).is_some_and(|s| !s.past_due.is_empty());
        if past_due
            && let Ok(handle) = set_interval_with_handle(move || refresh.update(|n| *n += 1), Duration::from_secs(5))
        {
            on_cleanup(move || handle.clear());
        }
    });
    view! {
        <Transition>
            {move || Suspend::new(async move {
                let org = organization_id.get_untracked();
                let can_pay = matches!(user.await, Ok(Some(u)) if u.keeps_billing(&org));
                status.await.ok().and_then(|status| banner(status, org, pay, can_pay))
            })}
        </Transition>
    }
}

fn banner(status: BillingStatus, org: String, pay: ServerAction<PayNow>, can_pay: bool) -> Option<AnyView> {
    let invoice = status.past_due.first()?.clone();
    // A payment waiting for the card holder is not a failure to explain but a step to take: the
    // banner says so and leads to it, instead of offering another charge that would wait too.
    let waits = invoice.awaits_confirmation;
    let headline = if status.suspended {
        "Service suspended"
    } else if waits {
        "Payment waiting for you"
    } else {
        "Payment past due"
    };
    let last_failure = status.last_failure.filter(|_| !waits);
    let pay_href = pay_page_href(&org, &invoice.invoice_id);
    let payment_href = format!("/orgs/{org}/payment");
    let primary = if waits {
        view! { <a class="button" id="confirm-payment" rel="external" href=pay_href>"Confirm payment"</a> }.into_any()
    } else {
        view! {
            <ActionForm action=pay>
                <input type="hidden" name="organization_id" value=org/>
                <button type="submit" id="pay-now">"Pay now"</button>
            </ActionForm>
        }
        .into_any()
    };
    let who_acts = if waits {
        "An owner or a billing member can confirm it with the bank, or update the card."
    } else {
        "An owner or a billing member can pay it or update the card."
    };
    Some(
        view! {
            <div id="past-due-banner" class="banner" role="alert">
                <p>
                    <strong>{headline} ": "</strong>
                    {format!("invoice {} ({}) is unpaid.", invoice.number, invoice.amount_due)}
                    {last_failure.map(|f| view! { " " <span id="last-failure">{format!("Last attempt: {f}")}</span> })}
                    {waits.then(|| view! { " " <span id="confirm-payment-prompt">"Your bank asks you to confirm this payment."</span> })}
                </p>
                <p>
                    {invoice.next_retry.map(|at| match invoice.next_retry_in.as_deref() {
                        Some(words) => format!("Next automatic retry {words}, {at}. "),
                        None => format!("Next automatic retry: {at}. "),
                    })}
                    {invoice.suspends_in_days.map(|d| view! {
                        <span id="suspends-in">{format!("Service is suspended in {d} day{} unless paid. ", if d == 1 { "" } else { "s" })}</span>
                    })}
                    {invoice.cancels_on.map(|at| format!("Unpaid, the subscription is canceled on {at}."))}
                </p>
                <details>
                    <summary>"What happened"</summary>
                    <Timeline entries=invoice.timeline/>
                </details>
                {if can_pay {
                    view! {
                        <div class="actions">
                            {primary}
                            <A href=payment_href>"Update payment method"</A>
                            <span class="form-error">{move || form_message(pay.value().get())}</span>
                        </div>
                    }.into_any()
                } else {
                    view! { <p id="ask-to-pay">{who_acts}</p> }.into_any()
                }}
            </div>
        }
        .into_any(),
    )
}

#[component]
pub fn Timeline(entries: Vec<TimelineEntry>) -> impl IntoView {
    view! {
        <ol class="timeline">
            {entries.into_iter().map(|e| view! {
                <li data-kind=e.kind.clone()><When at=e.at/> " " {e.detail}</li>
            }).collect_view()}
        </ol>
    }
}
