//! The dashboard's card per namespace: its last seven days of the headline metric, as a small
//! line and a figure read at a glance, and whether a budget's hard cap stops work in it.
use std::collections::HashMap;

use app::api::dto::NamespaceActivity;
use sqlx::AnyConnection;

use crate::accounts::db::namespaces::NamespaceRow;
use crate::error::Error;
use crate::metering::catalog::metric_catalog;
use crate::metering::chart::{series_color, sparkline_svg};
use crate::metering::domain::usage::{HOUR_MS, hour_of};
use crate::metering::kept_totals::kept_hourly_totals;
use crate::shared::numbers::compact;
use crate::spend::caps::Caps;
use crate::store::Db;

const DAYS: usize = 7;
const DAY_MS: i64 = 24 * HOUR_MS;
/// The metric the cards show: the one the platform sells by.
const HEADLINE_METRIC: &str = "actions";

pub async fn namespace_activity(
    db: &Db,
    conn: &mut AnyConnection,
    organization_id: &str,
    namespaces: &[NamespaceRow],
    caps: &Caps,
    now: i64,
) -> Result<Vec<NamespaceActivity>, Error> {
    let catalog = metric_catalog(conn).await?;
    let Some(metric) = catalog.metrics.iter().find(|m| m.key == HEADLINE_METRIC).or(catalog.metrics.first()) else {
        return Ok(Vec::new());
    };
    let to = hour_of(now) + HOUR_MS;
    let from = to - DAYS as i64 * DAY_MS;
    let mut days: HashMap<&str, [i64; DAYS]> = HashMap::new();
    let totals = kept_hourly_totals(db, conn, organization_id, &metric.key, (from, to), "portal.activity").await?;
    for total in totals.iter() {
        let day = ((total.hour - from) / DAY_MS) as usize;
        let sums = days.entry(total.namespace_id.as_str()).or_insert([0; DAYS]);
        if let Some(sum) = sums.get_mut(day) {
            *sum = sum.saturating_add(total.total);
        }
    }
    Ok(namespaces
        .iter()
        .enumerate()
        .map(|(i, ns)| {
            let daily = days.get(ns.id.as_str()).copied().unwrap_or([0; DAYS]);
            let week = daily.iter().fold(0i64, |sum, day| sum.saturating_add(*day));
            NamespaceActivity {
                name: ns.name.clone(),
                capped: caps.is_capped(&ns.id),
                last_7_days: format!(
                    "{} {}",
                    compact(week as f64 / metric.units_per_display as f64),
                    metric.display_unit
                ),
                sparkline_svg: sparkline_svg(&daily, &series_color(i)),
            }
        })
        .collect())
}
