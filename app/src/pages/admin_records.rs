//! The read-only parts of a customer's admin page: service state, usage, history and logs.
use leptos::prelude::*;

use crate::api::dto::admin::{AuditView, LedgerLine, NamespaceState, StatusChange, UsageTotal, WebhookEventView};

#[component]
pub fn NamespaceStates(namespaces: Vec<NamespaceState>) -> impl IntoView {
    view! {
        <table id="admin-namespaces">
            <thead><tr><th>"Namespace"</th><th>"Id"</th><th>"Service"</th></tr></thead>
            <tbody>
                {namespaces.into_iter().map(|n| view! {
                    <tr><td>{n.name}</td><td><code>{n.id}</code></td>
                        <td class="service">{n.suspended_since.map_or_else(|| "serving".to_owned(), |at| format!("suspended since {at}"))}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
pub fn PeriodUsage(usage: Vec<UsageTotal>) -> impl IntoView {
    if usage.is_empty() {
        return view! { <p class="empty">"No usage this period yet."</p> }.into_any();
    }
    view! {
        <table id="period-usage">
            <thead><tr><th>"Namespace"</th><th>"Metric"</th><th>"Quantity"</th></tr></thead>
            <tbody>
                {usage.into_iter().map(|u| view! { <tr><td>{u.namespace}</td><td>{u.metric}</td><td>{u.quantity}</td></tr> }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
pub fn StatusHistory(changes: Vec<StatusChange>) -> impl IntoView {
    view! {
        <table id="status-history">
            <thead><tr><th>"When"</th><th>"From"</th><th>"To"</th><th>"Cause"</th><th>"By"</th></tr></thead>
            <tbody>
                {changes.into_iter().map(|c| view! {
                    <tr><td>{c.at}</td><td>{c.from}</td><td>{c.to}</td><td>{c.cause}</td><td>{c.actor}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
pub fn LedgerTable(lines: Vec<LedgerLine>) -> impl IntoView {
    view! {
        <table id="ledger">
            <thead><tr><th>"When"</th><th>"Transaction"</th><th>"Reference"</th><th>"Owed change"</th>
                <th>"Owed after"</th><th>"Credit after"</th></tr></thead>
            <tbody>
                {lines.into_iter().map(|l| view! {
                    <tr><td>{l.at}</td><td>{l.kind}</td><td><code>{l.reference}</code></td><td class="amount">{l.receivable_change}</td>
                        <td class="amount">{l.receivable_balance}</td><td class="amount">{l.credit_balance}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
pub fn WebhookEvents(events: Vec<WebhookEventView>) -> impl IntoView {
    if events.is_empty() {
        return view! { <p class="empty">"No processor events for this customer."</p> }.into_any();
    }
    view! {
        <table id="customer-webhook-events">
            <thead><tr><th>"Event"</th><th>"Type"</th><th>"Status"</th><th>"Attempts"</th><th>"Received"</th></tr></thead>
            <tbody>
                {events.into_iter().map(|e| view! {
                    <tr><td><code>{e.id}</code></td><td>{e.event_type}</td><td>{e.status}</td><td>{e.attempts}</td><td>{e.received}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
pub fn AuditLog(entries: Vec<AuditView>) -> impl IntoView {
    view! {
        <table id="audit-log">
            <thead><tr><th>"When"</th><th>"Who"</th><th>"Action"</th><th>"Target"</th><th>"Reason"</th><th>"Change"</th></tr></thead>
            <tbody>
                {entries.into_iter().map(|a| {
                    let action = a.action.clone();
                    view! { <tr data-action=action><td>{a.at}</td><td>{a.actor}</td><td>{a.action}</td><td><code>{a.target}</code></td>
                        <td>{a.reason.unwrap_or_default()}</td><td><code>{a.change}</code></td></tr> }
                }).collect_view()}
            </tbody>
        </table>
    }
}
