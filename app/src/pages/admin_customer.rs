use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::admin::{AdminChangePlan, AdminPreviewPlanChange, InviteOwner, SuspendCustomer, UnsuspendCustomer};
use crate::api::billing::{IssueCredit, VoidInvoice, get_admin_customer};
use crate::api::dto::MAX_REASON_LEN;
use crate::api::dto::billing::InvoiceSummary;
use crate::api::dto::payments::{NotificationView, PaymentView};
use crate::api::payments::{AdminRetryPayments, MarkUncollectible, RefundPayment};
use crate::components::confirm::{ConfirmCheck, StaffReason};
use crate::components::disputes::DisputeTable;
use crate::components::error_view::ErrorView;
use crate::components::estimate::EstimateLine;
use crate::components::field_error::{FieldError, field_message, form_message};
use crate::components::layout::AdminHeader;
use crate::components::past_due::Timeline;
use crate::pages::admin_actions::{InviteOwnerForm, PlanChangeForStaff, SuspensionForm};
use crate::pages::admin_records::{AuditLog, LedgerTable, NamespaceStates, PeriodUsage, StatusHistory, WebhookEvents};
use crate::pages::invoices::{CreditTable, InvoiceTable};
use crate::pages::payment::PaymentTable;

/// Staff only: one customer's billing, with credits and voids (both audited).
#[component]
pub fn AdminCustomerPage() -> impl IntoView {
    let params = use_params_map();
    let organization_id = Signal::derive(move || params.read().get("org").unwrap_or_default());
    let credit = ServerAction::<IssueCredit>::new();
    let void = ServerAction::<VoidInvoice>::new();
    let refund = ServerAction::<RefundPayment>::new();
    let uncollectible = ServerAction::<MarkUncollectible>::new();
    let retry = ServerAction::<AdminRetryPayments>::new();
    let suspend = ServerAction::<SuspendCustomer>::new();
    let unsuspend = ServerAction::<UnsuspendCustomer>::new();
    let preview = ServerAction::<AdminPreviewPlanChange>::new();
    let change_plan = ServerAction::<AdminChangePlan>::new();
    let invite = ServerAction::<InviteOwner>::new();
    let customer = Resource::new(
        move || {
            let versions = [
                credit.version(),
                void.version(),
                refund.version(),
                uncollectible.version(),
                retry.version(),
                suspend.version(),
                unsuspend.version(),
                change_plan.version(),
            ];
            (organization_id.get(), versions.map(|v| v.get()))
        },
        |(org, _)| get_admin_customer(org),
    );
    view! {
        <Title text="Customer · Admin · Billing portal"/>
        <AdminHeader/>
        <main>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let c = match customer.await {
                        Ok(c) => c,
                        Err(error) => return view! { <ErrorView error/> }.into_any(),
                    };
                    let voidable: Vec<InvoiceSummary> = c.billing.invoices.iter()
                        .filter(|i| i.status == "open" || i.status == "finalized").cloned().collect();
                    let refund_key_base = c.credit_form_key.clone();
                    let retry_org = c.organization_id.clone();
                    let suspended = c.subscription_status == "suspended";
                    let can_suspend = matches!(c.subscription_status.as_str(), "active" | "past_due");
                    let has_subscription = c.subscription_status != "none" && c.subscription_status != "canceled";
                    let org = c.organization_id.clone();
                    view! {
                        <h1 id="customer-name">{c.name}</h1>
                        <p>{c.billing_email} " · " <span id="customer-plan">{c.plan}</span> " (" <span id="customer-status">{c.subscription_status}</span> ") · "
                            <code>{c.organization_id.clone()}</code></p>
                        <section class="card balances">
                            <p>"Balance due: " <strong id="balance-due">{c.billing.balance_due}</strong></p>
                            <p>"Credit balance: " <strong id="credit-balance">{c.billing.credit_balance}</strong></p>
                            <EstimateLine estimate=c.estimate/>
                        </section>
                        {view! {
                        <h2>"Service"</h2>
                        <NamespaceStates namespaces=c.namespaces/>
                        {(suspended || can_suspend).then(|| view! { <SuspensionForm suspend unsuspend organization_id=org.clone() suspended/> })}
                        <InviteOwnerForm invite organization_id=org.clone()/>
                        <h2>"Plan"</h2>
                        {(has_subscription && !c.plans.is_empty()).then(|| view! {
                            <PlanChangeForStaff preview confirm=change_plan organization_id=org.clone() plans=c.plans/>
                        })}
                        <h3>"Subscription history"</h3>
                        <StatusHistory changes=c.status_history/>
                        <h2>"Usage this period"</h2>
                        <PeriodUsage usage=c.period_usage/>
                        }.into_any()}
                        {view! {
                        <h2>"Invoices"</h2>
                        <InvoiceTable invoices=c.billing.invoices link_base=None organization_id=c.organization_id.clone()/>
                        {voidable.iter().cloned().map(|i| view! { <VoidForm action=void invoice=i/> }).collect_view()}
                        {voidable.into_iter().filter(|i| i.status == "open").map(|i| view! { <UncollectibleForm action=uncollectible invoice=i/> }).collect_view()}
                        <h2>"Credits"</h2>
                        <CreditTable credits=c.billing.credits/>
                        <CreditForm action=credit organization_id=c.organization_id.clone() idempotency_key=c.credit_form_key/>
                        <h2>"Payments"</h2>
                        <PaymentTable payments=c.payments.clone() id="admin-payments" organization_id=c.organization_id.clone()/>
                        <h3>"Disputes"</h3>
                        <DisputeTable disputes=c.disputes id="admin-disputes" empty="No disputes."/>
                        {c.payments.into_iter().filter(|p| p.status == "succeeded").map(|p| {
                            let key = format!("{refund_key_base}-{}", p.id);
                            view! { <RefundForm action=refund payment=p idempotency_key=key/> }
                        }).collect_view()}
                        <h2>"Collection"</h2>
                        {c.payment_status.past_due.is_empty().then(|| view! { <p id="nothing-past-due">"Nothing is past due."</p> })}
                        {(!c.payment_status.past_due.is_empty()).then(|| view! {
                            <ActionForm action=retry attr:class="card form" attr:id="retry-form">
                                <input type="hidden" name="organization_id" value=retry_org/>
                                <StaffReason label="Retry the payment now (reason)" confirm="Confirm: charge the customer now"/>
                                <button type="submit" id="retry-payments">"Retry payment now"</button>
                                <p class="form-error" role="alert">{move || form_message(retry.value().get())}</p>
                            </ActionForm>
                        })}
                        {c.payment_status.past_due.into_iter().map(|invoice| view! {
                            <section class="card past-due">
                                <h3>{format!("{} past due ({})", invoice.number, invoice.amount_due)}</h3>
                                <Timeline entries=invoice.timeline/>
                            </section>
                        }).collect_view()}
                        }.into_any()}
                        {view! {
                        <h2>"Ledger"</h2>
                        <LedgerTable lines=c.ledger/>
                        <h2>"Processor events"</h2>
                        <WebhookEvents events=c.webhook_events/>
                        <h2>"Mail log"</h2>
                        <MailLog notifications=c.notifications/>
                        <h2>"Audit log"</h2>
                        <AuditLog entries=c.audit/>
                        }.into_any()}
                    }.into_any()
                })}
            </Suspense>
        </main>
    }
}

#[component]
fn CreditForm(action: ServerAction<IssueCredit>, organization_id: String, idempotency_key: String) -> impl IntoView {
    let error_of = move |field: &'static str| Signal::derive(move || field_message(action.value().get(), field));
    let granted = move || action.value().get().and_then(Result::ok);
    view! {
        <ActionForm action attr:class="card form" attr:id="credit-form">
            <input type="hidden" name="organization_id" value=organization_id/>
            <input type="hidden" name="idempotency_key" value=idempotency_key/>
            <label for="credit-amount">"Amount"</label>
            <input id="credit-amount" name="amount" required inputmode="decimal" placeholder="25.00" aria-describedby="credit-amount-error"/>
            <FieldError id="credit-amount-error" message=error_of("amount")/>
            <label for="credit-reason">"Reason (recorded in the audit log)"</label>
            <input id="credit-reason" name="reason" required maxlength=MAX_REASON_LEN aria-describedby="credit-reason-error"/>
            <FieldError id="credit-reason-error" message=error_of("reason")/>
            <label for="credit-expires">"Expires on (optional)"</label>
            <input id="credit-expires" name="expires" type="date" aria-describedby="credit-expires-error"/>
            <FieldError id="credit-expires-error" message=error_of("expires")/>
            <ConfirmCheck text="Confirm: grant this credit"/>
            <p class="form-error" role="alert">{move || form_message(action.value().get())}</p>
            <button type="submit" id="issue-credit">"Issue credit"</button>
        </ActionForm>
        {move || granted().map(|g| view! { <p role="status" id="credit-issued">{format!("Credit of {} issued.", g.amount)}</p> })}
    }
}

#[component]
fn VoidForm(action: ServerAction<VoidInvoice>, invoice: InvoiceSummary) -> impl IntoView {
    let label = invoice.number.unwrap_or_else(|| invoice.id.clone());
    view! {
        <ActionForm action attr:class="card form void-form">
            <input type="hidden" name="invoice_id" value=invoice.id/>
            <StaffReason label=format!("Void {label} (reason)") confirm=format!("Confirm: void {label}")/>
            <button type="submit">{format!("Void {label}")}</button>
            <p class="form-error" role="alert">{move || action.value().get().and_then(|r| r.err()).map(|e| e.message())}</p>
        </ActionForm>
    }
}

/// Writes an open invoice off: collection stops; a later payment still settles it.
#[component]
fn UncollectibleForm(action: ServerAction<MarkUncollectible>, invoice: InvoiceSummary) -> impl IntoView {
    let label = invoice.number.unwrap_or_else(|| invoice.id.clone());
    view! {
        <ActionForm action attr:class="card form uncollectible-form">
            <input type="hidden" name="invoice_id" value=invoice.id/>
            <StaffReason label=format!("Mark {label} uncollectible (reason)") confirm=format!("Confirm: write {label} off")/>
            <button type="submit">{format!("Mark {label} uncollectible")}</button>
            <p class="form-error" role="alert">{move || form_message(action.value().get())}</p>
        </ActionForm>
    }
}

/// Notifications sent to the customer (kept here when no mail server is configured).
#[component]
fn MailLog(notifications: Vec<NotificationView>) -> impl IntoView {
    if notifications.is_empty() {
        return view! { <p class="empty">"No notifications yet."</p> }.into_any();
    }
    view! {
        <table id="mail-log">
            <thead><tr><th>"When"</th><th>"To"</th><th>"Subject"</th><th>"Message"</th><th>"Delivery"</th></tr></thead>
            <tbody>
                {notifications.into_iter().map(|n| view! {
                    <tr data-kind=n.kind><td>{n.at}</td><td>{n.recipient}</td><td>{n.subject}</td><td>{n.body}</td>
                        <td>{n.delivery.unwrap_or_else(|| "queued".into())}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// Refunds part or all of a succeeded payment, with a reason for the audit log.
#[component]
fn RefundForm(action: ServerAction<RefundPayment>, payment: PaymentView, idempotency_key: String) -> impl IntoView {
    let id = payment.id.clone();
    let error_of = move |field: &'static str| Signal::derive(move || field_message(action.value().get(), field));
    let amount_id = format!("refund-amount-{id}");
    let reason_id = format!("refund-reason-{id}");
    let error_id = format!("refund-amount-error-{id}");
    let hidden_id = id.clone();
    view! {
        <ActionForm action attr:class="card form refund" attr:data-payment=id>
            <h3>{format!("Refund {} of {} ({})", payment.amount, payment.invoice_number, payment.refunded.unwrap_or_else(|| "nothing refunded yet".into()))}</h3>
            <input type="hidden" name="payment_id" value=hidden_id/>
            <input type="hidden" name="idempotency_key" value=idempotency_key/>
            <label for=amount_id.clone()>"Refund amount"</label>
            <input id=amount_id name="amount" required inputmode="decimal" placeholder="10.00"/>
            <FieldError id=error_id message=error_of("amount")/>
            <label for=reason_id.clone()>"Refund reason"</label>
            <input id=reason_id name="reason" required maxlength=MAX_REASON_LEN/>
            <ConfirmCheck text=format!("Confirm: refund payment {}", payment.id)/>
            <p class="form-error" role="alert">{move || form_message(action.value().get())}</p>
            <button type="submit">"Refund"</button>
        </ActionForm>
    }
}
