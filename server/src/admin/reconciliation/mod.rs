//! `server reconcile` and the staff "reconcile now" button: rollups against their events, then
//! the ledger and invoices against the rollups. Every run is recorded for the operations view.
pub mod invoices;

use crate::admin::db::{self, NewReconcileRun};
use crate::admin::reconciliation::invoices::reconcile_billing;
use crate::billing::period_rating::BillingRules;
use crate::error::Error;
use crate::metering::usage::reconcile;
use crate::shared::time::display_ms;
use crate::store::Db;

/// How many mismatch lines a run keeps in its record; the command prints them all.
const DETAIL_LINES: usize = 20;

pub struct ReconcileReport {
    /// One `MISMATCH …` line per difference found.
    pub mismatches: Vec<String>,
    /// What was checked, one line per half.
    pub summary: Vec<String>,
}

#[tracing::instrument(skip_all)]
pub async fn run_reconciliation(
    db: &Db,
    rules: &BillingRules,
    (from, to): (i64, i64),
) -> Result<ReconcileReport, Error> {
    let started_at = db.clock.now_ms();
    let (usage, pending) = reconcile(db, from, to).await?;
    let mut mismatches: Vec<String> = usage
        .iter()
        .map(|m| {
            format!(
                "MISMATCH {} {} {} {} {} events={} rollups={}",
                m.level,
                display_ms(m.at),
                m.organization_id,
                m.namespace_id,
                m.metric,
                m.from_events,
                m.from_rollups
            )
        })
        .collect();
    let mut summary = vec![format!("rollups: {} mismatches ({pending} hours still waiting for rollup)", usage.len())];
    let billing = reconcile_billing(db, rules, (from, to), db.clock.now_ms()).await?;
    mismatches.extend(billing.mismatches.iter().map(|problem| format!("MISMATCH billing {problem}")));
    summary.push(format!(
        "billing: {} invoices checked, {} mismatches ({} periods with late usage still to be adjusted)",
        billing.invoices_checked,
        billing.mismatches.len(),
        billing.pending_adjustments
    ));
    let detail = mismatches.iter().take(DETAIL_LINES).cloned().collect::<Vec<_>>().join("\n");
    let run = NewReconcileRun {
        started_at,
        finished_at: db.clock.now_ms(),
        invoices_checked: billing.invoices_checked as i64,
        mismatches: mismatches.len() as i64,
        detail: &detail,
    };
    db::record_reconcile_run(&mut *db.pool.acquire().await?, &run).await?;
    Ok(ReconcileReport { mismatches, summary })
}
