use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::admin::{
    AdminChangePlan, AdminPreviewPlanChange, InviteOwner, SetIngestQuota, SuspendCustomer, UnsuspendCustomer,
};
use crate::api::billing::{IssueCredit, VoidInvoice, get_admin_customer};
use crate::api::dto::billing::InvoiceSummary;
use crate::api::dto::payments::{NotificationView, PaymentView};
use crate::api::payments::{AdminRetryPayments, MarkUncollectible, RefundPayment};
use crate::components::action_result::ActionResult;
use crate::components::confirm::{ActionDialog, ReasonField};
use crate::components::disputes::DisputeTable;
use crate::components::error_view::ErrorView;
use crate::components::estimate::EstimateLine;
use crate::components::field_error::{FieldError, field_message, form_message};
use crate::components::layout::AdminHeader;
use crate::components::loading::Loading;
use crate::components::past_due::Timeline;
use crate::components::status::StatusBadge;
use crate::components::successes::successes;
use crate::components::toast::toast_on_success;
use crate::components::when::When;
use crate::pages::admin_actions::{IngestQuotaForm, InviteOwnerForm, PlanChangeForStaff, SuspensionForm};
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
    toast_on_success(void, "Invoice voided.");
    let refund = ServerAction::<RefundPayment>::new();
    toast_on_success(refund, "Refund issued.");
    let uncollectible = ServerAction::<MarkUncollectible>::new();
    toast_on_success(uncollectible, "Invoice marked uncollectible.");
    let retry = ServerAction::<AdminRetryPayments>::new();
    toast_on_success(retry, "Payment retried.");
    let suspend = ServerAction::<SuspendCustomer>::new();
    toast_on_success(suspend, "Customer suspended.");
    let unsuspend = ServerAction::<UnsuspendCustomer>::new();
    toast_on_success(unsuspend, "Suspension lifted.");
    let preview = ServerAction::<AdminPreviewPlanChange>::new();
    let change_plan = ServerAction::<AdminChangePlan>::new();
    toast_on_success(change_plan, "Plan changed.");
    let set_quota = ServerAction::<SetIngestQuota>::new();
    toast_on_success(set_quota, "Ingestion quota set.");
    let invite = ServerAction::<InviteOwner>::new();
    toast_on_success(invite, "Invitation sent to the new owner.");
    let changes = [
        successes(credit),
        successes(void),
        successes(refund),
        successes(uncollectible),
        successes(retry),
        successes(suspend),
        successes(unsuspend),
        successes(change_plan),
        successes(set_quota),
    ];
    let customer =
        Resource::new(move || (organization_id.get(), changes.map(|c| c.get())), |(org, _)| get_admin_customer(org));
    let query = use_query_map();
    let tab = Signal::derive(move || CustomerTab::from_key(&query.read().get("tab").unwrap_or_default()));
    view! {
        <Title text="Customer · Admin · Billing portal"/>
        <AdminHeader/>
        <main>
            <Suspense fallback=|| view! { <Loading what="the customer"/> }>
                {move || Suspend::new(async move {
                    let c = match customer.await {
                        Ok(c) => c,
                        Err(error) => return view! { <ErrorView error/> }.into_any(),
                    };
                    let tab = tab.get();
                    let org = c.organization_id.clone();
                    let past_due = c.payment_status.past_due.len();
                    let section = match tab {
                        CustomerTab::Overview => {
                            let suspended = c.subscription_status == "suspended";
                            let can_suspend = matches!(c.subscription_status.as_str(), "active" | "past_due");
                            let has_subscription = c.subscription_status != "none" && c.subscription_status != "canceled";
                            view! {
                                <h2>"Service"</h2>
                                <NamespaceStates namespaces=c.namespaces/>
                                <div class="actions">
                                    {(suspended || can_suspend).then(|| view! { <SuspensionForm suspend unsuspend organization_id=org.clone() suspended/> })}
                                </div>
                                <InviteOwnerForm invite organization_id=org.clone()/>
                                <h2>"Plan"</h2>
                                {(has_subscription && !c.plans.is_empty()).then(|| view! {
                                    <PlanChangeForStaff preview confirm=change_plan organization_id=org.clone() plans=c.plans/>
                                })}
                                <h3>"Subscription history"</h3>
                                <StatusHistory changes=c.status_history/>
                            }.into_any()
                        }
                        CustomerTab::Billing => {
                            let voidable: Vec<InvoiceSummary> = c.billing.invoices.iter()
                                .filter(|i| i.status == "open" || i.status == "finalized").cloned().collect();
                            view! {
                                <h2>"Invoices"</h2>
                                <InvoiceTable invoices=c.billing.invoices link_base=None organization_id=org.clone()/>
                                {(!voidable.is_empty()).then(|| view! {
                                    <ul class="row-actions" aria-label="Invoice actions">
                                        {voidable.into_iter().map(|i| view! {
                                            <li>
                                                <strong>{i.number.clone().unwrap_or_else(|| i.id.clone())}</strong>
                                                <VoidForm action=void invoice=i.clone()/>
                                                {(i.status == "open").then(|| view! { <UncollectibleForm action=uncollectible invoice=i/> })}
                                            </li>
                                        }).collect_view()}
                                    </ul>
                                })}
                                <h2>"Credits"</h2>
                                <CreditTable credits=c.billing.credits/>
                                <CreditForm action=credit organization_id=org.clone() idempotency_key=c.credit_form_key/>
                            }.into_any()
                        }
                        CustomerTab::Payments => {
                            let refund_key_base = c.credit_form_key.clone();
                            let refundable: Vec<PaymentView> = c.payments.iter().filter(|p| p.status == "succeeded").cloned().collect();
                            view! {
                                <h2>"Payments"</h2>
                                <PaymentTable payments=c.payments id="admin-payments" organization_id=org.clone()/>
                                {(!refundable.is_empty()).then(|| view! {
                                    <ul class="row-actions" aria-label="Refunds">
                                        {refundable.into_iter().map(|p| {
                                            let key = format!("{refund_key_base}-{}", p.id);
                                            view! { <li><RefundForm action=refund payment=p idempotency_key=key/></li> }
                                        }).collect_view()}
                                    </ul>
                                })}
                                <h3>"Disputes"</h3>
                                <DisputeTable disputes=c.disputes id="admin-disputes" empty="No disputes."/>
                                <h2>"Collection"</h2>
                                {c.payment_status.past_due.is_empty().then(|| view! { <p id="nothing-past-due" class="empty">"Nothing is past due."</p> })}
                                {(!c.payment_status.past_due.is_empty()).then(|| view! { <RetryForm action=retry organization_id=org.clone()/> })}
                                {c.payment_status.past_due.into_iter().map(|invoice| view! {
                                    <section class="card past-due">
                                        <h3>{format!("{} past due ({})", invoice.number, invoice.amount_due)}</h3>
                                        <Timeline entries=invoice.timeline/>
                                    </section>
                                }).collect_view()}
                            }.into_any()
                        }
                        CustomerTab::Usage => view! {
                            <h2>"Usage this period"</h2>
                            <PeriodUsage usage=c.period_usage/>
                            <h2>"Ingestion quota"</h2>
                            <p id="ingest-quota">{c.ingest_quota}</p>
                            <IngestQuotaForm action=set_quota organization_id=org.clone() current=c.ingest_quota_input/>
                        }.into_any(),
                        CustomerTab::Activity => view! {
                            <h2>"Ledger"</h2>
                            <LedgerTable lines=c.ledger/>
                            <h2>"Processor events"</h2>
                            <WebhookEvents events=c.webhook_events/>
                            <h2>"Mail log"</h2>
                            <MailLog notifications=c.notifications/>
                            <h2>"Audit log"</h2>
                            <AuditLog entries=c.audit/>
                        }.into_any(),
                    };
                    view! {
                        <h1 id="customer-name">{c.name}</h1>
                        <p class="customer-meta">
                            {c.billing_email} " · " <span id="customer-plan">{c.plan}</span> " "
                            <StatusBadge state=c.subscription_status.clone() id="customer-status"/>
                            " · " <code>{c.organization_id.clone()}</code>
                        </p>
                        <section class="tiles" aria-label="Key figures">
                            <div class="tile"><span class="tile-label">"Balance due"</span><strong id="balance-due">{c.billing.balance_due}</strong></div>
                            <div class="tile"><span class="tile-label">"Credit balance"</span><strong id="credit-balance">{c.billing.credit_balance}</strong></div>
                            <div class="tile"><span class="tile-label">"Past-due invoices"</span><strong id="past-due-count">{past_due}</strong></div>
                        </section>
                        <EstimateLine estimate=c.estimate/>
                        <nav class="tabs" aria-label="Customer sections">
                            {CustomerTab::ALL.into_iter().map(|t| {
                                let current = (t == tab).then_some("page");
                                view! { <a href=format!("?tab={}", t.key()) aria-current=current>{t.label()}</a> }
                            }).collect_view()}
                        </nav>
                        <section class="tab-panel" aria-label=tab.label()>{section}</section>
                    }.into_any()
                })}
            </Suspense>
        </main>
    }
}

/// The customer page's sections, each its own view of the same record (`?tab=billing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CustomerTab {
    Overview,
    Billing,
    Payments,
    Usage,
    Activity,
}

impl CustomerTab {
    const ALL: [CustomerTab; 5] = [Self::Overview, Self::Billing, Self::Payments, Self::Usage, Self::Activity];

    fn key(self) -> &'static str {
        match self {
            Self::Overview => "overview",
            Self::Billing => "billing",
            Self::Payments => "payments",
            Self::Usage => "usage",
            Self::Activity => "activity",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Overview => "Overview",
            Self::Billing => "Billing",
            Self::Payments => "Payments",
            Self::Usage => "Usage",
            Self::Activity => "Activity",
        }
    }

    fn from_key(key: &str) -> Self {
        Self::ALL.into_iter().find(|t| t.key() == key).unwrap_or(Self::Overview)
    }
}

/// Charges what is past due now, ahead of the next scheduled retry.
#[component]
fn RetryForm(action: ServerAction<AdminRetryPayments>, organization_id: String) -> impl IntoView {
    view! {
        <ActionForm action attr:class="action" attr:id="retry-form">
            <input type="hidden" name="organization_id" value=organization_id/>
            <ActionDialog id="retry-dialog" open="Retry the payment now…" title="Charge the customer now?"
                effect="The saved payment method is charged now for what is past due, ahead of the next scheduled retry."
                confirm="Retry payment now" confirm_id="retry-payments">
                <ReasonField id="retry-reason"/>
                <p class="form-error" role="alert">{move || form_message(action.value().get())}</p>
            </ActionDialog>
        </ActionForm>
    }
}

#[component]
fn CreditForm(action: ServerAction<IssueCredit>, organization_id: String, idempotency_key: String) -> impl IntoView {
    let error_of = move |field: &'static str| Signal::derive(move || field_message(action.value().get(), field));
    let granted = move || action.value().get().and_then(Result::ok);
    view! {
        <ActionForm action attr:class="action" attr:id="credit-form">
            <input type="hidden" name="organization_id" value=organization_id/>
            <input type="hidden" name="idempotency_key" value=idempotency_key/>
            <ActionDialog id="credit-dialog" open="Grant a credit…" title="Grant a credit?"
                effect="The amount is added to the customer's credit balance, which pays their next invoices first; \
                        the ledger books it and the audit log keeps the reason."
                confirm="Issue credit" confirm_id="issue-credit">
                <label for="credit-amount">"Amount"</label>
                <input id="credit-amount" name="amount" required inputmode="decimal" placeholder="25.00" aria-describedby="credit-amount-error"/>
                <FieldError id="credit-amount-error" message=error_of("amount")/>
                <label for="credit-expires">"Expires on (optional)"</label>
                <input id="credit-expires" name="expires" type="date" aria-describedby="credit-expires-error"/>
                <FieldError id="credit-expires-error" message=error_of("expires")/>
                <ReasonField id="credit-reason"/>
                <FieldError id="credit-reason-error" message=error_of("reason")/>
                <p class="form-error" role="alert">{move || form_message(action.value().get())}</p>
            </ActionDialog>
        </ActionForm>
        {move || granted().map(|g| view! {
            <ActionResult id="credit-result"><p role="status" id="credit-issued">{format!("Credit of {} issued.", g.amount)}</p></ActionResult>
        })}
    }
}

#[component]
fn VoidForm(action: ServerAction<VoidInvoice>, invoice: InvoiceSummary) -> impl IntoView {
    let label = invoice.number.unwrap_or_else(|| invoice.id.clone());
    view! {
        <ActionForm action attr:class="action void-form">
            <input type="hidden" name="invoice_id" value=invoice.id.clone()/>
            <ActionDialog id=format!("void-{}", invoice.id) open=format!("Void {label}…") title=format!("Void {label}?") danger=true
                effect=format!("{label} stops being owed: collection ends, and the ledger reverses what it booked. Its number stays taken.")
                confirm=format!("Void {label}")>
                <ReasonField id=format!("void-reason-{}", invoice.id)/>
                <p class="form-error" role="alert">{move || action.value().get().and_then(|r| r.err()).map(|e| e.message())}</p>
            </ActionDialog>
        </ActionForm>
    }
}

/// Writes an open invoice off: collection stops; a later payment still settles it.
#[component]
fn UncollectibleForm(action: ServerAction<MarkUncollectible>, invoice: InvoiceSummary) -> impl IntoView {
    let label = invoice.number.unwrap_or_else(|| invoice.id.clone());
    view! {
        <ActionForm action attr:class="action uncollectible-form">
            <input type="hidden" name="invoice_id" value=invoice.id.clone()/>
            <ActionDialog id=format!("uncollectible-{}", invoice.id) open=format!("Mark {label} uncollectible…")
                title=format!("Write {label} off?") danger=true
                effect="Collection stops and the amount is booked as bad debt. A payment that still arrives settles it."
                confirm=format!("Mark {label} uncollectible")>
                <ReasonField id=format!("uncollectible-reason-{}", invoice.id)/>
                <p class="form-error" role="alert">{move || form_message(action.value().get())}</p>
            </ActionDialog>
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
        <table id="mail-log" class="stack">
            <thead><tr><th>"When"</th><th>"To"</th><th>"Subject"</th><th>"Message"</th><th>"Delivery"</th></tr></thead>
            <tbody>
                {notifications.into_iter().map(|n| view! {
                    <tr data-kind=n.kind><td data-label="When"><When at=n.at/></td><td data-label="To">{n.recipient}</td><td data-label="Subject">{n.subject}</td><td data-label="Message">{n.body}</td>
                        <td data-label="Delivery">{n.delivery.unwrap_or_else(|| "queued".into())}</td></tr>
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
    let error_id = format!("refund-amount-error-{id}");
    let refunded = payment.refunded.clone().unwrap_or_else(|| "nothing refunded yet".into());
    let (data_payment, dialog_id, reason_id) = (id.clone(), format!("refund-{id}"), format!("refund-reason-{id}"));
    view! {
        <ActionForm action attr:class="action refund" attr:data-payment=data_payment>
            <span>{format!("{} for {} ({refunded})", payment.amount, payment.invoice_number)}</span>
            <input type="hidden" name="payment_id" value=id/>
            <input type="hidden" name="idempotency_key" value=idempotency_key/>
            <ActionDialog id=dialog_id open="Refund…" title=format!("Refund part of {}?", payment.amount) danger=true
                effect=format!("The amount goes back to the customer's card through the processor, once even if sent \
                                twice, and the ledger books it against {}.", payment.invoice_number)
                confirm="Refund">
                <label for=amount_id.clone()>"Refund amount"</label>
                <input id=amount_id name="amount" required inputmode="decimal" placeholder="10.00"/>
                <FieldError id=error_id message=error_of("amount")/>
                <ReasonField id=reason_id/>
                <p class="form-error" role="alert">{move || form_message(action.value().get())}</p>
            </ActionDialog>
        </ActionForm>
    }
}
