//! The plan catalog, subscribing, and the month-to-date cost estimate, rated by the same
//! functions that rate invoices.
use std::collections::BTreeMap;

use app::api::dto::usage::{CostEstimate, NamespaceProjection, Projection};

use sqlx::AnyConnection;

use crate::accounts::db::namespaces::list_namespaces;
use crate::billing::db::subscriptions::{self, NewSubscription, SubscriptionRow};
use crate::billing::db::{coupons, plans};
use crate::billing::domain::catalog::{self, CURRENCY};
use crate::billing::domain::forecast::MIN_ELAPSED_MS;
use crate::billing::domain::invoice_builder::{InvoiceLine, LineKind};
use crate::billing::domain::period::next_period;
use crate::billing::domain::subscription::SubscriptionStatus;
use crate::billing::domain::trend::describe_change;
use crate::billing::period_rating::{PlanCache, invoice_lines, rate_period_projected, rate_period_until};
use crate::error::Error;
use crate::metering::db::usage::{end_usage_at, usage_window};
use crate::metering::domain::usage::hour_of;
use crate::reader::display_time;
use crate::shared::money::{AmountOutOfRange, checked_sum, format_money};
use crate::store::Db;

/// Puts every catalog plan's current version in the database (idempotent).
#[tracing::instrument(skip_all)]
pub async fn ensure_catalog(db: &Db) -> Result<(), Error> {
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    for (name, version) in catalog::plans() {
        let prices = serde_json::to_string(&version.prices).map_err(|e| Error::Corrupt(e.to_string()))?;
        plans::ensure_plan_version(&mut tx, name, 1, CURRENCY, version.base_fee_minor, &prices, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A subscription canceled at `at` stops there: the invoice run bills its period up to `at` (the
/// final invoice), and usage from `at` on is refused, since no period would bill it.
pub async fn end_subscription(
    conn: &mut sqlx::AnyConnection,
    subscription: &subscriptions::SubscriptionRow,
    at: i64,
) -> Result<(), Error> {
    // An end its owner asked for that has passed already stands; a canceler that read the clock
    // before the invoice run moved the period on ends no earlier than the period it is in.
    let requested_end = usage_window(conn, &subscription.organization_id).await?.ends_at;
    let end = requested_end.map_or(at, |end| end.min(at)).max(subscription.current_period_start);
    subscriptions::end_at(conn, &subscription.id, end).await?;
    end_usage_at(conn, &subscription.organization_id, end).await
}

/// Gives subscriptions made before periods were stored the period they are in now, so the
/// invoice run starts from the present instead of drafting every month since their anchor.
#[tracing::instrument(skip_all)]
pub async fn backfill_periods(db: &Db) -> Result<usize, Error> {
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    let missing = subscriptions::without_period(&mut tx).await?;
    for subscription in &missing {
        subscriptions::set_period(&mut tx, &subscription.id, next_period(subscription.anchor_at, now)).await?;
    }
    tx.commit().await?;
    Ok(missing.len())
}

/// Subscribes an organization to the current version of a catalog plan, with an optional free
/// trial. Periods are anchored at the start of the current hour (or at the trial's end): usage is
/// metered in whole hours, so a period never splits one.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn subscribe(
    conn: &mut sqlx::AnyConnection,
    organization_id: &str,
    plan_name: &str,
    trial_days: Option<i64>,
    now: i64,
) -> Result<(), Error> {
    let version = plans::current_versions(conn)
        .await?
        .into_iter()
        .find(|v| v.plan_name == plan_name)
        .ok_or_else(|| Error::Corrupt(format!("no plan {plan_name}")))?;
    let start = hour_of(now);
    let (status, anchor_at, period, trial_ends_at) = match trial_days {
        Some(days) => {
            let trial_end = start + days * 86_400_000;
            (SubscriptionStatus::Trialing, trial_end, (start, trial_end), Some(trial_end))
        }
        None => (SubscriptionStatus::Active, start, next_period(start, start), None),
    };
    let new =
        NewSubscription { organization_id, plan_version_id: &version.id, status, anchor_at, period, trial_ends_at };
    subscriptions::insert_subscription(conn, &new).await?;
    Ok(())
}

/// What the current period costs so far: base fee, prorations and usage rated under the plan in
/// effect when it happened. `None` for an organization without a subscription.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn month_to_date_estimate(db: &Db, organization_id: &str) -> Result<Option<CostEstimate>, Error> {
    estimate(db, organization_id, false).await
}

/// The estimate with its usage charges so far beside the previous period's at the same point:
/// the dashboard's. One more rating, of the previous period, so the other pages go without.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn month_to_date_estimate_compared(db: &Db, organization_id: &str) -> Result<Option<CostEstimate>, Error> {
    estimate(db, organization_id, true).await
}

async fn estimate(db: &Db, organization_id: &str, compare: bool) -> Result<Option<CostEstimate>, Error> {
    let mut conn = db.pool.acquire().await?;
    let Some(subscription) = subscriptions::subscription_of(&mut conn, organization_id).await? else {
        return Ok(None);
    };
    let period = (subscription.current_period_start, subscription.current_period_end);
    let mut cache = PlanCache::default();
    let plan = cache.get(&mut conn, &subscription.plan_version_id).await?.0.clone();
    let span = format!("{} to {}", display_time(period.0), display_time(period.1));
    if subscription.status()? == SubscriptionStatus::Trialing {
        return Ok(Some(CostEstimate {
            plan: format!("{} (free trial)", plan.plan_name),
            period: span,
            total: format_money(0, &plan.currency),
            total_minor: 0,
            discount: None,
            usage_change: None,
            projection: None,
        }));
    }
    let (lines, currency) = invoice_lines(&mut conn, &mut cache, &subscription, period, None).await?;
    let gross = checked_sum(lines.iter().map(|l| l.amount_minor))?;
    let discount = discount_due(&mut conn, &subscription, gross, &currency).await?;
    let total = gross - discount.as_ref().map_or(0, |(amount, _)| *amount);
    let usage_change = match compare {
        true => {
            let so_far = checked_sum(lines.iter().filter(|l| l.kind == LineKind::Usage).map(|l| l.amount_minor))?;
            usage_change(&mut conn, &mut cache, &subscription, so_far, &currency, db.clock.now_ms()).await?
        }
        false => None,
    };
    let so_far = Estimated { lines: &lines, gross, currency: &currency };
    let projection = projection(&mut conn, &mut cache, &subscription, period, so_far, db.clock.now_ms()).await?;
    Ok(Some(CostEstimate {
        plan: plan.plan_name,
        period: span,
        total: format_money(total, &currency),
        total_minor: total,
        discount: discount.map(|(amount, code)| format!("{} off with {code}", format_money(amount, &currency))),
        usage_change,
        projection,
    }))
}

/// The period's estimate so far, which the projection starts from.
struct Estimated<'a> {
    lines: &'a [InvoiceLine],
    gross: i64,
    currency: &'a str,
}

/// The period's total if usage keeps its pace: the estimate with its usage lines rated again from
/// quantities carried to the period's end, and the discount taken from that total.
async fn projection(
    conn: &mut AnyConnection,
    cache: &mut PlanCache,
    subscription: &SubscriptionRow,
    period: (i64, i64),
    so_far: Estimated<'_>,
    now: i64,
) -> Result<Option<Projection>, Error> {
    if now.saturating_sub(period.0) < MIN_ELAPSED_MS || now >= period.1 {
        return Ok(None);
    }
    let projected = rate_period_projected(conn, cache, subscription, period, now).await?.usage_lines;
    let usage_so_far = checked_sum(so_far.lines.iter().filter(|l| l.kind == LineKind::Usage).map(|l| l.amount_minor))?;
    let usage_ahead = checked_sum(projected.iter().map(|l| l.amount_minor))?;
    let gross =
        so_far.gross.checked_sub(usage_so_far).and_then(|g| g.checked_add(usage_ahead)).ok_or(AmountOutOfRange)?;
    let discount = discount_due(conn, subscription, gross, so_far.currency).await?.map_or(0, |(amount, _)| amount);
    let total = gross.checked_sub(discount).ok_or(AmountOutOfRange)?;
    let mut by_namespace: BTreeMap<&str, i64> = BTreeMap::new();
    for line in &projected {
        let sum = by_namespace.entry(line.namespace_id.as_deref().unwrap_or_default()).or_insert(0);
        *sum = sum.checked_add(line.amount_minor).ok_or(AmountOutOfRange)?;
    }
    let names: BTreeMap<String, String> =
        list_namespaces(conn, &subscription.organization_id).await?.into_iter().map(|n| (n.id, n.name)).collect();
    let mut per_namespace: Vec<NamespaceProjection> = by_namespace
        .into_iter()
        .map(|(id, usage_minor)| NamespaceProjection {
            namespace: names.get(id).cloned().unwrap_or_else(|| id.to_owned()),
            usage: format_money(usage_minor, so_far.currency),
            usage_minor,
        })
        .collect();
    per_namespace.sort_by(|a, b| a.namespace.cmp(&b.namespace));
    Ok(Some(Projection { total: format_money(total, so_far.currency), total_minor: total, per_namespace }))
}

/// `so_far` beside the previous period's usage charges at the same point into it, rated the same
/// way; `None` in a subscription's first period.
async fn usage_change(
    conn: &mut AnyConnection,
    cache: &mut PlanCache,
    subscription: &SubscriptionRow,
    so_far: i64,
    currency: &str,
    now: i64,
) -> Result<Option<String>, Error> {
    let previous = next_period(subscription.anchor_at, subscription.current_period_start - 1);
    if previous.0 < subscription.anchor_at || previous.1 != subscription.current_period_start {
        return Ok(None);
    }
    let same_point = previous.0.saturating_add(now.saturating_sub(subscription.current_period_start));
    let then = rate_period_until(conn, cache, subscription, previous, same_point).await?.usage_lines;
    let before = checked_sum(then.iter().map(|l| l.amount_minor))?;
    Ok(Some(describe_change(so_far, before, currency)))
}

/// The discount the period's invoice would receive if it were finalized now.
async fn discount_due(
    conn: &mut AnyConnection,
    subscription: &SubscriptionRow,
    gross_minor: i64,
    currency: &str,
) -> Result<Option<(i64, String)>, Error> {
    let running =
        coupons::running_redemption(conn, &subscription.organization_id, &subscription.plan_version_id).await?;
    let Some(redemption) = running else { return Ok(None) };
    let amount = redemption.coupon.terms()?.discount_minor(gross_minor, currency)?;
    Ok((amount > 0).then_some((amount, redemption.code)))
}
