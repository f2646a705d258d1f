//! The operations view: is ingestion flowing, are rollups keeping up, are the durable queues
//! draining, and did the last reconciliations (ours, and against the processor) come out clean. Read from the database, so every
//! instance shows the same figures.
use app::api::dto::admin::{JobQueue, Operations, ProcessorCheckRun, ReconcileRun, RefusedRefund, SetAsideRollup};

use crate::admin::db;
use crate::error::Error;
use crate::metering::db::ingest_commits;
use crate::metering::db::set_aside;
use crate::payments::db::disputes;
use crate::payments::db::overpayments;
use crate::payments::db::processor_checks;
use crate::payments::views::dispute_views;
use crate::reader::display_time;
use crate::shared::money::format_money;
use crate::store::Db;

#[tracing::instrument(skip_all)]
pub async fn operations(db: &Db) -> Result<Operations, Error> {
    let now = db.clock.now_ms();
    let mut conn = db.pool.acquire().await?;
    let (events_last_minute, events_last_hour, watermark) = ingest_commits::ingestion_stats(&mut conn, now).await?;
    let (dirty_hours, oldest_mark) = db::rollup_backlog(&mut conn).await?;
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
            hour: display_time(row.hour),
            set_aside: display_time(row.set_aside_at),
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
            refused: display_time(row.refused_at),
        })
        .collect();
    Ok(Operations {
        events_last_minute,
        events_last_hour,
        ingestion_watermark: watermark.map(display_time),
        dirty_hours,
        rollup_lag_seconds: oldest_mark.map_or(0, |at| (now - at).max(0) / 1000),
        jobs,
        parked_events,
        last_reconcile,
        last_processor_check,
        rollups_set_aside,
        open_disputes,
        refused_refunds,
    })
}
