//! The invoice run and everything after it: drafting each ended period, re-rating drafts while
//! late usage may arrive, finalizing them (number, credits, ledger), and the periodic cycle that
//! drives it all from durable rows, so a restart picks up exactly where it stopped.
use std::collections::HashMap;

use sqlx::AnyConnection;
use time::OffsetDateTime;

use crate::config::{DowngradeTiming, Settings};
use crate::db::credits::{self};
use crate::db::invoices::{self};
use crate::db::ledger::{self, Cause};
use crate::db::plans::{self, PlanVersionRow};
use crate::db::subscriptions::{self, SubscriptionRow};
use crate::db::usage::period_totals;
use crate::db::{Backend, Db};
use crate::domain::invoice_builder::{
    EarlierPeriod, InvoiceLine, PeriodCharges, PlanSegment, ProratedChange, build_lines, rate_segment,
};
use crate::domain::ledger::Posting;
use crate::domain::period::period_containing;
use crate::domain::proration::{Proration, ProrationInput, prorate};
use crate::domain::rating::{MetricPrice, Usage};
use crate::domain::subscription::SubscriptionStatus;
use crate::domain::usage::hour_of;
use crate::error::Error;
use crate::services::invoice_run::{close_periods, finalize_drafts};

const HOUR_MS: i64 = 3_600_000;
const BATCH: i64 = 2_000;

#[derive(Debug, Clone, Copy)]
pub struct BillingRules {
    pub grace_ms: i64,
    pub payment_terms_ms: i64,
    /// Usage older than this is refused at ingestion, so older periods can no longer change.
    pub late_usage_window_ms: i64,
    pub downgrade_timing: DowngradeTiming,
    pub credit_max_minor: i64,
}

impl From<&Settings> for BillingRules {
    fn from(s: &Settings) -> Self {
        Self {
            grace_ms: s.invoice_grace_hours * HOUR_MS,
            payment_terms_ms: s.payment_terms_days * 24 * HOUR_MS,
            late_usage_window_ms: s.usage_max_age_days * 24 * HOUR_MS,
            downgrade_timing: s.downgrade_timing,
            credit_max_minor: s.credit_max_minor,
        }
    }
}

impl BillingRules {
    /// Periods that ended after this can still receive late usage.
    fn late_since(&self, now: i64) -> Option<i64> {
        Some(now - self.late_usage_window_ms)
    }
}

pub fn instant(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub fn millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The billing period containing `at`: for a period's end, the period after it.
pub fn next_period(anchor_at: i64, at: i64) -> (i64, i64) {
    let period = period_containing(instant(anchor_at), instant(at));
    (millis(period.start), millis(period.end))
}

/// Plan versions read once per run.
#[derive(Default)]
pub struct PlanCache {
    versions: HashMap<String, (PlanVersionRow, Vec<MetricPrice>)>,
}

impl PlanCache {
    pub async fn get(
        &mut self,
        conn: &mut AnyConnection,
        id: &str,
    ) -> Result<&(PlanVersionRow, Vec<MetricPrice>), Error> {
        if !self.versions.contains_key(id) {
            let row = plans::plan_version(conn, id).await?;
            let prices: Vec<MetricPrice> =
                serde_json::from_str(&row.prices_json).map_err(|e| Error::Corrupt(format!("plan prices: {e}")))?;
            self.versions.insert(id.to_owned(), (row, prices));
        }
        self.versions.get(id).ok_or_else(|| Error::Corrupt("plan cache".into()))
    }

    /// Reads every listed version that is not cached yet, so `cached` finds them all.
    pub async fn load(&mut self, conn: &mut AnyConnection, ids: &[String]) -> Result<(), Error> {
        for id in ids {
            self.get(conn, id).await?;
        }
        Ok(())
    }

    pub fn cached(&self, id: &str) -> Result<&(PlanVersionRow, Vec<MetricPrice>), Error> {
        self.versions.get(id).ok_or_else(|| Error::Corrupt(format!("plan version {id} was not loaded")))
    }
}

pub fn proration_of(change: &subscriptions::PlanChangeRow) -> Result<Proration, Error> {
    prorate(ProrationInput {
        period_start_ms: change.period_start,
        period_end_ms: change.period_end,
        change_at_ms: change.effective_at,
        old_base_fee_minor: change.old_base_fee_minor,
        new_base_fee_minor: change.new_base_fee_minor,
    })
    .map_err(|e| Error::Corrupt(format!("plan change {}: {e}", change.id)))
}

/// A period rated from the rollups: the plan it started on, the changes inside it, its usage lines.
pub struct RatedPeriod {
    pub base_plan: String,
    pub base_fee_minor: i64,
    pub currency: String,
    pub changes: Vec<(String, String, Proration)>,
    pub usage_lines: Vec<InvoiceLine>,
}

/// Usage in an hour is rated under the plan in effect at its end: rollups are hourly, so a change
/// splits usage at the next whole hour.
pub async fn rate_period(
    conn: &mut AnyConnection,
    cache: &mut PlanCache,
    subscription: &SubscriptionRow,
    period: (i64, i64),
) -> Result<RatedPeriod, Error> {
    let from_start = subscriptions::applied_changes(conn, &subscription.id, period.0, i64::MAX).await?;
    let at_start = match from_start.first() {
        Some(first) if first.effective_at == period.0 => first.to_version_id.clone(),
        Some(first) => first.from_version_id.clone(),
        None => subscription.plan_version_id.clone(),
    };
    let inside: Vec<_> = from_start.iter().filter(|c| c.effective_at > period.0 && c.effective_at < period.1).collect();
    let mut boundaries = vec![(period.0, at_start.clone())];
    for change in &inside {
        let split = (hour_of(change.effective_at + HOUR_MS - 1)).min(period.1);
        boundaries.push((split, change.to_version_id.clone()));
    }
    let mut usage_lines = Vec::new();
    for (index, (from, version_id)) in boundaries.iter().enumerate() {
        let to = boundaries.get(index + 1).map_or(period.1, |next| next.0);
        if to <= *from {
            continue;
        }
        let usage: Vec<Usage> = period_totals(conn, &subscription.organization_id, *from, to)
            .await?
            .into_iter()
            .map(|(namespace_id, metric, quantity)| Usage { namespace_id, metric, quantity })
            .collect();
        let (row, prices) = cache.get(conn, version_id).await?;
        let segment = PlanSegment { plan_name: &row.plan_name, prices, from_ms: *from, to_ms: to, usage };
        usage_lines.extend(rate_segment(&segment, period));
    }
    let mut changes = Vec::new();
    for change in inside {
        let from_name = cache.get(conn, &change.from_version_id).await?.0.plan_name.clone();
        let to_name = cache.get(conn, &change.to_version_id).await?.0.plan_name.clone();
        changes.push((from_name, to_name, proration_of(change)?));
    }
    let (base, _) = cache.get(conn, &at_start).await?;
    Ok(RatedPeriod {
        base_plan: base.plan_name.clone(),
        base_fee_minor: base.base_fee_minor,
        currency: base.currency.clone(),
        changes,
        usage_lines,
    })
}

/// Every line of the invoice for `period`, with adjustments for late usage of the finalized
/// periods that ended after `late_since` (none when it is `None`).
pub async fn invoice_lines(
    conn: &mut AnyConnection,
    cache: &mut PlanCache,
    subscription: &SubscriptionRow,
    period: (i64, i64),
    late_since: Option<i64>,
) -> Result<(Vec<InvoiceLine>, String), Error> {
    let current = rate_period(conn, cache, subscription, period).await?;
    let mut earlier = Vec::new();
    let earlier_periods = match late_since {
        Some(since) => invoices::finalized_periods(conn, &subscription.id, since, period.0).await?,
        None => Vec::new(),
    };
    for (from, to) in earlier_periods {
        let rated_now = rate_period(conn, cache, subscription, (from, to)).await?.usage_lines;
        let billed = invoices::billed_usage_lines(conn, &subscription.id, (from, to), false)
            .await?
            .into_iter()
            .map(|row| row.into_line())
            .collect::<Result<Vec<_>, _>>()?;
        earlier.push(EarlierPeriod { from_ms: from, to_ms: to, rated_now, billed });
    }
    let charges = PeriodCharges {
        period,
        base_plan: &current.base_plan,
        base_fee_minor: current.base_fee_minor,
        changes: current
            .changes
            .iter()
            .map(|(from_plan, to_plan, proration)| ProratedChange { from_plan, to_plan, proration })
            .collect(),
        segments: Vec::new(),
        earlier,
    };
    let mut lines = build_lines(&charges);
    // Usage lines were rated per segment above; they go between prorations and adjustments.
    let adjustments_from = lines.iter().position(|l| l.usage_period.is_some()).unwrap_or(lines.len());
    lines.splice(adjustments_from..adjustments_from, current.usage_lines);
    Ok((lines, current.currency))
}

/// Re-rates a draft from the current rollups. Returns false when it is no longer a draft.
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

pub async fn subscription_by_id(
    conn: &mut AnyConnection,
    invoice: &invoices::InvoiceRow,
) -> Result<SubscriptionRow, Error> {
    subscriptions::subscription_of(conn, &invoice.organization_id)
        .await?
        .filter(|s| s.id == invoice.subscription_id)
        .ok_or_else(|| Error::Corrupt(format!("invoice {} has no subscription", invoice.id)))
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

pub async fn run_billing_cycle(db: &Db, rules: &BillingRules, now: i64) -> Result<CycleReport, Error> {
    let mut report = CycleReport::default();
    // Work lists are read on a connection that is returned before the work starts: each piece of
    // work takes its own transaction, and concurrent runs must not starve the pool.
    let trials = subscriptions::trials_ended(&mut *db.pool.acquire().await?, now).await?;
    for subscription in trials {
        let mut tx = db.begin().await?;
        let cause = subscriptions::Cause { cause: "trial ended", actor: "system", at: now };
        let converted = subscriptions::change_status(
            &mut tx,
            &subscription.id,
            SubscriptionStatus::Trialing,
            SubscriptionStatus::Active,
            &cause,
        )
        .await?;
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
    if db.backend == Backend::Postgres && report.periods_closed >= MANY_DRAFTS {
        // Statistics from before thousands of drafts existed lead the planner to hash every
        // rollup when finalizing them (400 ms per 1,000 instead of 17); autovacuum would update
        // them only later.
        sqlx::query("analyze invoices, usage_hourly").execute(&db.pool).await?;
    }
    loop {
        let due = invoices::drafts_due(&mut *db.pool.acquire().await?, now, BATCH).await?;
        if due.is_empty() {
            break;
        }
        report.finalized += finalize_drafts(db, &mut cache, rules, &due, now).await?;
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
    let remaining = credits::credits_of(&mut tx, organization_id)
        .await?
        .into_iter()
        .find(|c| c.id == credit_id)
        .map_or(0, |c| c.remaining_minor);
    let cause = Cause { organization_id, kind: "credit.expired", reference: credit_id, at: now };
    let posted = ledger::post(&mut tx, cause, Posting::credit_expired(remaining)?).await?;
    tx.commit().await?;
    Ok(posted)
}
