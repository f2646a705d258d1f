//! The usage chart as this process last drew it for an organization, kept while the next view asks
//! for the same drawing. Drawing a month of hours and theming the SVG was a tenth of what the Usage
//! page cost the server; what it draws changes only with the rollups, the hour and the minute a
//! pace is taken at, so most views draw what an earlier one drew.
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use app::api::backend::reader_time_zone;

use crate::metering::chart::{HourlyChart, hourly_chart_svg};
use crate::store::Db;

const KEPT_CHART: &str = "metering.kept_chart";

/// What a kept drawing was drawn from, as a fingerprint, with the drawing.
struct Kept {
    drawn_from: u64,
    svg: Arc<str>,
}

/// [`hourly_chart_svg`] of `chart`, drawn again only when something it shows differs from the
/// organization's last drawing: a value, a label, a pace, the hours, or the reader's time zone.
pub fn kept_chart_svg(db: &Db, organization_id: &str, chart: &HourlyChart<'_>) -> Arc<str> {
    let drawn_from = fingerprint(chart, reader_time_zone().as_deref());
    let read_at = db.rollup_derived.generation(organization_id);
    if let Some(kept) = db.rollup_derived.get::<Kept>(organization_id, KEPT_CHART) {
        if kept.drawn_from == drawn_from {
            return kept.svg.clone();
        }
    }
    let svg: Arc<str> = hourly_chart_svg(chart).into();
    db.keep_derived(organization_id, KEPT_CHART, read_at, Arc::new(Kept { drawn_from, svg: svg.clone() }));
    svg
}

/// Kept per organization, so two drawings with the same fingerprint could only ever be two views
/// of the same customer's usage (and at 64 bits, are not).
fn fingerprint(chart: &HourlyChart<'_>, time_zone: Option<&str>) -> u64 {
    let mut hasher = DefaultHasher::new();
    chart.hash(&mut hasher);
    time_zone.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metering::chart::{Projection, Series};

    fn chart<'a>(series: &'a [Series<'a>], projection: Option<Projection<'a>>) -> HourlyChart<'a> {
        HourlyChart {
            first_hour: 0,
            hours: 3,
            series,
            units_per_display: 1,
            unit: "actions",
            last_hour_in_progress: true,
            projection,
        }
    }

    #[test]
    fn anything_the_chart_shows_changes_its_fingerprint() {
        let (values, more) = ([1, 5, 3], [1, 5, 4]);
        let series = |values, label, color, pace| [Series { label, values, color, pace }];
        let base = series(&values, "web", 0, 7);
        let of = |chart: &HourlyChart<'_>| fingerprint(chart, None);
        assert_eq!(of(&chart(&base, None)), of(&chart(&series(&values, "web", 0, 7), None)));
        for other in [
            series(&more, "web", 0, 7),
            series(&values, "batch", 0, 7),
            series(&values, "web", 1, 7),
            series(&values, "web", 0, 8),
        ] {
            assert_ne!(of(&chart(&base, None)), of(&chart(&other, None)));
        }
        let projected = |caption| Some(Projection { hours: 24, caption });
        assert_ne!(of(&chart(&base, None)), of(&chart(&base, projected("to May 1"))));
        assert_ne!(of(&chart(&base, projected("to May 1"))), of(&chart(&base, projected("to June 1"))));
        let settled = HourlyChart { last_hour_in_progress: false, ..chart(&base, None) };
        assert_ne!(of(&chart(&base, None)), of(&settled));
        let zoned = |zone| fingerprint(&chart(&base, None), zone);
        assert_ne!(zoned(None), zoned(Some("Asia/Tokyo")));
        assert_ne!(zoned(Some("Asia/Tokyo")), zoned(Some("Europe/London")));
    }
}
