//! Usage charts drawn with plotters as SVG on the server. The browser only ever receives the SVG,
//! so the first paint and every live update show the same drawing and the WASM bundle carries no
//! plotting code. Each hour carries a hover target whose title holds that hour's exact values;
//! the page reads the same title to answer a tap.
use std::fmt::Write;

use plotters::prelude::*;

use crate::metering::domain::usage::{HOUR_MS, format_quantity};
use crate::reader::{display_hour, display_time};
use crate::shared::numbers::compact;

const WIDTH: u32 = 880;
const HEIGHT: u32 = 300;
/// The colors plotters draws with are stand-ins: [`themed`] turns each into a custom property of
/// the page's stylesheet, which sets it for the light and the dark theme. Eight series colors: a
/// breakdown by action type has seven series, and the seventh must not repeat the first.
const SERIES_STAND_INS: [RGBColor; 8] = [
    RGBColor(1, 0, 0),
    RGBColor(2, 0, 0),
    RGBColor(3, 0, 0),
    RGBColor(4, 0, 0),
    RGBColor(5, 0, 0),
    RGBColor(6, 0, 0),
    RGBColor(7, 0, 0),
    RGBColor(8, 0, 0),
];
const PAPER_STAND_IN: RGBColor = RGBColor(0, 1, 0);
const GRID_STAND_IN: RGBColor = RGBColor(0, 2, 0);
const IN_PROGRESS_STAND_IN: RGBColor = RGBColor(0, 3, 0);
const PROJECTED_STAND_IN: RGBColor = RGBColor(0, 4, 0);
/// Plotters' own color for text, axes and the bold grid lines.
const INK_STAND_IN: RGBColor = BLACK;

#[derive(Hash)]
pub struct Series<'a> {
    pub label: &'a str,
    /// One value per hour, starting at the chart's first hour.
    pub values: &'a [i64],
    /// The namespace's place among all of the organization's, so hiding one keeps the others' colors.
    pub color: usize,
    /// Its usage per hour at the pace so far, drawn dashed over [`HourlyChart::projection`].
    pub pace: i64,
}

/// What to draw: a line per namespace over `hours` hours from `first_hour`; values are in the
/// metric's smallest unit and drawn divided by `units_per_display`.
#[derive(Hash)]
pub struct HourlyChart<'a> {
    pub first_hour: i64,
    pub hours: usize,
    pub series: &'a [Series<'a>],
    pub units_per_display: i64,
    pub unit: &'a str,
    /// The last hour is the current one: its total is still growing, so it is drawn as such
    /// rather than as a drop.
    pub last_hour_in_progress: bool,
    /// Hours after the last one, to the billing period's end, where each series goes on dashed
    /// at its pace: the forecast's model, drawn. None outside the current period's view.
    pub projection: Option<Projection<'a>>,
}

#[derive(Hash)]
pub struct Projection<'a> {
    pub hours: usize,
    /// What the hover target over the projected hours says first, e.g. how the pace is read.
    pub caption: &'a str,
}

/// `var(--series-0)`: the CSS color of the namespace at `index`, the same in the chart, its legend
/// and the dashboard's cards, in either theme.
pub fn series_color(index: usize) -> String {
    format!("var(--series-{})", index % SERIES_STAND_INS.len())
}

fn hex(RGBColor(r, g, b): RGBColor) -> String {
    format!("#{r:02X}{g:02X}{b:02X}")
}

/// Plotters writes colors as attributes, which cannot name a custom property: each stand-in
/// becomes a style that does. No element carries two stand-ins, so none gets two styles.
fn themed(svg: &str) -> String {
    let mut colors = vec![
        (PAPER_STAND_IN, "var(--paper)".to_owned()),
        (GRID_STAND_IN, "var(--chart-grid)".to_owned()),
        (IN_PROGRESS_STAND_IN, "var(--chart-in-progress)".to_owned()),
        (PROJECTED_STAND_IN, "var(--chart-projected)".to_owned()),
        (INK_STAND_IN, "var(--muted)".to_owned()),
    ];
    colors.extend((0..SERIES_STAND_INS.len()).map(|i| (SERIES_STAND_INS[i], series_color(i))));
    let mut themed = svg.to_owned();
    for (stand_in, color) in colors {
        for attribute in ["fill", "stroke"] {
            let drawn = format!("{attribute}=\"{}\"", hex(stand_in));
            themed = themed.replace(&drawn, &format!("style=\"{attribute}:{color}\""));
        }
    }
    themed
}

pub fn hourly_chart_svg(chart: &HourlyChart<'_>) -> String {
    let mut svg = String::new();
    let targets = match draw(&mut svg, chart) {
        Ok(targets) => targets,
        Err(error) => {
            tracing::warn!(%error, "drawing the usage chart failed");
            return String::new();
        }
    };
    match svg.rfind("</svg>") {
        Some(end) => svg.insert_str(end, &targets),
        None => return String::new(),
    }
    themed(&svg)
}

/// Draws the chart into `svg` and answers the hover targets to add to it.
fn draw(svg: &mut String, spec: &HourlyChart<'_>) -> Result<String, Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(svg, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&PAPER_STAND_IN)?;
    let per = spec.units_per_display as f64;
    let projected_hours = spec.projection.as_ref().map_or(0, |p| p.hours);
    let paces = spec.series.iter().map(|s| if projected_hours > 0 { s.pace } else { 0 });
    let top = spec.series.iter().flat_map(|s| s.values.iter()).copied().chain(paces).max().unwrap_or(0).max(1);
    // Integer arithmetic until the very last step: the chart is a picture, never a money path.
    let y_max = (top as f64 / per) * 1.1;
    let drawn_hours = spec.hours + projected_hours;
    let last = drawn_hours.saturating_sub(1).max(1) as i64;
    let mut chart = ChartBuilder::on(&root)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0i64..last, 0f64..y_max)?;
    chart
        .configure_mesh()
        .x_labels(drawn_hours.min(12))
        .x_label_formatter(&|index| display_hour(spec.first_hour + index * HOUR_MS, drawn_hours > 48))
        .y_label_formatter(&|value| compact(*value))
        .y_desc(spec.unit)
        .light_line_style(GRID_STAND_IN)
        .draw()?;
    let in_progress = spec.last_hour_in_progress && spec.hours >= 2;
    let current = spec.hours as i64 - 1;
    if projected_hours > 0 {
        chart.draw_series(std::iter::once(Rectangle::new(
            [(current, 0.0), (last, y_max)],
            PROJECTED_STAND_IN.filled(),
        )))?;
    }
    if in_progress {
        chart.draw_series(std::iter::once(Rectangle::new(
            [(current - 1, 0.0), (current, y_max)],
            IN_PROGRESS_STAND_IN.filled(),
        )))?;
    }
    for s in spec.series {
        let color = SERIES_STAND_INS[s.color % SERIES_STAND_INS.len()];
        let point = |h: usize| (h as i64, s.values.get(h).copied().unwrap_or(0) as f64 / per);
        let settled = if in_progress { spec.hours - 1 } else { spec.hours };
        chart.draw_series(LineSeries::new((0..settled).map(point), color.stroke_width(2)))?;
        if in_progress {
            let growing = [point(spec.hours - 2), point(spec.hours - 1)];
            chart.draw_series(DashedLineSeries::new(growing, 6, 4, color.stroke_width(2)))?;
        }
        if projected_hours > 0 {
            let pace = s.pace as f64 / per;
            let ahead = [(current, pace), (last, pace)];
            chart.draw_series(DashedLineSeries::new(ahead, 3, 5, color.stroke_width(2)))?;
        }
    }
    let column = |h: i64| chart.backend_coord(&(h, 0.0)).0;
    let (plot_top, plot_bottom) = (chart.backend_coord(&(0, y_max)).1, chart.backend_coord(&(0, 0.0)).1);
    let step = if spec.hours > 1 { column(1) - column(0) } else { (WIDTH / 2) as i32 };
    let mut targets = String::from("<g class=\"hour-targets\" fill=\"transparent\">");
    for h in 0..spec.hours {
        let left = column(h as i64) - step / 2;
        let title = hour_title(spec, h, in_progress && h + 1 == spec.hours);
        write!(
            targets,
            "<rect data-hour=\"{h}\" x=\"{left}\" y=\"{plot_top}\" width=\"{step}\" height=\"{}\"><title>{}</title></rect>",
            plot_bottom - plot_top,
            escape(&title)
        )?;
    }
    if let Some(projection) = spec.projection.as_ref().filter(|p| p.hours > 0) {
        let left = column(spec.hours as i64) - step / 2;
        let width = column(last) + step / 2 - left;
        let mut title = projection.caption.to_owned();
        for s in spec.series {
            let pace = format_quantity(s.pace, spec.units_per_display);
            let _ = write!(title, "\n{}: {pace} {} an hour", s.label, spec.unit);
        }
        write!(
            targets,
            "<rect data-projected=\"{}\" x=\"{left}\" y=\"{plot_top}\" width=\"{width}\" height=\"{}\"><title>{}</title></rect>",
            projection.hours,
            plot_bottom - plot_top,
            escape(&title)
        )?;
    }
    targets.push_str("</g>");
    root.present()?;
    Ok(targets)
}

/// `2026-11-25 09:00 UTC` on the first line, then one `namespace: value unit` line per series.
fn hour_title(spec: &HourlyChart<'_>, hour: usize, in_progress: bool) -> String {
    let mut title = display_time(spec.first_hour + hour as i64 * HOUR_MS);
    if in_progress {
        title.push_str(" (in progress)");
    }
    for s in spec.series {
        let value = s.values.get(hour).copied().unwrap_or(0);
        let _ = write!(title, "\n{}: {} {}", s.label, format_quantity(value, spec.units_per_display), spec.unit);
    }
    title
}

/// A small line of `values` (one per day, oldest first) scaled to its own largest, for a
/// dashboard card; the figures themselves are beside it in text.
pub fn sparkline_svg(values: &[i64], color: &str) -> String {
    line_svg(values, color, 120, 32)
}

/// A line of `values` (one per minute, oldest first) for the operations view, wide enough that
/// an hour's minutes stay apart; the figures themselves are beside it in text.
pub fn minute_trend_svg(values: &[i64], color: &str) -> String {
    line_svg(values, color, 360, 48)
}

fn line_svg(values: &[i64], color: &str, width: i64, height: i64) -> String {
    const PAD: i64 = 2;
    let top = values.iter().copied().max().unwrap_or(0).max(1);
    let last = (values.len() as i64 - 1).max(1);
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let rise = i128::from(*v) * i128::from(height - 2 * PAD) / i128::from(top);
            format!("{},{}", i as i64 * width / last, height - PAD - rise as i64)
        })
        .collect();
    format!(
        "<svg class=\"sparkline\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" \
         preserveAspectRatio=\"none\" aria-hidden=\"true\"><polyline fill=\"none\" style=\"stroke:{color}\" stroke-width=\"2\" \
         stroke-linejoin=\"round\" vector-effect=\"non-scaling-stroke\" points=\"{}\"/></svg>",
        points.join(" ")
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_breakdown_by_action_type_draws_seven_series_in_seven_colors() {
        let colors: std::collections::HashSet<String> = (0..7).map(series_color).collect();
        assert_eq!(colors.len(), 7);
    }

    fn chart<'a>(series: &'a [Series<'a>], hours: usize, in_progress: bool) -> String {
        hourly_chart_svg(&HourlyChart {
            first_hour: 0,
            hours,
            series,
            units_per_display: 1,
            unit: "actions",
            last_hour_in_progress: in_progress,
            projection: None,
        })
    }

    #[test]
    fn the_chart_is_an_svg_with_a_line_per_namespace_in_its_own_color() {
        let (a, b) = ([1, 5, 3], [0, 2, 8]);
        let svg = chart(
            &[
                Series { label: "web", values: &a, color: 0, pace: 0 },
                Series { label: "batch", values: &b, color: 3, pace: 0 },
            ],
            3,
            false,
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n") || svg.ends_with("</svg>"), "{svg}");
        for color in [series_color(0), series_color(3)] {
            assert!(svg.contains(&format!("<polyline fill=\"none\" opacity=\"1\" style=\"stroke:{color}\"")), "{svg}");
        }
        assert!(!svg.contains(&series_color(1)), "a hidden namespace's color is not used by another");
    }

    #[test]
    fn every_color_of_the_chart_is_the_stylesheets_so_it_follows_the_theme() {
        let (a, b) = ([1, 5, 3], [0, 2, 8]);
        let svg = chart(
            &[
                Series { label: "web", values: &a, color: 0, pace: 0 },
                Series { label: "batch", values: &b, color: 7, pace: 0 },
            ],
            3,
            true,
        );
        let literal = svg.match_indices('#').map(|(at, _)| &svg[at..(at + 7).min(svg.len())]).collect::<Vec<_>>();
        assert!(literal.is_empty(), "colors left as drawn: {literal:?}");
        for property in ["--paper", "--muted", "--chart-grid", "--chart-in-progress", "--series-0", "--series-7"] {
            assert!(svg.contains(&format!(":var({property})\"")), "{property} missing: {svg}");
        }
        let twice = svg.split('<').find(|element| element.matches("style=").count() > 1);
        assert!(twice.is_none(), "an element with two styles: {twice:?}");
    }

    #[test]
    fn every_hour_has_a_target_titled_with_its_exact_values() {
        let (a, b) = ([1_200, 5, 3], [0, 1_842_500, 8]);
        let svg = chart(
            &[
                Series { label: "web", values: &a, color: 0, pace: 0 },
                Series { label: "a<b", values: &b, color: 1, pace: 0 },
            ],
            3,
            false,
        );
        assert_eq!(svg.matches("<rect data-hour=").count(), 3);
        assert!(
            svg.contains("<title>1970-01-01 01:00 UTC\nweb: 5 actions\na&lt;b: 1,842,500 actions</title>"),
            "{svg}"
        );
    }

    #[test]
    fn the_current_hour_is_drawn_dashed_and_titled_in_progress() {
        let a = [4, 5, 0];
        let series = [Series { label: "web", values: &a, color: 0, pace: 0 }];
        let (growing, settled) = (chart(&series, 3, true), chart(&series, 3, false));
        let strokes = |svg: &str| svg.matches(&format!("style=\"stroke:{}\"", series_color(0))).count();
        assert_eq!(strokes(&settled), 1, "one line");
        assert!(strokes(&growing) > 2, "a line, then dashes for the current hour: {growing}");
        assert!(growing.contains("02:00 UTC (in progress)"), "{growing}");
        assert!(!settled.contains("in progress"));
    }

    #[test]
    fn the_y_axis_reads_in_compact_units() {
        let a = [1_000_000, 2_000_000];
        let svg = chart(&[Series { label: "web", values: &a, color: 0, pace: 0 }], 2, false);
        assert!(svg.contains(">\n1.5 M\n</text>"), "{svg}");
    }

    #[test]
    fn a_sparkline_scales_to_its_largest_value_without_overflow() {
        let svg = sparkline_svg(&[0, 5, 10], &series_color(0));
        assert!(svg.contains("points=\"0,30 60,16 120,2\""), "{svg}");
        assert!(svg.contains("style=\"stroke:var(--series-0)\""), "{svg}");
        assert!(sparkline_svg(&[], "#000").contains("points=\"\""));
        assert!(sparkline_svg(&[i64::MAX, 0], "#000").contains("points=\"0,2 120,30\""));
    }

    #[test]
    fn an_empty_chart_still_draws_its_axes() {
        let svg = hourly_chart_svg(&HourlyChart {
            first_hour: 0,
            hours: 24,
            series: &[],
            units_per_display: 1000,
            unit: "GBh",
            last_hour_in_progress: true,
            projection: None,
        });
        assert!(svg.starts_with("<svg") && svg.contains("GBh"));
    }

    #[test]
    fn the_rest_of_the_period_is_drawn_dashed_at_each_pace_under_one_titled_target() {
        let (a, b) = ([4_000, 6_000, 1_000], [10, 20, 5]);
        let series = [
            Series { label: "web", values: &a, color: 0, pace: 5_000 },
            Series { label: "batch", values: &b, color: 1, pace: 15 },
        ];
        let spec = |projection| HourlyChart {
            first_hour: 0,
            hours: 3,
            series: &series,
            units_per_display: 1,
            unit: "actions",
            last_hour_in_progress: true,
            projection,
        };
        let caption = "Projected to 1970-01-01 10:00 UTC";
        let svg = hourly_chart_svg(&spec(Some(Projection { hours: 7, caption })));
        assert_eq!(svg.matches("<rect data-hour=").count(), 3, "the projected hours are not hours of usage");
        assert!(
            svg.contains("<rect data-projected=\"7\"")
                && svg.contains(&format!(
                    "<title>{caption}\nweb: 5,000 actions an hour\nbatch: 15 actions an hour</title>"
                )),
            "{svg}"
        );
        let without = hourly_chart_svg(&spec(None));
        let dashes = |svg: &str| svg.matches(&format!("style=\"stroke:{}\"", series_color(0))).count();
        assert!(dashes(&svg) > dashes(&without) + 10, "a dashed line on to the period's end");
        assert!(!without.contains("data-projected"));
    }
}
