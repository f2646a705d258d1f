//! Rating a subscription's period from the hourly rollups: the plan in effect hour by hour, its
//! prorations and the adjustments for earlier periods. Drafts, re-rating, plan-change previews and
//! `server reconcile` all rate through here, so they cannot disagree.
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

use sqlx::AnyConnection;

use crate::billing::db::invoices::{self};
use crate::billing::db::plans::{self, PlanVersionRow};
use crate::billing::db::subscriptions::{self, SubscriptionRow};
use crate::billing::domain::forecast::projected_usage;
use crate::billing::domain::invoice_builder::{
    EarlierPeriod, InvoiceLine, PeriodCharges, PlanSegment, ProratedChange, build_lines, rate_segment,
};
use crate::billing::domain::period::next_period;
use crate::billing::domain::proration::{Proration, ProrationInput, prorate};
use crate::billing::domain::rating::{MetricPrice, Usage, validate_prices};
use crate::billing::domain::subscription::DowngradeTiming;
use crate::error::Error;
use crate::metering::db::usage::period_totals;
use crate::metering::domain::usage::{HOUR_MS, hour_of};

#[derive(Debug, Clone, Copy)]
pub struct BillingRules {
    pub grace_ms: i64,
    pub payment_terms_ms: i64,
    /// Usage older than this is refused at ingestion, so older periods can no longer change.
    pub late_usage_window_ms: i64,
    pub downgrade_timing: DowngradeTiming,
    pub credit_max_minor: i64,
}

impl BillingRules {
    /// Periods that ended after this can still receive late usage.
    pub fn late_since(&self, now: i64) -> Option<i64> {
        Some(now - self.late_usage_window_ms)
    }
}

/// A plan version with its prices, read and checked.
type PlanVersion = (PlanVersionRow, Vec<MetricPrice>);

/// Every plan version this process has read. A version never changes once created (a price change
/// is a new version, under a new random id), so a version read once holds for every rating and
/// page after it, on any database.
static READ_VERSIONS: LazyLock<RwLock<HashMap<String, Arc<PlanVersion>>>> = LazyLock::new(RwLock::default);

/// The plan versions one run uses; each is read from the database once per process.
#[derive(Default)]
pub struct PlanCache {
    versions: HashMap<String, Arc<PlanVersion>>,
}

impl PlanCache {
    pub async fn get(&mut self, conn: &mut AnyConnection, id: &str) -> Result<&PlanVersion, Error> {
        if !self.versions.contains_key(id) {
            let read = READ_VERSIONS.read().unwrap_or_else(PoisonError::into_inner).get(id).cloned();
            let version = match read {
                Some(version) => version,
                None => {
                    let version = Arc::new(read_version(conn, id).await?);
                    READ_VERSIONS
                        .write()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(id.to_owned(), version.clone());
                    version
                }
            };
            self.versions.insert(id.to_owned(), version);
        }
        self.versions.get(id).map(|version| &**version).ok_or_else(|| Error::Corrupt("plan cache".into()))
    }

    /// Reads every listed version that is not cached yet, so `cached` finds them all.
    pub async fn load(&mut self, conn: &mut AnyConnection, ids: &[String]) -> Result<(), Error> {
        for id in ids {
            self.get(conn, id).await?;
        }
        Ok(())
    }

    pub fn cached(&self, id: &str) -> Result<&PlanVersion, Error> {
        self.versions
            .get(id)
            .map(|version| &**version)
            .ok_or_else(|| Error::Corrupt(format!("plan version {id} was not loaded")))
    }
}

async fn read_version(conn: &mut AnyConnection, id: &str) -> Result<PlanVersion, Error> {
    let row = plans::plan_version(conn, id).await?;
    let prices: Vec<MetricPrice> =
        serde_json::from_str(&row.prices_json).map_err(|e| Error::Corrupt(format!("plan prices: {e}")))?;
    // Refused loudly at load: a price that cannot be rated must not bill anyone quietly.
    validate_prices(&prices).map_err(|invalid| Error::Corrupt(format!("plan version {id}: {invalid}")))?;
    Ok((row, prices))
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
    /// The plan in effect when the subscription ended before the period's end, and its credit.
    pub ended_early: Option<(String, Proration)>,
    pub usage_lines: Vec<InvoiceLine>,
}

/// The anchored period that `period` is part of: itself, unless the subscription ended inside it.
/// Included quantities and the base fee are shared out over the whole one.
fn whole_period(subscription: &SubscriptionRow, period: (i64, i64)) -> (i64, i64) {
    match subscription.ended_at {
        Some(ended_at) if ended_at == period.1 => {
            (period.0, next_period(subscription.anchor_at, period.0).1.max(period.1))
        }
        _ => period,
    }
}

/// Usage in an hour is rated under the plan in effect at its end: rollups are hourly, so a change
/// splits usage at the next whole hour.
pub async fn rate_period(
    conn: &mut AnyConnection,
    cache: &mut PlanCache,
    subscription: &SubscriptionRow,
    period: (i64, i64),
) -> Result<RatedPeriod, Error> {
    rate_period_until(conn, cache, subscription, period, i64::MAX).await
}

/// [`rate_period`] counting only the usage before `usage_until`: the period as it stood then.
pub async fn rate_period_until(
    conn: &mut AnyConnection,
    cache: &mut PlanCache,
    subscription: &SubscriptionRow,
    period: (i64, i64),
    usage_until: i64,
) -> Result<RatedPeriod, Error> {
    rate_period_counting(conn, cache, subscription, period, UsageCounted::Until(usage_until)).await
}

/// [`rate_period`] as it would end if usage kept the period's pace from `now` on
/// (`billing::domain::forecast`).
pub async fn rate_period_projected(
    conn: &mut AnyConnection,
    cache: &mut PlanCache,
    subscription: &SubscriptionRow,
    period: (i64, i64),
    now: i64,
) -> Result<RatedPeriod, Error> {
    rate_period_counting(conn, cache, subscription, period, UsageCounted::ProjectedFrom(now)).await
}

#[derive(Clone, Copy)]
enum UsageCounted {
    /// What was metered before this instant.
    Until(i64),
    /// What was metered before this instant, and the rest of the period at its pace so far.
    ProjectedFrom(i64),
}

async fn rate_period_counting(
    conn: &mut AnyConnection,
    cache: &mut PlanCache,
    subscription: &SubscriptionRow,
    period: (i64, i64),
    counted: UsageCounted,
) -> Result<RatedPeriod, Error> {
    let usage_until = match counted {
        UsageCounted::Until(at) | UsageCounted::ProjectedFrom(at) => at,
    };
    let as_usage = |rows: Vec<(String, String, i64)>| -> Vec<Usage> {
        rows.into_iter().map(|(namespace_id, metric, quantity)| Usage { namespace_id, metric, quantity }).collect()
    };
    let pace = match counted {
        UsageCounted::ProjectedFrom(now) if now > period.0 && now < period.1 => {
            Some((now, as_usage(period_totals(conn, &subscription.organization_id, period.0, now).await?)))
        }
        _ => None,
    };
    let whole = whole_period(subscription, period);
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
        let metered =
            as_usage(period_totals(conn, &subscription.organization_id, *from, to.min(usage_until).max(*from)).await?);
        let usage = match &pace {
            Some((now, in_period)) if *from < *now && *now < to => {
                projected_usage(&metered, in_period, now - period.0, to - now).map_err(Error::from)?
            }
            _ => metered,
        };
        let (row, prices) = cache.get(conn, version_id).await?;
        let segment = PlanSegment { plan_name: &row.plan_name, prices, from_ms: *from, to_ms: to, usage };
        usage_lines.extend(rate_segment(&segment, whole)?);
    }
    let ended_early = if whole.1 > period.1 {
        let in_effect = boundaries.last().map_or(&at_start, |(_, version_id)| version_id);
        let (row, _) = cache.get(conn, in_effect).await?;
        let input = ProrationInput {
            period_start_ms: whole.0,
            period_end_ms: whole.1,
            change_at_ms: period.1,
            old_base_fee_minor: row.base_fee_minor,
            new_base_fee_minor: 0,
        };
        let proration = prorate(input)
            .map_err(|e| Error::Corrupt(format!("subscription {} ended at {}: {e}", subscription.id, period.1)))?;
        Some((row.plan_name.clone(), proration))
    } else {
        None
    };
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
        ended_early,
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
        ended_early: current.ended_early.as_ref().map(|(plan, proration)| ProratedChange {
            from_plan: plan,
            to_plan: "",
            proration,
        }),
        segments: Vec::new(),
        earlier,
    };
    let mut lines = build_lines(&charges)?;
    // Usage lines were rated per segment above; they go between prorations and adjustments.
    let adjustments_from = lines.iter().position(|l| l.usage_period.is_some()).unwrap_or(lines.len());
    lines.splice(adjustments_from..adjustments_from, current.usage_lines);
    Ok((lines, current.currency))
}

pub async fn subscription_by_id(
    conn: &mut AnyConnection,
    invoice: &invoices::InvoiceRow,
) -> Result<SubscriptionRow, Error> {
    subscriptions::subscription(conn, &invoice.subscription_id)
        .await?
        .filter(|s| s.organization_id == invoice.organization_id)
        .ok_or_else(|| Error::Corrupt(format!("invoice {} has no subscription", invoice.id)))
}
