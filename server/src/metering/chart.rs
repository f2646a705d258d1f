//! Usage charts drawn with plotters as SVG on the server. The browser only ever receives the SVG,
//! so the first paint and every live update show the same drawing and the WASM bundle carries no
//! plotting code.
use plotters::prelude::*;

use crate::metering::domain::usage::HOUR_MS;

const WIDTH: u32 = 880;
const HEIGHT: u32 = 300;
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 75, 138),
    RGBColor(214, 96, 39),
    RGBColor(46, 139, 87),
    RGBColor(148, 70, 160),
    RGBColor(190, 40, 60),
    RGBColor(90, 90, 90),
];

pub struct Series<'a> {
    pub label: &'a str,
    /// One value per hour, starting at `first_hour`.
    pub values: &'a [i64],
}

/// A line per namespace over `hours` hours from `first_hour`; values are in the metric's smallest
/// unit and drawn divided by `units_per_display`.
pub fn hourly_chart_svg(
    first_hour: i64,
    hours: usize,
    series: &[Series<'_>],
    units_per_display: i64,
    unit: &str,
) -> String {
    let mut svg = String::new();
    if let Err(error) = draw(&mut svg, first_hour, hours, series, units_per_display, unit) {
        tracing::warn!(%error, "drawing the usage chart failed");
        return String::new();
    }
    svg
}

fn draw(
    svg: &mut String,
    first_hour: i64,
    hours: usize,
    series: &[Series<'_>],
    units_per_display: i64,
    unit: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(svg, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let top = series.iter().flat_map(|s| s.values.iter()).copied().max().unwrap_or(0).max(1);
    // Integer arithmetic until the very last step: the chart is a picture, never a money path.
    let y_max = (top as f64 / units_per_display as f64) * 1.1;
    let last = hours.saturating_sub(1).max(1) as i64;
    let mut chart = ChartBuilder::on(&root)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(60)
        .build_cartesian_2d(0i64..last, 0f64..y_max)?;
    chart
        .configure_mesh()
        .x_labels(hours.min(12))
        .x_label_formatter(&|index| hour_label(first_hour + index * HOUR_MS, hours > 48))
        .y_label_formatter(&|value| axis_number(*value))
        .y_desc(unit)
        .light_line_style(RGBColor(235, 238, 242))
        .draw()?;
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let points = s.values.iter().enumerate().map(|(h, v)| (h as i64, *v as f64 / units_per_display as f64));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(s.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
    }
    if !series.is_empty() {
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    }
    root.present()?;
    Ok(())
}

/// "16000", not plotters' "16000.0": whole counts read as counts; fractions (GBh) keep up to three
/// decimals, without float noise such as 0.30000000000000004.
fn axis_number(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn hour_label(ms: i64, with_day: bool) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)) else { return String::new() };
    if with_day {
        format!("{:02}-{:02} {:02}h", t.month() as u8, t.day(), t.hour())
    } else {
        format!("{:02}:00", t.hour())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_is_an_svg_with_a_line_and_a_legend_entry_per_namespace() {
        let a = [1, 5, 3];
        let b = [0, 2, 8];
        let svg = hourly_chart_svg(
            0,
            3,
            &[Series { label: "web", values: &a }, Series { label: "batch", values: &b }],
            1,
            "actions",
        );
        assert!(svg.starts_with("<svg"));
        for color in ["#1F4B8A", "#D66027"] {
            assert!(
                svg.matches(&format!("<polyline fill=\"none\" opacity=\"1\" stroke=\"{color}\"")).count() >= 1,
                "{svg}"
            );
        }
        assert!(!svg.contains("#2E8B57"), "only two series");
        assert!(svg.contains("web") && svg.contains("batch"));
    }

    #[test]
    fn axis_numbers_drop_empty_decimals_and_float_noise() {
        assert_eq!(axis_number(16_000.0), "16000");
        assert_eq!(axis_number(0.0), "0");
        assert_eq!(axis_number(2.5), "2.5");
        assert_eq!(axis_number(0.1 + 0.2), "0.3");
        assert_eq!(axis_number(0.125), "0.125");
    }

    #[test]
    fn an_empty_chart_still_draws_its_axes() {
        let svg = hourly_chart_svg(0, 24, &[], 1000, "GBh");
        assert!(svg.starts_with("<svg") && svg.contains("GBh"));
    }
}
