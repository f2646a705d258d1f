//! The Usage page's numbers: hourly totals per namespace, period totals, chart, watermark. They
//! come from the same hourly rollups invoices are rated from, so the two always agree.
use std::collections::HashMap;

use app::api::dto::usage::{
    DimensionInfo, HourRow, LegendEntry, MetricInfo, NamespaceUsage, UsageRange, UsageReport, UsageWindow,
};
use app::api::error::AppError;

use crate::accounts::db::namespaces;
use crate::billing::db::subscriptions::{SubscriptionRow, standing_of, subscription_of};
use crate::billing::domain::forecast::{MIN_ELAPSED_MS, pace};
use crate::billing::estimate::month_to_date_estimate_of;
use crate::error::Error;
use crate::metering::catalog::metric_catalog;
use crate::metering::chart::{HourlyChart, Projection, Series, series_color};
use crate::metering::db::usage::{self, HourTotal, MetricRow};
use crate::metering::db::usage_dimensions::{HourBreakdown, hourly_breakdown};
use crate::metering::domain::dimensions::{UNSPECIFIED, break_down, label_of};
use crate::metering::domain::usage as usage_domain;
use crate::metering::domain::usage::{HOUR_MS, MINUTE_MS, custom_bounds, export_quantity, format_quantity, hour_of};
use crate::metering::kept_chart::kept_chart_svg;
use crate::metering::kept_totals::kept_hourly_totals;
use crate::metering::usage::complete_before;
use crate::reader::{display_time, moment};
use crate::shared::money::AmountOutOfRange;
use crate::shared::time::{display_day, display_rfc3339};
use crate::spend::budgets::budget_outlook;
use crate::store::Db;

fn metric_info(row: &MetricRow) -> MetricInfo {
    MetricInfo { key: row.key.clone(), display_name: row.display_name.clone(), display_unit: row.display_unit.clone() }
}

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn usage_report(
    db: &Db,
    organization_id: &str,
    metric_key: &str,
    window: &UsageWindow,
    hidden: &[String],
    by: Option<&str>,
) -> Result<UsageReport, Error> {
    let now = db.clock.now_ms();
    let mut conn = db.pool.acquire().await?;
    // Read once for the bounds, the legend and the estimate.
    let standing = standing_of(&mut conn, organization_id).await?;
    let namespace_rows = namespaces::list_namespaces(&mut conn, organization_id).await?;
    let (from, to, period) = view_bounds(standing.as_ref().map(|s| &s.subscription), window, now)?;
    let catalog = metric_catalog(&mut conn).await?;
    let metric = find_metric(&catalog.metrics, metric_key)?;
    let declared = catalog.dimensions.get(&metric.key).cloned().unwrap_or_default();
    // A breakdown the metric does not have (a link kept from another metric) shows the page by
    // namespace rather than an error with no way back to the choices.
    let by = by.and_then(|key| declared.get_key_value(key));
    let hours = ((to - from) / HOUR_MS) as usize;
    let (series_rows, grid) = match by {
        None => {
            let totals =
                kept_hourly_totals(db, &mut conn, organization_id, &metric.key, (from, to), "portal.usage_page")
                    .await?;
            let grid = hourly_grid(&totals, from, hours, namespace_rows.iter().map(|n| n.id.as_str()));
            (namespace_rows.iter().map(|n| (n.id.clone(), n.name.clone())).collect::<Vec<_>>(), grid)
        }
        Some((dimension, declared_values)) => {
            let hourly = hourly_breakdown(&mut conn, organization_id, None, &metric.key, from, to).await?;
            let (values, grid) =
                value_grid(&hourly, from, hours, dimension, declared_values).ok_or(AmountOutOfRange)?;
            (values.iter().map(|v| (v.clone(), label_of(v))).collect(), grid)
        }
    };
    let (late_events, oldest_pending_mark) = usage::late_events_and_oldest_mark(&mut conn, organization_id).await?;
    drop(conn);
    let complete_through = complete_before(oldest_pending_mark, db.clock.now_ms());
    let estimate = month_to_date_estimate_of(db, organization_id, standing, &namespace_rows, false).await?;
    let budgets = budget_outlook(db, organization_id).await?;

    let in_progress = to == hour_of(now) + HOUR_MS;
    let is_hidden = |name: &str| hidden.iter().any(|h| h == name);
    // The current period's view goes on to the period's end at each namespace's pace so far, the
    // forecast's model; from the period's first day on, as the cost projection.
    let projected = period.filter(|&(start, end)| now - start >= MIN_ELAPSED_MS && end > to);
    // Paces as of the minute: the chart drawn from them can then be drawn once a minute, not once a view.
    let paced_at = now - now.rem_euclid(MINUTE_MS);
    let paces: Vec<Option<i64>> = grid
        .iter()
        .map(|values| projected.map(|(start, _)| pace(values.iter().sum(), paced_at - start, HOUR_MS)))
        .collect();
    let series: Vec<Series<'_>> = series_rows
        .iter()
        .zip(&grid)
        .zip(&paces)
        .enumerate()
        .filter(|(_, (((_, name), _), _))| !is_hidden(name))
        .map(|(color, (((_, name), values), pace))| Series { label: name, values, color, pace: pace.unwrap_or(0) })
        .collect();
    let projection_note = projected.map(|(_, end)| {
        let each = by.map_or_else(|| "namespace".to_owned(), |(dimension, _)| label_of(dimension).to_lowercase());
        format!(
            "Dashed: each {each} at its pace so far this period, on to the period's end at {} (an estimate).",
            display_time(end)
        )
    });
    let caption =
        projected.map(|(_, end)| format!("Projected to {} at the pace so far (an estimate)", display_time(end)));
    let chart = HourlyChart {
        first_hour: from,
        hours,
        series: &series,
        units_per_display: metric.units_per_display,
        unit: &metric.display_unit,
        last_hour_in_progress: in_progress,
        projection: projected
            .zip(caption.as_deref())
            .map(|((_, end), caption)| Projection { hours: ((end - to) / HOUR_MS) as usize, caption }),
    };
    let chart_svg = kept_chart_svg(db, organization_id, &chart).to_string();
    let legend = series_rows
        .iter()
        .enumerate()
        .map(|(i, (_, name))| LegendEntry { name: name.clone(), color: series_color(i), hidden: is_hidden(name) })
        .collect();
    let rows = (0..hours)
        .filter(|&h| grid.iter().any(|values| values[h] != 0))
        .map(|h| HourRow {
            hour: moment(from + h as i64 * HOUR_MS),
            totals: grid.iter().map(|values| format_quantity(values[h], metric.units_per_display)).collect(),
        })
        .collect();
    let namespaces = series_rows
        .iter()
        .zip(&grid)
        .zip(&paces)
        .map(|(((id, name), values), pace)| NamespaceUsage {
            id: id.clone(),
            name: name.clone(),
            total: format_quantity(values.iter().sum(), metric.units_per_display),
            pace: pace.map(|pace| format_quantity(pace, metric.units_per_display)),
        })
        .collect();
    let total = grid.iter().flatten().try_fold(0_i64, |sum, value| sum.checked_add(*value)).ok_or(AmountOutOfRange)?;
    let dimension_info = |key: &String| DimensionInfo { key: key.clone(), label: label_of(key) };
    Ok(UsageReport {
        metric: metric_info(metric),
        metrics: catalog.metrics.iter().map(metric_info).collect(),
        window: window.clone(),
        from: display_time(from),
        to: display_time(to),
        first_day: display_day(from),
        last_day: display_day(to - 1),
        legend,
        in_progress,
        namespaces,
        total: format_quantity(total, metric.units_per_display),
        rows,
        chart_svg,
        projection_note,
        complete_through: display_time(complete_through),
        late_events,
        estimate,
        budgets,
        dimensions: declared.keys().map(dimension_info).collect(),
        by: by.map(|(key, _)| dimension_info(key)),
    })
}

fn find_metric<'a>(catalog: &'a [MetricRow], key: &str) -> Result<&'a MetricRow, AppError> {
    catalog.iter().find(|m| m.key == key).ok_or_else(|| AppError::invalid("metric", "unknown metric"))
}

/// One vector of hourly values per namespace, in the order given.
fn hourly_grid<'a>(
    totals: &[HourTotal],
    from: i64,
    hours: usize,
    namespace_ids: impl Iterator<Item = &'a str>,
) -> Vec<Vec<i64>> {
    let index: HashMap<&str, usize> = namespace_ids.enumerate().map(|(i, id)| (id, i)).collect();
    let mut grid = vec![vec![0; hours]; index.len()];
    for t in totals {
        let hour = ((t.hour - from) / HOUR_MS) as usize;
        if let (Some(&ns), true) = (index.get(t.namespace_id.as_str()), hour < hours) {
            grid[ns][hour] = t.total;
        }
    }
    grid
}

/// The values of `dimension` the page shows (the declared ones in their order, any other found in
/// the rollups, say one no longer declared, then `unspecified`) and one vector of hourly values per
/// value, summed over the namespaces: they add up to the hours' totals. `None` on overflow.
fn value_grid(
    hourly: &[HourBreakdown],
    from: i64,
    hours: usize,
    dimension: &str,
    declared: &[String],
) -> Option<(Vec<String>, Vec<Vec<i64>>)> {
    let mut values: Vec<String> = declared.to_vec();
    let mut grid = vec![vec![0_i64; hours]; values.len()];
    for hour in hourly {
        let h = ((hour.hour - from) / HOUR_MS) as usize;
        let typed = hour.dimensions.iter().map(|(dimensions, total)| (dimensions.as_str(), *total));
        for (value, quantity) in break_down(hour.total, typed, dimension)? {
            let series = match values.iter().position(|v| v == value) {
                Some(series) => series,
                None => {
                    values.push(value.to_owned());
                    grid.push(vec![0; hours]);
                    values.len() - 1
                }
            };
            if h < hours {
                grid[series][h] = grid[series][h].checked_add(quantity)?;
            }
        }
    }
    // Unspecified last, present even when everything carried the dimension.
    let unspecified = match values.iter().position(|v| v == UNSPECIFIED) {
        Some(at) => (values.remove(at), grid.remove(at)),
        None => (UNSPECIFIED.to_owned(), vec![0; hours]),
    };
    values.push(unspecified.0);
    grid.push(unspecified.1);
    Some((values, grid))
}

/// `hour,namespace,metric,total` for every stored hourly total in the range, the same numbers as
/// the page; broken down `by` a dimension of the metric, a row per hour, namespace and value
/// (`unspecified` for usage without one), which add up to the same totals.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn usage_csv(
    db: &Db,
    organization_id: &str,
    metric_key: &str,
    window: &UsageWindow,
    by: Option<&str>,
) -> Result<String, Error> {
    let mut conn = db.pool.acquire().await?;
    let subscription = subscription_of(&mut conn, organization_id).await?;
    let (from, to, _) = view_bounds(subscription.as_ref(), window, db.clock.now_ms())?;
    let catalog = metric_catalog(&mut conn).await?;
    let metric = find_metric(&catalog.metrics, metric_key)?;
    let declared = catalog.dimensions.get(&metric.key).cloned().unwrap_or_default();
    let names: HashMap<String, String> =
        namespaces::list_namespaces(&mut conn, organization_id).await?.into_iter().map(|n| (n.id, n.name)).collect();
    let name_of = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_owned());
    let quantity = |total: i64| export_quantity(total, metric.units_per_display);
    let unit = metric.display_unit.replace(' ', "_");
    // As on the page, a breakdown the metric lacks is the plain export.
    let csv = match by.filter(|key| declared.contains_key(*key)) {
        None => {
            let totals =
                kept_hourly_totals(db, &mut conn, organization_id, &metric.key, (from, to), "portal.usage_page")
                    .await?;
            let mut csv = format!("hour_utc,namespace,metric,total_{unit}\n");
            for t in totals.iter() {
                let (hour, name) = (display_rfc3339(t.hour), name_of(&t.namespace_id));
                csv.push_str(&format!("{hour},{name},{},{}\n", metric.key, quantity(t.total)));
            }
            csv
        }
        Some(dimension) => {
            let hourly = hourly_breakdown(&mut conn, organization_id, None, &metric.key, from, to).await?;
            let mut csv = format!("hour_utc,namespace,metric,{dimension},total_{unit}\n");
            for hour in &hourly {
                let typed = hour.dimensions.iter().map(|(dimensions, total)| (dimensions.as_str(), *total));
                let values = break_down(hour.total, typed, dimension).ok_or(AmountOutOfRange)?;
                let (at, name) = (display_rfc3339(hour.hour), name_of(&hour.namespace_id));
                for (value, total) in values {
                    csv.push_str(&format!("{at},{name},{},{value},{}\n", metric.key, quantity(total)));
                }
            }
            csv
        }
    };
    Ok(csv)
}

/// `[from, to)` of a view, in whole hours ending with the current one, and for the billing
/// period's view the subscription's current period. The billing period is the subscription's own,
/// anchored at its start day, from its first whole hour: the hours the month-to-date estimate and
/// the next invoice rate, so the page's totals are theirs.
fn view_bounds(
    subscription: Option<&SubscriptionRow>,
    window: &UsageWindow,
    now: i64,
) -> Result<(i64, i64, Option<(i64, i64)>), Error> {
    let view = match window.range {
        UsageRange::Last24Hours => usage_domain::UsageRange::Last24Hours,
        UsageRange::Last7Days => usage_domain::UsageRange::Last7Days,
        UsageRange::BillingPeriod => usage_domain::UsageRange::BillingPeriod,
        UsageRange::Custom => {
            let (first, last) = (window.from.as_deref().unwrap_or_default(), window.to.as_deref().unwrap_or_default());
            let (from, to) =
                custom_bounds(first, last, now).map_err(|(field, reason)| AppError::invalid(field, reason))?;
            return Ok((from, to, None));
        }
    };
    let (from, to) = usage_domain::range_bounds(view, now);
    if window.range != UsageRange::BillingPeriod {
        return Ok((from, to, None));
    }
    let Some(subscription) = subscription else {
        return Ok((from, to, None));
    };
    let period = (subscription.current_period_start, subscription.current_period_end);
    Ok((hour_of(period.0 + HOUR_MS - 1), to, Some(period)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hour(at: i64, total: i64, typed: &[(&str, i64)]) -> HourBreakdown {
        let dimensions = typed.iter().map(|(d, q)| (d.to_string(), *q)).collect();
        HourBreakdown { namespace_id: "ns".into(), hour: at * HOUR_MS, total, dimensions }
    }

    #[test]
    fn every_value_found_has_a_series_and_the_series_add_up_to_the_hours() {
        let declared = ["signal".to_owned(), "activity".to_owned()];
        let hourly = [
            hour(0, 10, &[("action_type=activity", 4), ("action_type=retired", 1)]),
            hour(1, 3, &[("action_type=signal", 3)]),
        ];
        let (values, grid) = value_grid(&hourly, 0, 2, "action_type", &declared).unwrap();
        assert_eq!(values, ["signal", "activity", "retired", UNSPECIFIED], "a value no longer declared still counts");
        assert_eq!(grid, [vec![0, 3], vec![4, 0], vec![1, 0], vec![5, 0]]);
        let (values, _) = value_grid(&[], 0, 2, "action_type", &declared).unwrap();
        assert_eq!(values.last().map(String::as_str), Some(UNSPECIFIED), "always there, last");
    }
}
