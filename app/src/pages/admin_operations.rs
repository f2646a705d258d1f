use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::admin::get_operations;
use crate::api::dto::admin::{MinuteTrend, Operations, RefusedRefund, SetAsideRollup};
use crate::components::disputes::DisputeTable;
use crate::components::error_view::ErrorView;
use crate::components::layout::AdminHeader;
use crate::components::loading::Loading;
use crate::components::when::{MaybeWhen, When};
use crate::numbers::count;

/// Staff only: is the machinery keeping up? Ingestion, rollups, durable queues, reconciliation.
#[component]
pub fn OperationsPage() -> impl IntoView {
    let operations = Resource::new(|| (), |_| get_operations());
    view! {
        <Title text="Operations · Admin · Billing portal"/>
        <AdminHeader/>
        <main>
            <h1>"Operations"</h1>
            <button type="button" id="refresh-operations" on:click=move |_| operations.refetch()>"Refresh"</button>
            <Suspense fallback=|| view! { <Loading what="the operations view"/> }>
                {move || Suspend::new(async move {
                    match operations.await {
                        Ok(ops) => view! { <OperationsView ops/> }.into_any(),
                        Err(error) => view! { <ErrorView error/> }.into_any(),
                    }
                })}
            </Suspense>
        </main>
    }
}

#[component]
fn OperationsView(ops: Operations) -> impl IntoView {
    view! {
        <section class="card">
            <h2>"Metering"</h2>
            <dl id="metering-figures" class="facts">
                <dt>"Events ingested, last minute"</dt><dd id="events-last-minute">{count(ops.events_last_minute)}</dd>
                <dt>"Events ingested, last hour"</dt><dd id="events-last-hour">{count(ops.events_last_hour)}</dd>
                <dt>"Newest event time (watermark)"</dt><dd id="watermark"><MaybeWhen at=ops.ingestion_watermark otherwise="none in the last day"/></dd>
                <dt>"Hours waiting for rollup"</dt><dd id="dirty-hours">{count(ops.dirty_hours)}</dd>
                <dt>"Rollup lag"</dt><dd id="rollup-lag">{format!("{} s", ops.rollup_lag_seconds)}</dd>
            </dl>
            <div class="trends">
                <Trend id="ingestion-trend" title="Events ingested per minute, last hour" trend=ops.ingestion_trend/>
                <Trend id="rollup-lag-trend" title="Rollup lag, worst each minute, last hour" trend=ops.rollup_lag_trend/>
            </div>
            <SetAsideRollups rollups=ops.rollups_set_aside/>
        </section>
        <h2>"Queues"</h2>
        <table id="job-queues" class="stack numbers">
            <thead><tr><th>"Queue"</th><th>"Queued"</th><th>"Running"</th><th>"Failed"</th></tr></thead>
            <tbody>
                {ops.jobs.into_iter().map(|q| {
                    let queue = q.name.clone();
                    view! { <tr data-queue=queue><td data-label="Queue">{q.name}</td><td data-label="Queued">{count(q.queued)}</td><td data-label="Running">{count(q.running)}</td><td data-label="Failed">{count(q.failed)}</td></tr> }
                }).collect_view()}
            </tbody>
        </table>
        <h2>"Open disputes"</h2>
        <DisputeTable disputes=ops.open_disputes id="open-disputes" empty="No open disputes."/>
        <RefusedRefunds refunds=ops.refused_refunds/>
        <p>"Parked webhook events: " <strong id="parked-count">{ops.parked_events}</strong> " (listed on " <a href="/admin">"Customers"</a> ")"</p>
        <h2>"Reconciliation"</h2>
        {match ops.last_reconcile {
            Some(run) => view! {
                <p id="last-reconcile">{format!("Last run {}: {} invoices checked, {} mismatches.", run.finished, run.invoices_checked, run.mismatches)}</p>
                {(!run.detail.is_empty()).then(|| view! { <pre id="reconcile-detail">{run.detail}</pre> })}
            }.into_any(),
            None => view! { <p id="last-reconcile">"Never run: " <code>"server reconcile"</code> " records its result here."</p> }.into_any(),
        }}
        <h3>"Against the payment processor"</h3>
        {match ops.last_processor_check {
            Some(check) => view! {
                <p id="processor-check">{format!(
                    "Last checked {} (records since {}): {} missed events applied, {} charges checked, {} discrepancies.",
                    check.finished, check.since, check.events_recovered, check.charges_checked, check.discrepancies
                )}</p>
                {(!check.detail.is_empty()).then(|| view! { <pre id="processor-discrepancies">{check.detail}</pre> })}
            }.into_any(),
            None => view! { <p id="processor-check">"Not checked yet: the payments job checks once a day, and " <code>"server reconcile --processor"</code> " on demand."</p> }.into_any(),
        }}
    }
}

/// A figure's last hour, drawn small; the words carry the numbers for every reader.
#[component]
fn Trend(id: &'static str, title: &'static str, trend: MinuteTrend) -> impl IntoView {
    view! {
        <figure class="trend" id=id>
            <figcaption><strong>{title}</strong><br/><span class="trend-summary">{trend.summary}</span></figcaption>
            <span inner_html=trend.svg></span>
        </figure>
    }
}

/// Hours the rollup worker had to set aside: until someone corrects their events, their usage is
/// missing from rollups and invoices.
#[component]
fn SetAsideRollups(rollups: Vec<SetAsideRollup>) -> impl IntoView {
    if rollups.is_empty() {
        return view! { <p id="rollups-set-aside">"No rollups set aside."</p> }.into_any();
    }
    view! {
        <h3>"Rollups set aside"</h3>
        <p>"These hours cannot be summed, so their usage is missing from rollups and invoices until their events are corrected."</p>
        <table id="rollups-set-aside" class="stack">
                <thead><tr><th>"Customer"</th><th>"Namespace"</th><th>"Metric"</th><th>"Hour"</th><th>"Set aside"</th><th>"Error"</th></tr></thead>
                <tbody>
                    {rollups.into_iter().map(|r| view! {
                        <tr><td data-label="Customer">{r.organization}</td><td data-label="Namespace">{r.namespace}</td><td data-label="Metric">{r.metric}</td><td data-label="Hour"><When at=r.hour/></td><td data-label="Set aside"><When at=r.set_aside/></td><td data-label="Error">{r.error}</td></tr>
                    }).collect_view()}
                </tbody>
        </table>
    }
    .into_any()
}

/// Overpayments the processor would not give back: asking again would be refused again.
#[component]
fn RefusedRefunds(refunds: Vec<RefusedRefund>) -> impl IntoView {
    if refunds.is_empty() {
        return view! { <p id="refused-refunds">"No overpayment refunds refused."</p> }.into_any();
    }
    view! {
        <h2>"Overpayment refunds refused"</h2>
        <p>"The processor refused these refunds. Refund each by hand in the processor's dashboard; its refund event settles the books and removes it from this list."</p>
        <table id="refused-refunds" class="stack">
            <thead><tr><th>"Customer"</th><th>"Payment"</th><th>"Owed back"</th><th>"Refused"</th><th>"Reason"</th></tr></thead>
            <tbody>
                {refunds.into_iter().map(|r| view! {
                    <tr><td data-label="Customer">{r.organization}</td><td data-label="Payment">{r.payment_id}</td><td data-label="Owed back">{r.amount}</td><td data-label="Refused"><When at=r.refused/></td><td data-label="Reason">{r.reason}</td></tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
