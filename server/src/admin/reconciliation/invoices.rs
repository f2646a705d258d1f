//! The billing half of `server reconcile`: the ledger balances, every invoice's receivable is
//! posted, every hour of usage lies in a billed period, and what invoices bill for a period equals
//! that period rated again from its rollups.
use crate::billing::db::invoices::{self, InvoiceRow};
use crate::billing::db::ledger;
use crate::billing::db::{coupons, credits};
use crate::billing::domain::invoice_builder::{EarlierPeriod, adjustments};
use crate::billing::period_rating::{BillingRules, PlanCache, rate_period, subscription_by_id};
use crate::error::Error;
use crate::payments::db::overpayments;
use crate::shared::time::display_rfc3339;
use crate::store::Db;

#[derive(Debug, Default)]
pub struct BillingReconciliation {
    pub mismatches: Vec<String>,
    /// Periods whose late usage is not on an invoice yet but still will be.
    pub pending_adjustments: usize,
    pub invoices_checked: usize,
}

/// Unbilled hours (and invoices missing under their lines) listed at most: the first ones show
/// where to look.
const LISTED_AT_MOST: i64 = 20;

#[tracing::instrument(skip_all)]
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
    for (credit, granted, applied) in credits::overspent_credits(&mut conn).await? {
        result.mismatches.push(format!("credit {credit}: {applied} applied of {granted} granted"));
    }
    for (invoice, on_lines, recorded) in coupons::discount_mismatches(&mut conn).await? {
        result.mismatches.push(format!("invoice {invoice}: discount lines {on_lines}, discount recorded {recorded}"));
    }
    for (organization, posted, recorded) in coupons::discount_ledger_mismatches(&mut conn).await? {
        result.mismatches.push(format!("organization {organization}: discounts {posted} posted, {recorded} recorded"));
    }
    for (organization, balance) in ledger::overdrawn_credit_accounts(&mut conn).await? {
        result.mismatches.push(format!("organization {organization}: customer credit overdrawn by {balance}"));
    }
    for (invoice, due, collected) in overpayments::overcollected_invoices(&mut conn).await? {
        result.mismatches.push(format!("invoice {invoice}: {collected} collected for {due} due"));
    }
    for (organization, held, owed) in overpayments::overpayment_mismatches(&mut conn).await? {
        result.mismatches.push(format!("organization {organization}: overpayments {held} held, {owed} owed back"));
    }
    for (organization, hour) in invoices::unbilled_usage_hours(&mut conn, (from, to), LISTED_AT_MOST).await? {
        let hour = display_rfc3339(hour);
        result
            .mismatches
            .push(format!("organization {organization}: usage in the hour of {hour} is in no billed period"));
    }
    for (invoice, lines) in invoices::lines_without_invoice(&mut conn, LISTED_AT_MOST).await? {
        result.mismatches.push(format!("lines name invoice {invoice}, which does not exist ({lines} of them)"));
    }
    let mut cache = PlanCache::default();
    for invoice in invoices::invoices_overlapping(&mut conn, from, to).await? {
        result.invoices_checked += 1;
        check_usage(&mut conn, &mut cache, rules, &invoice, now, &mut result).await?;
    }
    Ok(result)
}

/// What the invoices bill for the period (its own usage lines, then adjustments on later
/// invoices, drafts included) against the period rated again from today's rollups: the same
/// comparison that makes adjustment lines, so a clean period is one that needs none.
async fn check_usage(
    conn: &mut sqlx::AnyConnection,
    cache: &mut PlanCache,
    rules: &BillingRules,
    invoice: &InvoiceRow,
    now: i64,
    result: &mut BillingReconciliation,
) -> Result<(), Error> {
    let period = (invoice.period_start, invoice.period_end);
    let billed = invoices::billed_usage_lines(conn, &invoice.subscription_id, period, true)
        .await?
        .into_iter()
        .map(|row| row.into_line())
        .collect::<Result<Vec<_>, _>>()?;
    let subscription = subscription_by_id(conn, invoice).await?;
    let rated_now = rate_period(conn, cache, &subscription, period).await?.usage_lines;
    let differences = adjustments(&EarlierPeriod { from_ms: period.0, to_ms: period.1, rated_now, billed })?;
    if differences.is_empty() {
        return Ok(());
    }
    // An ended subscription has no later invoice to carry an adjustment.
    let has_later_invoice = subscription.ended_at.is_none_or(|ended_at| ended_at > period.1);
    let will_be_adjusted = has_later_invoice
        && !invoices::has_fresh_draft(conn, &invoice.subscription_id).await?
        && period.1 > now - rules.late_usage_window_ms;
    if will_be_adjusted {
        result.pending_adjustments += 1;
    } else {
        let unbilled: Vec<String> = differences
            .iter()
            .map(|d| format!("{} {} ({} minor units)", d.metric.as_deref().unwrap_or(""), d.quantity, d.amount_minor))
            .collect();
        result.mismatches.push(format!(
            "invoice {} ({}): rollups differ from what was billed by {}",
            invoice.id,
            invoice.number.as_deref().unwrap_or("draft"),
            unbilled.join(", ")
        ));
    }
    Ok(())
}
