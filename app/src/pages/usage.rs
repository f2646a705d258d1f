use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

use crate::api::dto::usage::{UsageRange, UsageReport, UsageWindow};
use crate::api::usage::get_usage;
use crate::components::error_view::ErrorView;
use crate::components::estimate::{BudgetOutlook, EstimateLine};
use crate::components::layout::use_organization_id;
use crate::components::live::follow_rollups;
use crate::components::loading::Loading;
use crate::components::when::When;
use crate::query::query_value;

/// Hourly usage per namespace: a chart, the same numbers as a table, period totals and a CSV
/// download. New rollups arrive by server-sent events and refresh the page's data in place.
#[component]
pub fn UsagePage() -> impl IntoView {
    let organization_id = use_organization_id();
    let query = use_query_map();
    let metric = Signal::derive(move || query.read().get("metric").unwrap_or_else(|| "actions".to_owned()));
    let window = Signal::derive(move || {
        let query = query.read();
        UsageWindow {
            range: UsageRange::from_key(&query.get("range").unwrap_or_default()),
            from: query.get("from"),
            to: query.get("to"),
        }
    });
    let hide = Signal::derive(move || query.read().get("hide"));
    let by = Signal::derive(move || query.read().get("by"));
    let (updates, set_updates) = signal(0_u32);
    follow_rollups(organization_id, set_updates);

    let report = Resource::new(
        move || (organization_id.get(), metric.get(), window.get(), hide.get(), by.get(), updates.get()),
        |(org, metric, window, hide, by, updates)| {
            get_usage(org, metric, window.range, window.from, window.to, hide, by, updates > 0)
        },
    );

    view! {
        <Title text="Usage · Billing portal"/>
        <h1>"Usage"</h1>
        <Transition fallback=|| view! { <Loading what="usage"/> }>
            {move || Suspend::new(async move {
                match report.await {
                    Ok(report) => view! { <UsageView report organization_id=organization_id.get()/> }.into_any(),
                    Err(error) => view! { <ErrorView error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// `?metric=actions&range=7d&by=action_type&hide=a,b`: a view of the page broken down by a
/// dimension (by namespace without `by`) with the given series hidden.
fn view_query(metric: &str, window: &UsageWindow, by: Option<&str>, hidden: &[&str]) -> String {
    let by = by.map(|by| format!("&by={by}")).unwrap_or_default();
    let hide = if hidden.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = hidden.iter().map(|name| query_value(name)).collect();
        format!("&hide={}", names.join(","))
    };
    format!("?metric={metric}&{}{by}{hide}", window.query())
}

#[component]
fn UsageView(report: UsageReport, organization_id: String) -> impl IntoView {
    let metric_key = report.metric.key.clone();
    let window = report.window.clone();
    let csv_by = report.by.as_ref().map(|d| d.key.as_str());
    let csv = format!("/orgs/{organization_id}/usage.csv{}", view_query(&metric_key, &window, csv_by, &[]));
    let unit = report.metric.display_unit.clone();
    let namespace_names: Vec<String> = report.namespaces.iter().map(|n| n.name.clone()).collect();
    let hidden: Vec<&str> = report.legend.iter().filter(|l| l.hidden).map(|l| l.name.as_str()).collect();
    let custom = window.range == UsageRange::Custom;
    let projecting = report.namespaces.iter().any(|n| n.pace.is_some());
    let by = report.by.as_ref().map(|d| d.key.as_str());
    // What a series is: a namespace, or a value of the dimension the page is broken down by.
    let series_label = report.by.as_ref().map_or_else(|| "Namespace".to_owned(), |d| d.label.clone());
    let by_words = report.by.as_ref().map(|d| format!(" by {}", d.label.to_lowercase())).unwrap_or_default();
    let caption = format!(
        "{}{by_words} per hour ({unit}), {} to {}{}",
        report.metric.display_name,
        report.from,
        report.to,
        if report.in_progress { "; the last hour is still in progress" } else { "" }
    );
    view! {
        <nav class="choices" aria-label="Metric">
            {report.metrics.iter().map(|m| {
                let current = (m.key == metric_key).then_some("true");
                // Another metric has its own dimensions and series: its view starts whole.
                view! { <a href=view_query(&m.key, &window, None, &[]) aria-current=current>{m.display_name.clone()}</a> }
            }).collect_view()}
        </nav>
        <nav class="choices" aria-label="Range">
            {UsageRange::ALL.into_iter().map(|r| {
                let current = (r == window.range).then_some("true");
                view! { <a href=view_query(&metric_key, &UsageWindow::preset(r), by, &hidden) aria-current=current>{r.label()}</a> }
            }).collect_view()}
        </nav>
        {(!report.dimensions.is_empty()).then(|| view! {
            <nav class="choices" aria-label="Break down by" id="breakdown">
                <span class="choices-label">"By"</span>
                <a href=view_query(&metric_key, &window, None, &[]) aria-current=by.is_none().then_some("true")>"Namespace"</a>
                {report.dimensions.iter().map(|d| {
                    let current = (Some(d.key.as_str()) == by).then_some("true");
                    view! { <a href=view_query(&metric_key, &window, Some(&d.key), &[]) aria-current=current>{d.label.clone()}</a> }
                }).collect_view()}
            </nav>
        })}
        <CustomRange
            action=format!("/orgs/{organization_id}/usage")
            metric=metric_key.clone()
            by=by.map(str::to_owned)
            hidden=hidden.join(",")
            first_day=report.first_day.clone()
            last_day=report.last_day.clone()
            chosen=custom
        />
        // Announced when live usage moves it, so a screen reader hears that the figures changed.
        <p class="watermark" aria-live="polite">
            <span id="watermark">{format!("Usage complete through {}", report.complete_through)}</span>
            {(report.late_events > 0).then(|| view! {
                <span id="late-events">{format!(" · {} late events (after their period closed)", report.late_events)}</span>
            })}
        </p>
        <EstimateLine estimate=report.estimate.clone()/>
        <BudgetOutlook budgets=report.budgets.clone() organization_id=organization_id.clone()/>
        <figure class="chart">
            <ul class="legend" aria-label=format!("{series_label}s on the chart")>
                {report.legend.iter().map(|entry| {
                    let others: Vec<&str> = hidden.iter().copied().filter(|h| *h != entry.name).collect();
                    let toggled = if entry.hidden { others } else { others.into_iter().chain([entry.name.as_str()]).collect() };
                    let shown = if entry.hidden { "false" } else { "true" };
                    view! {
                        <li><a role="button" aria-pressed=shown href=view_query(&metric_key, &window, by, &toggled)
                            data-namespace=entry.name.clone()>
                            <span class="swatch" style=format!("background:{}", entry.color)></span>{entry.name.clone()}
                        </a></li>
                    }
                }).collect_view()}
            </ul>
            <HourlyChart svg=report.chart_svg.clone()/>
            <figcaption>
                {caption}
                {report.projection_note.clone().map(|note| view! { <span class="projection-note" id="chart-projection">". " {note}</span> })}
            </figcaption>
        </figure>
        <h2>"Totals"</h2>
        <table id="usage-totals" class="numbers">
            <thead><tr>
                <th scope="col">{series_label.clone()}</th>
                <th scope="col">{format!("Total ({unit})")}</th>
                // The chart's dashed lines, in words for those who cannot point at them.
                {projecting.then(|| view! { <th scope="col">{format!("Pace so far ({unit} an hour)")}</th> })}
            </tr></thead>
            <tbody>
                {report.namespaces.into_iter().map(|n| {
                    let label = n.name.clone();
                    view! {
                        <tr data-namespace=label>
                            <th scope="row">{n.name}</th>
                            <td class="total">{n.total}</td>
                            {projecting.then(|| view! { <td class="pace">{n.pace.unwrap_or_default()}</td> })}
                        </tr>
                    }
                }).collect_view()}
            </tbody>
            <tfoot><tr>
                <th scope="row">"Total"</th>
                <td id="usage-grand-total">{report.total.clone()}</td>
                {projecting.then(|| view! { <td></td> })}
            </tr></tfoot>
        </table>
        {report.by.as_ref().map(|dimension| view! {
            <p class="hint" id="unspecified-note">
                {format!("Unspecified: usage whose events carried no {}.", dimension.label.to_lowercase())}
            </p>
        })}
        <h2>"Hourly"</h2>
        <p><a id="usage-csv" href=csv download="">"Download CSV"</a></p>
        {if report.rows.is_empty() {
            view! { <p id="no-usage" class="empty">"No usage in this range yet."</p> }.into_any()
        } else {
            view! {
                <table id="usage-hourly" class="numbers">
                        <caption>{format!("Hours with usage{by_words} ({unit})")}</caption>
                        <thead><tr><th scope="col">"Hour"</th>{namespace_names.into_iter().map(|n| view! { <th scope="col">{n}</th> }).collect_view()}</tr></thead>
                        <tbody>
                            {report.rows.into_iter().map(|row| view! {
                                <tr><td><When at=row.hour/></td>{row.totals.into_iter().map(|t| view! { <td>{t}</td> }).collect_view()}</tr>
                            }).collect_view()}
                        </tbody>
                    </table>
            }.into_any()
        }}
    }
}

/// Other days, in the same view otherwise. The router's form: the view is drawn again in place,
/// so the focus stays on its button (a plain form reloaded the page, and the focus fell back to
/// the page's start).
#[component]
fn CustomRange(
    action: String,
    metric: String,
    by: Option<String>,
    /// The hidden series, comma-separated.
    hidden: String,
    first_day: String,
    last_day: String,
    /// The view shows custom days now.
    chosen: bool,
) -> impl IntoView {
    view! {
        <Form method="get" action noscroll=true attr:class="custom-range" attr:aria-label="Custom dates">
            <input type="hidden" name="metric" value=metric/>
            <input type="hidden" name="range" value="custom"/>
            {by.map(|by| view! { <input type="hidden" name="by" value=by/> })}
            {(!hidden.is_empty()).then(|| view! { <input type="hidden" name="hide" value=hidden/> })}
            <label>"From " <input type="date" name="from" id="range-from" required value=first_day/></label>
            <label>"To " <input type="date" name="to" id="range-to" required value=last_day/></label>
            <button type="submit" class=if chosen { "" } else { "secondary" }>"Show these days"</button>
            <span class="hint">"Whole days in UTC"</span>
        </Form>
    }
}

/// The server's drawing, and below it the exact values of the hour last pointed at or tapped:
/// each hour of the drawing carries them in its title, and the projected hours their pace.
#[component]
fn HourlyChart(svg: String) -> impl IntoView {
    let (readout, set_readout) = signal(None::<String>);
    let pick = move |target: Option<leptos::web_sys::EventTarget>| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let title = target
                .and_then(|t| t.dyn_into::<leptos::web_sys::Element>().ok())
                .and_then(|e| e.closest("rect[data-hour], rect[data-projected]").ok().flatten())
                .and_then(|hour| hour.query_selector("title").ok().flatten())
                .and_then(|title| title.text_content());
            if title.is_some() {
                set_readout.set(title);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (target, set_readout);
    };
    view! {
        <div id="chart" inner_html=svg on:pointermove=move |ev| pick(ev.target()) on:click=move |ev| pick(ev.target())></div>
        <output id="chart-readout" aria-live="polite" class="readout">
            {move || match readout.get() {
                None => view! { <span class="hint">"Point at or tap the chart for an hour's exact figures."</span> }.into_any(),
                Some(text) => {
                    let mut lines = text.lines().map(str::to_owned);
                    let hour = lines.next().unwrap_or_default();
                    view! {
                        <strong class="readout-hour">{hour}</strong>
                        <ul>{lines.map(|line| view! { <li>{line}</li> }).collect_view()}</ul>
                    }.into_any()
                }
            }}
        </output>
    }
}
