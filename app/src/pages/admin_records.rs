//! The read-only parts of a customer's admin page: service state, usage, history and logs.
use leptos::prelude::*;

use crate::api::dto::admin::{AuditView, LedgerLine, NamespaceState, StatusChange, UsageTotal, WebhookEventView};
use crate::components::when::When;

#[component]
pub fn NamespaceStates(namespaces: Vec<NamespaceState>) -> impl IntoView {
    if namespaces.is_empty() {
        return view! { <p class="empty">"No namespaces yet."</p> }.into_any();
    }
    view! {
        <table id="admin-namespaces" class="stack">
            <thead><tr><th>"Namespace"</th><th>"Id"</th><th>"Service"</th></tr></thead>
            <tbody>
                {namespaces.into_iter().map(|n| view! {
                    <tr><td data-label="Namespace">{n.name}</td><td data-label="Id"><code>{n.id}</code></td>
                        <td data-label="Service" class="service">{n.suspended_since.map_or_else(|| "serving".into_any(), |at| view! { "suspended since " <When at/> }.into_any())}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
pub fn PeriodUsage(usage: Vec<UsageTotal>) -> impl IntoView {
    if usage.is_empty() {
        return view! { <p class="empty">"No usage this period yet."</p> }.into_any();
    }
    view! {
        <table id="period-usage" class="stack">
            <thead><tr><th>"Namespace"</th><th>"Metric"</th><th class="amount">"Quantity"</th></tr></thead>
            <tbody>
                {usage.into_iter().map(|u| view! { <tr><td data-label="Namespace">{u.namespace}</td><td data-label="Metric">{u.metric}</td><td data-label="Quantity" class="amount">{u.quantity}</td></tr> }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
pub fn StatusHistory(changes: Vec<StatusChange>) -> impl IntoView {
    if changes.is_empty() {
        return view! { <p class="empty">"No status changes yet."</p> }.into_any();
    }
    view! {
        <table id="status-history" class="stack">
            <thead><tr><th>"When"</th><th>"From"</th><th>"To"</th><th>"Cause"</th><th>"By"</th></tr></thead>
            <tbody>
                {changes.into_iter().map(|c| view! {
                    <tr><td data-label="When"><When at=c.at/></td><td data-label="From">{c.from}</td><td data-label="To">{c.to}</td><td data-label="Cause">{c.cause}</td><td data-label="By">{c.actor}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
pub fn LedgerTable(lines: Vec<LedgerLine>) -> impl IntoView {
    if lines.is_empty() {
        return view! { <p class="empty">"Nothing posted to the ledger yet."</p> }.into_any();
    }
    view! {
        <table id="ledger" class="stack">
            <thead><tr><th>"When"</th><th>"Transaction"</th><th>"Reference"</th><th class="amount">"Owed change"</th>
                <th class="amount">"Owed after"</th><th class="amount">"Credit after"</th></tr></thead>
            <tbody>
                {lines.into_iter().map(|l| view! {
                    <tr><td data-label="When"><When at=l.at/></td><td data-label="Transaction">{l.kind}</td><td data-label="Reference"><code>{l.reference}</code></td><td data-label="Owed change" class="amount">{l.receivable_change}</td>
                        <td data-label="Owed after" class="amount">{l.receivable_balance}</td><td data-label="Credit after" class="amount">{l.credit_balance}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
pub fn WebhookEvents(events: Vec<WebhookEventView>) -> impl IntoView {
    if events.is_empty() {
        return view! { <p class="empty">"No processor events for this customer."</p> }.into_any();
    }
    view! {
        <table id="customer-webhook-events" class="stack">
            <thead><tr><th>"Event"</th><th>"Type"</th><th>"Status"</th><th>"Attempts"</th><th>"Received"</th></tr></thead>
            <tbody>
                {events.into_iter().map(|e| view! {
                    <tr><td data-label="Event"><code>{e.id}</code></td><td data-label="Type">{e.event_type}</td><td data-label="Status">{e.status}</td><td data-label="Attempts">{e.attempts}</td><td data-label="Received"><When at=e.received/></td></tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
pub fn AuditLog(entries: Vec<AuditView>) -> impl IntoView {
    if entries.is_empty() {
        return view! { <p class="empty">"Nothing audited yet."</p> }.into_any();
    }
    view! {
        <table id="audit-log" class="stack">
            <thead><tr><th>"When"</th><th>"Who"</th><th>"Action"</th><th>"Target"</th><th>"Reason"</th><th>"Change"</th></tr></thead>
            <tbody>
                {entries.into_iter().map(|a| {
                    let action = a.action.clone();
                    view! { <tr data-action=action><td data-label="When"><When at=a.at/></td><td data-label="Who">{a.actor}</td><td data-label="Action">{a.action}</td><td data-label="Target"><code>{a.target}</code></td>
                        <td data-label="Reason">{a.reason.unwrap_or_default()}</td><td data-label="Change"><code>{a.change}</code></td></tr> }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
