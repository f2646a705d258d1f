use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::billing::{get_invoice, get_invoices};
use crate::api::dto::billing::{CreditView, InvoiceSummary};
use crate::components::error_view::ErrorView;
use crate::components::layout::use_organization_id;
use crate::components::loading::Loading;
use crate::components::status::StatusBadge;
use crate::components::when::{MaybeWhen, When};
use crate::pages::payment::PaymentTable;

/// Where a finalized invoice's PDF downloads from.
pub fn invoice_pdf_href(organization_id: &str, invoice_id: &str) -> String {
    format!("/orgs/{organization_id}/invoices/{invoice_id}/pdf")
}

/// Invoices of one organization, newest first, with balances from the ledger. `link_base` is
/// where an invoice's number links to (`…/invoices`), or `None` for no links.
#[component]
pub fn InvoiceTable(
    invoices: Vec<InvoiceSummary>,
    link_base: Option<String>,
    organization_id: String,
) -> impl IntoView {
    if invoices.is_empty() {
        return view! { <p id="no-invoices">"No invoices yet: the first one is drafted when the current period ends."</p> }
            .into_any();
    }
    view! {
        <table id="invoices" class="stack">
            <thead><tr><th>"Number"</th><th>"Period"</th><th>"Status"</th><th class="amount">"Total"</th><th class="amount">"Amount due"</th><th>"Due"</th><th>"PDF"</th></tr></thead>
            <tbody>
                {invoices.into_iter().map(|invoice| {
                    let label = invoice.number.clone().unwrap_or_else(|| "Draft".to_owned());
                    let pdf = invoice.number.as_ref().map(|number| view! {
                        <a href=invoice_pdf_href(&organization_id, &invoice.id) download=""
                            aria-label=format!("Download {number} as PDF")>"PDF"</a>
                    });
                    let number = match &link_base {
                        Some(base) => view! { <a href=format!("{base}/{}", invoice.id)>{label}</a> }.into_any(),
                        None => view! { <span>{label}</span> }.into_any(),
                    };
                    view! {
                        <tr data-invoice=invoice.id.clone()>
                            <td data-label="Number">{number}</td><td data-label="Period">{invoice.period}</td>
                            <td data-label="Status"><StatusBadge state=invoice.status.clone()/></td>
                            <td data-label="Total" class="amount">{invoice.total}</td>
                            <td data-label="Amount due" class="amount">{invoice.amount_due}</td>
                            <td data-label="Due"><MaybeWhen at=invoice.due otherwise=""/></td>
                            <td data-label="PDF">{pdf}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
pub fn CreditTable(credits: Vec<CreditView>) -> impl IntoView {
    (!credits.is_empty()).then(|| view! {
        <table id="credits" class="stack">
            <thead><tr><th class="amount">"Credit"</th><th class="amount">"Left"</th><th>"Reason"</th><th>"Expires"</th></tr></thead>
            <tbody>
                {credits.into_iter().map(|c| view! {
                    <tr><td data-label="Credit" class="amount">{c.amount}</td><td data-label="Left" class="amount">{c.remaining}</td><td data-label="Reason">{c.reason}</td><td data-label="Expires"><MaybeWhen at=c.expires otherwise="never"/></td></tr>
                }).collect_view()}
            </tbody>
        </table>
    })
}

#[component]
pub fn InvoicesPage() -> impl IntoView {
    let organization_id = use_organization_id();
    let page = Resource::new(move || organization_id.get(), get_invoices);
    view! {
        <Title text="Invoices · Billing portal"/>
        <h1>"Invoices"</h1>
        <Suspense fallback=|| view! { <Loading what="invoices"/> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(page) => view! {
                        <section class="card balances">
                            <p>"Balance due: " <strong id="balance-due">{page.balance_due}</strong></p>
                            <p>"Credit balance: " <strong id="credit-balance">{page.credit_balance}</strong></p>
                        </section>
                        <InvoiceTable invoices=page.invoices link_base=Some(format!("/orgs/{}/invoices", organization_id.get_untracked()))
                            organization_id=organization_id.get_untracked()/>
                        <CreditTable credits=page.credits/>
                    }.into_any(),
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// One invoice, laid out to print: lines by namespace and metric with tiers, prorations,
/// adjustments, then credits and the amount due.
#[component]
pub fn InvoicePage() -> impl IntoView {
    let organization_id = use_organization_id();
    let params = use_params_map();
    let invoice = Resource::new(
        move || (organization_id.get(), params.read().get("invoice").unwrap_or_default()),
        |(org, id)| get_invoice(org, id),
    );
    view! {
        <Suspense fallback=|| view! { <Loading what="the invoice"/> }>
            {move || Suspend::new(async move {
                let detail = match invoice.await {
                    Ok(detail) => detail,
                    Err(error) => return view! { <ErrorView error/> }.into_any(),
                };
                let s = detail.summary;
                let title = s.number.clone().unwrap_or_else(|| "Draft invoice".to_owned());
                let org = organization_id.get_untracked();
                let pdf = s.number.is_some().then(|| view! {
                    <p class="no-print"><a id="invoice-pdf" href=invoice_pdf_href(&org, &s.id) download="">"Download PDF"</a></p>
                });
                view! {
                    <Title text=format!("{title} · Billing portal")/>
                    <article class="invoice" id="invoice">
                        <header>
                            <h1 id="invoice-number">{title}</h1>
                            <p>{detail.organization_name} " · " {detail.billing_email}</p>
                            <p>"Period " {s.period} " · status " <StatusBadge state=s.status.clone() id="invoice-status"/>
                                {s.due.map(|at| view! { " · due " <When at/> })}</p>
                            {pdf}
                            {detail.void_reason.map(|r| view! { <p>"Voided: " {r}</p> })}
                            {detail.disputes.into_iter().map(|d| view! {
                                <p class="notice" id="invoice-disputed">
                                    {format!("A payment of {} for this invoice is disputed by the card holder's bank ({}; {}).", d.amount, d.reason, d.status)}
                                </p>
                            }).collect_view()}
                        </header>
                        <table id="invoice-lines" class="stack">
                            <thead><tr><th>"Description"</th><th>"Namespace"</th><th>"Tier"</th><th class="amount">"Quantity"</th><th class="amount">"Unit price"</th><th class="amount">"Amount"</th></tr></thead>
                            <tbody>
                                {detail.lines.into_iter().map(|l| {
                                    let label_if = |value: &Option<String>, label: &'static str| value.is_some().then_some(label);
                                    let (namespace_label, tier_label, price_label) =
                                        (label_if(&l.namespace, "Namespace"), label_if(&l.tier, "Tier"), label_if(&l.unit_price, "Unit price"));
                                    view! {
                                    <tr class=l.kind>
                                        <td data-label="Description">{l.description}</td><td data-label=namespace_label>{l.namespace}</td>
                                        <td data-label=tier_label>{l.tier}</td>
                                        <td data-label="Quantity" class="amount">{l.quantity}</td><td data-label=price_label class="amount">{l.unit_price}</td><td data-label="Amount" class="amount">{l.amount}</td>
                                    </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                            <tfoot>
                                <tr><th colspan="5">"Subtotal"</th><td class="amount" id="invoice-subtotal">{detail.subtotal}</td></tr>
                                <tr><th colspan="5">"Credit applied"</th><td class="amount" id="invoice-credit">{detail.credit_applied}</td></tr>
                                <tr><th colspan="5">"Amount due"</th><td class="amount" id="invoice-amount-due">{s.amount_due}</td></tr>
                            </tfoot>
                        </table>
                        <h2>"Payments"</h2>
                        <PaymentTable payments=detail.payments id="invoice-payments" organization_id=org.clone()/>
                        <p class="no-print"><a href=format!("/orgs/{}/invoices", organization_id.get_untracked())>"All invoices"</a>
                            " · use your browser's print command for a paper copy"</p>
                    </article>
                }.into_any()
            })}
        </Suspense>
    }
}
