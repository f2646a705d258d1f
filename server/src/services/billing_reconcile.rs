//! The billing half of `server reconcile`: the ledger balances, every invoice's receivable is
//! posted, and what invoices bill for a period equals that period rated again from its rollups.
use std::collections::BTreeMap;

use crate::db::invoices::{self, InvoiceRow, LineRow};
use crate::db::{Db, ledger, subscriptions};
use crate::error::Error;
use crate::services::invoicing::{BillingRules, PlanCache, rate_period};

#[derive(Debug, Default)]
pub struct BillingReconciliation {
    pub mismatches: Vec<String>,
    /// Periods whose late usage is not on an invoice yet but still will be.
    pub pending_adjustments: usize,
    pub invoices_checked: usize,
}

/// (quantity, amount) per metric.
fn by_metric(lines: impl Iterator<Item = (Option<String>, i64, i64)>) -> BTreeMap<String, (i64, i64)> {
    let mut sums = BTreeMap::new();
    for (metric, quantity, amount) in lines {
        let entry = sums.entry(metric.unwrap_or_default()).or_insert((0, 0));
        entry.0 += quantity;
        entry.1 += amount;
    }
    sums.retain(|_, sum| *sum != (0, 0));
    sums
}

pub async fn reconcile_billing(
    db: &Db,
    rules: &BillingRules,
    (from, to): (i64, i64),
    now: i64,
) -> Result<BillingReconciliation, Error> {
    let mut conn = db.pool.acquire().await?;
    let mut result = BillingReconciliation::default();
    for (transaction, sum) in ledger::unbalanced_transactions(&mut conn).await? {
        result.mismatches.push(format!("ledger transaction {transaction} is off balance by {sum}"));
    }
    for (invoice, due, posted) in ledger::receivable_mismatches(&mut conn).await? {
        result.mismatches.push(format!("invoice {invoice}: amount due {due}, receivable posted {posted}"));
    }
    for invoice in invoices::invoices_overlapping(&mut conn, from, to).await? {
        result.invoices_checked += 1;
        check_usage(&mut conn, rules, &invoice, now, &mut result).await?;
    }
    Ok(result)
}

/// What the invoices bill for the period (its own usage lines, then adjustments on later
/// invoices, drafts included) against the period rated again from today's rollups.
async fn check_usage(
    conn: &mut sqlx::AnyConnection,
    rules: &BillingRules,
    invoice: &InvoiceRow,
    now: i64,
    result: &mut BillingReconciliation,
) -> Result<(), Error> {
    let period = (invoice.period_start, invoice.period_end);
    let billed_lines = invoices::billed_usage_lines(conn, &invoice.subscription_id, period, true).await?;
    let billed = by_metric(billed_lines.into_iter().map(|l: LineRow| (l.metric, l.quantity, l.amount_minor)));
    let subscription = subscriptions::subscription_of(conn, &invoice.organization_id)
        .await?
        .filter(|s| s.id == invoice.subscription_id)
        .ok_or_else(|| Error::Corrupt(format!("invoice {} has no subscription", invoice.id)))?;
    let rated = rate_period(conn, &mut PlanCache::default(), &subscription, period).await?;
    let rated_now = by_metric(rated.usage_lines.into_iter().map(|l| (l.metric, l.quantity, l.amount_minor)));
    if billed == rated_now {
        return Ok(());
    }
    let will_be_adjusted = !invoices::has_fresh_draft(conn, &invoice.subscription_id).await?
        && period.1 > now - rules.late_usage_window_ms;
    if will_be_adjusted {
        result.pending_adjustments += 1;
    } else {
        result.mismatches.push(format!(
            "invoice {} ({}): billed {billed:?}, rollups rate to {rated_now:?}",
            invoice.id,
            invoice.number.as_deref().unwrap_or("draft")
        ));
    }
    Ok(())
}
