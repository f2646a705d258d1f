//! The operations view: is ingestion flowing, are rollups keeping up, are the durable queues
//! draining, and did the last reconciliations (ours, and against the processor) come out clean. Read from the database, so every
//! instance shows the same figures.
use app::api::dto::admin::{
    JobQueue, MinuteTrend, Operations, ProcessorCheckRun, ReconcileRun, RefusedRefund, SetAsideRollup,
};

use crate::admin::db;
use crate::error::Error;
use crate::metering::chart::{minute_trend_svg, series_color};
use crate::metering::db::ingest_commits;
use crate::metering::db::rollup_lag::{lag_per_minute, rollup_backlog};
use crate::metering::db::set_aside;
use crate::metering::domain::usage::MINUTE_MS;
use crate::payments::db::disputes;
use crate::payments::db::overpayments;
use crate::payments::db::processor_checks;
use crate::payments::views::dispute_views;
use crate::reader::{display_time, moment};
use crate::shared::money::format_money;
use crate::shared::numbers::group_thousands;
use crate::store::Db;

#[tracing::instrument(skip_all)]
pub async fn operations(db: &Db) -> Result<Operations, Error> {
    let now = db.clock.now_ms();
    let mut conn = db.pool.acquire().await?;
    let (events_last_minute, events_last_hour, watermark) = ingest_commits::ingestion_stats(&mut conn, now).await?;
    let (dirty_hours, oldest_mark) = rollup_backlog(&mut conn).await?;
    let hour_start = now - now.rem_euclid(MINUTE_MS) - (TREND_MINUTES as i64 - 1) * MINUTE_MS;
    let ingested = per_minute(ingest_commits::events_per_minute(&mut conn, hour_start).await?);
    let lags = lag_per_minute(&mut conn, hour_start).await?;
    let lags = per_minute(lags.into_iter().map(|(minute, lag)| ((minute - hour_start) / MINUTE_MS, lag)).collect());
    let jobs: Vec<JobQueue> = db::queue_counts(&mut conn, now)
        .await?
        .into_iter()
        .map(|q| JobQueue { name: q.name, queued: q.queued, running: q.running, failed: q.failed })
        .collect();
    let parked_events = crate::payments::db::stripe_events::parked_count(&mut conn).await?;
    let last_reconcile = db::last_reconcile_run(&mut conn).await?.map(|run| ReconcileRun {
        finished: display_time(run.finished_at),
        invoices_checked: run.invoices_checked,
        mismatches: run.mismatches,
        detail: run.detail,
    });
    let last_processor_check = processor_checks::last_check(&mut conn).await?.map(|check| ProcessorCheckRun {
        finished: display_time(check.finished_at),
        since: display_time(check.since),
        events_recovered: check.events_recovered,
        charges_checked: check.charges_checked,
        discrepancies: check.discrepancies,
        detail: check.detail,
    });
    let rollups_set_aside = set_aside::recent(&mut conn, 50)
        .await?
        .into_iter()
        .map(|row| SetAsideRollup {
            organization: row.organization_name,
            namespace: row.namespace_name,
            metric: row.metric,
            hour: moment(row.hour),
            set_aside: moment(row.set_aside_at),
            error: row.error,
        })
        .collect();
    let open_disputes = dispute_views(disputes::open_disputes(&mut conn, 50).await?);
    let refused_refunds = overpayments::refused(&mut conn, 50)
        .await?
        .into_iter()
        .map(|row| RefusedRefund {
            organization: row.organization_name,
            amount: format_money(row.amount_minor, &row.currency),
            payment_id: row.payment_id,
            reason: row.reason,
            refused: moment(row.refused_at),
        })
        .collect();
    Ok(Operations {
        events_last_minute,
        events_last_hour,
        ingestion_watermark: watermark.map(moment),
        dirty_hours,
        rollup_lag_seconds: oldest_mark.map_or(0, |at| (now - at).max(0) / 1000),
        ingestion_trend: trend(ingested, |events| format!("{}/min", group_thousands(events.unsigned_abs())), 0),
        rollup_lag_trend: trend(lags, |ms| format!("{}.{} s", ms / 1000, ms % 1000 / 100), 1),
        jobs,
        parked_events,
        last_reconcile,
        last_processor_check,
        rollups_set_aside,
        open_disputes,
        refused_refunds,
    })
}

const TREND_MINUTES: usize = 60;

/// The hour's values by minute index, zero where none was recorded.
fn per_minute(rows: Vec<(i64, i64)>) -> Vec<i64> {
    let mut values = vec![0; TREND_MINUTES];
    for (minute, value) in rows {
        if let Some(slot) = usize::try_from(minute).ok().and_then(|m| values.get_mut(m)) {
            *slot = value;
        }
    }
    values
}

fn trend(per_minute: Vec<i64>, unit: impl Fn(i64) -> String, color: usize) -> MinuteTrend {
    let latest = per_minute.last().copied().unwrap_or(0);
    let peak = per_minute.iter().copied().max().unwrap_or(0);
    MinuteTrend {
        summary: format!("now {}, peak {}", unit(latest), unit(peak)),
        svg: minute_trend_svg(&per_minute, &series_color(color)),
        per_minute,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_of_minutes_keeps_each_value_in_its_minute_and_zero_elsewhere() {
        let values = per_minute(vec![(0, 5), (59, 7), (60, 9), (-1, 3)]);
        assert_eq!(values.len(), 60);
        assert_eq!((values[0], values[1], values[59]), (5, 0, 7));
        assert_eq!(values.iter().sum::<i64>(), 12, "minutes outside the hour are left out");
    }

    #[test]
    fn a_trend_says_its_latest_and_largest_values() {
        let mut values = vec![0; 60];
        values[10] = 12_500;
        values[59] = 1_200;
        let trend = trend(values, |v| format!("{}/min", group_thousands(v.unsigned_abs())), 0);
        assert_eq!(trend.summary, "now 1,200/min, peak 12,500/min");
        assert!(trend.svg.starts_with("<svg"));
    }
}
