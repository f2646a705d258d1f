//! The invoice run and everything after it: drafting each ended period, re-rating drafts while
//! late usage may arrive, finalizing them (number, credits, ledger), and the periodic cycle that
//! drives it all from durable rows, so a restart picks up exactly where it stopped. The
//! drafting and finalizing themselves are in `invoice_run`.

use crate::accounts::db::organizations::lock_organizations;
use crate::billing::db::credits::{self};
use crate::billing::db::invoices::{self};
use crate::billing::db::ledger::{self, PostingCause};
use crate::billing::db::subscriptions::{self};
use crate::billing::domain::ledger::Posting;
use crate::billing::domain::subscription::SubscriptionStatus;
use crate::billing::invoice_run::{close_periods, finalize_drafts};
use crate::billing::period_rating::{BillingRules, PlanCache, invoice_lines, subscription_by_id};
use crate::billing::subscriptions::move_status;
use crate::error::Error;
use crate::store::Db;
use crate::store::Dialect;

const BATCH: i64 = 2_000;

/// Re-rates a draft from the current rollups. Returns false when it is no longer a draft.
#[tracing::instrument(skip_all)]
pub async fn rerate_draft(
    db: &Db,
    rules: &BillingRules,
    invoice: &invoices::InvoiceRow,
    now: i64,
) -> Result<bool, Error> {
    let mut tx = db.begin().await?;
    if !invoices::claim_draft(&mut tx, &invoice.id).await? {
        return Ok(false);
    }
    let subscription = subscription_by_id(&mut tx, invoice).await?;
    let mut cache = PlanCache::default();
    let period = (invoice.period_start, invoice.period_end);
    let (lines, _) = invoice_lines(&mut tx, &mut cache, &subscription, period, rules.late_since(now)).await?;
    invoices::replace_draft_lines(&mut tx, &invoice.id, &lines, now).await?;
    tx.commit().await?;
    Ok(true)
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CycleReport {
    pub trials_converted: usize,
    pub periods_closed: usize,
    pub finalized: usize,
    pub rerated: usize,
    pub credits_expired: usize,
}

/// One pass of the billing job at `now`. Every step reads its work from durable rows, so running
/// it twice, or in two processes at once, does each piece of work once.
/// Closing this many periods in one cycle refreshes the planner's statistics of invoices.
const MANY_DRAFTS: usize = 1_000;

#[tracing::instrument(skip_all)]
pub async fn run_billing_cycle(db: &Db, rules: &BillingRules, now: i64) -> Result<CycleReport, Error> {
    let mut report = CycleReport::default();
    // Work lists are read on a connection that is returned before the work starts: each piece of
    // work takes its own transaction, and concurrent runs must not starve the pool.
    let trials = subscriptions::trials_ended(&mut *db.pool.acquire().await?, now).await?;
    for subscription in trials {
        let mut tx = db.begin().await?;
        let cause = subscriptions::TransitionCause { cause: "trial ended", actor: "system", at: now };
        let moved = (SubscriptionStatus::Trialing, SubscriptionStatus::Active);
        let converted = move_status(&mut tx, &subscription.organization_id, &subscription.id, moved, &cause).await?;
        tx.commit().await?;
        report.trials_converted += usize::from(converted);
    }
    let mut cache = PlanCache::default();
    loop {
        let due = subscriptions::periods_ended(&mut *db.pool.acquire().await?, now, BATCH).await?;
        if due.is_empty() {
            break;
        }
        report.periods_closed += close_periods(db, &mut cache, rules, &due, now).await?;
    }
    if db.dialect == Dialect::Postgres && report.periods_closed >= MANY_DRAFTS {
        // Statistics from before thousands of drafts existed lead the planner to hash every
        // rollup when finalizing them (400 ms per 1,000 instead of 17); autovacuum would update
        // them only later.
        invoices::refresh_statistics(&db.pool).await?;
    }
    loop {
        let due = invoices::drafts_due(&mut *db.pool.acquire().await?, now, BATCH).await?;
        if due.is_empty() {
            break;
        }
        let finalized = finalize_drafts(db, &mut cache, rules, &due, now).await?;
        report.finalized += finalized;
        // Drafts the ledger refuses stay due; without progress the run stops here until a person acts.
        if finalized == 0 {
            break;
        }
    }
    let mut after = String::new();
    loop {
        let stale = invoices::stale_drafts(&mut *db.pool.acquire().await?, now, &after, BATCH).await?;
        let Some(last) = stale.last() else { break };
        after = last.id.clone();
        for invoice in &stale {
            report.rerated += usize::from(rerate_draft(db, rules, invoice, now).await?);
        }
    }
    let expired = credits::expired_unposted(&mut *db.pool.acquire().await?, now).await?;
    for (credit_id, organization_id) in expired {
        report.credits_expired += usize::from(expire_credit(db, &credit_id, &organization_id, now).await?);
    }
    Ok(report)
}

async fn expire_credit(db: &Db, credit_id: &str, organization_id: &str, now: i64) -> Result<bool, Error> {
    let mut tx = db.begin().await?;
    // A finalization spending this credit holds the organization: what is left is read after it.
    lock_organizations(&mut tx, &[organization_id.to_owned()]).await?;
    let remaining = credits::credits_of(&mut tx, organization_id)
        .await?
        .into_iter()
        .find(|c| c.id == credit_id)
        .map_or(0, |c| c.remaining_minor);
    if remaining <= 0 {
        return Ok(false);
    }
    let cause = PostingCause { organization_id, kind: "credit.expired", reference: credit_id, at: now };
    let posted = ledger::post(&mut tx, cause, Posting::credit_expired(remaining)?).await?;
    tx.commit().await?;
    Ok(posted)
}
