use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::dto::usage::{UsageRange, UsageReport};
use crate::api::usage::get_usage;
use crate::components::error_view::ErrorView;
use crate::components::estimate::EstimateLine;
use crate::components::layout::use_organization_id;

/// Hourly usage per namespace: a chart, the same numbers as a table, period totals and a CSV
/// download. New rollups arrive by server-sent events and refresh the page's data in place.
#[component]
pub fn UsagePage() -> impl IntoView {
    let organization_id = use_organization_id();
    let query = use_query_map();
    let metric = Signal::derive(move || query.read().get("metric").unwrap_or_else(|| "actions".to_owned()));
    let range = Signal::derive(move || UsageRange::from_key(&query.read().get("range").unwrap_or_default()));
    let (updates, set_updates) = signal(0_u32);
    follow_rollups(organization_id, set_updates);

    let report = Resource::new(
        move || (organization_id.get(), metric.get(), range.get(), updates.get()),
        |(org, metric, range, _)| get_usage(org, metric, range),
    );

    view! {
        <Title text="Usage · Billing portal"/>
        <h1>"Usage"</h1>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match report.await {
                    Ok(report) => view! { <UsageView report organization_id=organization_id.get()/> }.into_any(),
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn UsageView(report: UsageReport, organization_id: String) -> impl IntoView {
    let metric_key = report.metric.key.clone();
    let range = report.range;
    let csv = format!("/orgs/{organization_id}/usage.csv?metric={}&range={}", metric_key, range.key());
    let unit = report.metric.display_unit.clone();
    let namespace_names: Vec<String> = report.namespaces.iter().map(|n| n.name.clone()).collect();
    view! {
        <nav class="choices" aria-label="Metric">
            {report.metrics.iter().map(|m| {
                let current = (m.key == metric_key).then_some("true");
                view! { <a href=format!("?metric={}&range={}", m.key, range.key()) aria-current=current>{m.display_name.clone()}</a> }
            }).collect_view()}
        </nav>
        <nav class="choices" aria-label="Range">
            {UsageRange::ALL.into_iter().map(|r| {
                let current = (r == range).then_some("true");
                view! { <a href=format!("?metric={}&range={}", metric_key, r.key()) aria-current=current>{r.label()}</a> }
            }).collect_view()}
        </nav>
        <p class="watermark">
            <span id="watermark">{format!("Usage complete through {}", report.complete_through)}</span>
            {(report.late_events > 0).then(|| view! {
                <span id="late-events">{format!(" · {} late events (after their period closed)", report.late_events)}</span>
            })}
        </p>
        <EstimateLine estimate=report.estimate.clone()/>
        <figure class="chart">
            <div id="chart" inner_html=report.chart_svg.clone()></div>
            <figcaption>{format!("{} per hour ({}), {} to {}", report.metric.display_name, unit, report.from, report.to)}</figcaption>
        </figure>
        <h2>"Totals"</h2>
        <table id="usage-totals">
            <thead><tr><th>"Namespace"</th><th>{format!("Total ({unit})")}</th></tr></thead>
            <tbody>
                {report.namespaces.into_iter().map(|n| {
                    let label = n.name.clone();
                    view! { <tr data-namespace=label><td>{n.name}</td><td class="total">{n.total}</td></tr> }
                }).collect_view()}
            </tbody>
        </table>
        <h2>"Hourly"</h2>
        <p><a id="usage-csv" href=csv download="">"Download CSV"</a></p>
        {if report.rows.is_empty() {
            view! { <p id="no-usage">"No usage in this range yet."</p> }.into_any()
        } else {
            view! {
                <table id="usage-hourly">
                    <caption>{format!("Hours with usage ({unit})")}</caption>
                    <thead><tr><th>"Hour (UTC)"</th>{namespace_names.into_iter().map(|n| view! { <th>{n}</th> }).collect_view()}</tr></thead>
                    <tbody>
                        {report.rows.into_iter().map(|row| view! {
                            <tr><td>{row.hour}</td>{row.totals.into_iter().map(|t| view! { <td>{t}</td> }).collect_view()}</tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
    }
}

/// Listens for "your totals changed" and bumps `updates`, which refetches the report.
fn follow_rollups(organization_id: Signal<String>, updates: WriteSignal<u32>) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        use wasm_bindgen::JsCast;
        use wasm_bindgen::closure::Closure;
        let url = format!("/orgs/{}/usage/live", organization_id.get());
        let Ok(source) = web_sys::EventSource::new(&url) else { return };
        let on_rollup = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| updates.update(|n| *n += 1));
        let _ = source.add_event_listener_with_callback("rollup", on_rollup.as_ref().unchecked_ref());
        let listener = send_wrapper::SendWrapper::new((source, on_rollup));
        on_cleanup(move || listener.0.close());
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (organization_id, updates);
}
