//! What the current period costs so far and where it is heading, rated by the same functions
//! that rate invoices: worded for the pages (`CostEstimate`), as figures for the usage API
//! (`UsageEstimate`, `GET /v1/estimate`).
use std::collections::BTreeMap;

use app::api::dto::usage::{CostEstimate, NamespaceEstimate, NamespaceProjection, Projection, UsageEstimate};
use sqlx::AnyConnection;

use crate::accounts::db::namespaces::list_namespaces;
use crate::billing::db::coupons;
use crate::billing::db::subscriptions::{self, SubscriptionRow};
use crate::billing::domain::forecast::MIN_ELAPSED_MS;
use crate::billing::domain::invoice_builder::{InvoiceLine, LineKind};
use crate::billing::domain::period::next_period;
use crate::billing::domain::subscription::SubscriptionStatus;
use crate::billing::domain::trend::describe_change;
use crate::billing::period_rating::{PlanCache, invoice_lines, rate_period_projected, rate_period_until};
use crate::error::Error;
use crate::reader::display_time;
use crate::shared::money::{AmountOutOfRange, checked_sum, format_money};
use crate::shared::time::display_rfc3339;
use crate::store::Db;

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

/// The same figures as the pages' estimate, per namespace and unworded, for the usage API.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn usage_estimate(db: &Db, organization_id: &str) -> Result<Option<UsageEstimate>, Error> {
    let mut conn = db.pool.acquire().await?;
    let Some((figures, _)) = period_figures(&mut conn, organization_id, db.clock.now_ms()).await? else {
        return Ok(None);
    };
    let to_date = usage_by_namespace(&figures.lines)?;
    let projected = figures.projected.as_ref().map(|p| &p.usage_by_namespace);
    let namespaces = list_namespaces(&mut conn, organization_id)
        .await?
        .into_iter()
        .map(|namespace| NamespaceEstimate {
            usage_to_date_minor: to_date.get(&namespace.id).copied().unwrap_or(0),
            projected_usage_minor: projected.map(|by| by.get(&namespace.id).copied().unwrap_or(0)),
            namespace_id: namespace.id,
            name: namespace.name,
        })
        .collect();
    Ok(Some(UsageEstimate {
        plan: figures.plan_name,
        currency: figures.currency,
        period_start: display_rfc3339(figures.period.0),
        period_end: display_rfc3339(figures.period.1),
        trial: figures.trial,
        month_to_date_minor: figures.total,
        projected_minor: figures.projected.map(|p| p.total),
        namespaces,
    }))
}

/// The current period's figures before they are worded.
struct PeriodFigures {
    subscription: SubscriptionRow,
    plan_name: String,
    currency: String,
    period: (i64, i64),
    trial: bool,
    /// The lines the period's invoice would hold now; none in a trial.
    lines: Vec<InvoiceLine>,
    /// The lines' sum, discount taken off.
    total: i64,
    discount: Option<(i64, String)>,
    projected: Option<ProjectedFigures>,
}

struct ProjectedFigures {
    total: i64,
    usage_by_namespace: BTreeMap<String, i64>,
}

async fn period_figures(
    conn: &mut AnyConnection,
    organization_id: &str,
    now: i64,
) -> Result<Option<(PeriodFigures, PlanCache)>, Error> {
    let Some(subscription) = subscriptions::subscription_of(conn, organization_id).await? else {
        return Ok(None);
    };
    let period = (subscription.current_period_start, subscription.current_period_end);
    let mut cache = PlanCache::default();
    let plan = cache.get(conn, &subscription.plan_version_id).await?.0.clone();
    if subscription.status()? == SubscriptionStatus::Trialing {
        let figures = PeriodFigures {
            subscription,
            plan_name: plan.plan_name,
            currency: plan.currency,
            period,
            trial: true,
            lines: Vec::new(),
            total: 0,
            discount: None,
            projected: None,
        };
        return Ok(Some((figures, cache)));
    }
    let (lines, currency) = invoice_lines(conn, &mut cache, &subscription, period, None).await?;
    let gross = checked_sum(lines.iter().map(|l| l.amount_minor))?;
    let discount = discount_due(conn, &subscription, gross, &currency).await?;
    let total = gross - discount.as_ref().map_or(0, |(amount, _)| *amount);
    let so_far = Estimated { lines: &lines, gross, currency: &currency };
    let projected = projection(conn, &mut cache, &subscription, period, so_far, now).await?;
    let figures = PeriodFigures {
        subscription,
        plan_name: plan.plan_name,
        currency,
        period,
        trial: false,
        lines,
        total,
        discount,
        projected,
    };
    Ok(Some((figures, cache)))
}

async fn estimate(db: &Db, organization_id: &str, compare: bool) -> Result<Option<CostEstimate>, Error> {
    let mut conn = db.pool.acquire().await?;
    let now = db.clock.now_ms();
    let Some((figures, mut cache)) = period_figures(&mut conn, organization_id, now).await? else {
        return Ok(None);
    };
    let currency = &figures.currency;
    let span = format!("{} to {}", display_time(figures.period.0), display_time(figures.period.1));
    let usage_change = match compare && !figures.trial {
        true => {
            let so_far = checked_sum(usage_lines(&figures.lines).map(|l| l.amount_minor))?;
            usage_change(&mut conn, &mut cache, &figures.subscription, so_far, currency, now).await?
        }
        false => None,
    };
    let projection = match &figures.projected {
        Some(projected) => Some(worded_projection(&mut conn, organization_id, projected, currency).await?),
        None => None,
    };
    Ok(Some(CostEstimate {
        plan: if figures.trial { format!("{} (free trial)", figures.plan_name) } else { figures.plan_name.clone() },
        period: span,
        total: format_money(figures.total, currency),
        total_minor: figures.total,
        discount: figures.discount.map(|(amount, code)| format!("{} off with {code}", format_money(amount, currency))),
        usage_change,
        projection,
    }))
}

fn usage_lines(lines: &[InvoiceLine]) -> impl Iterator<Item = &InvoiceLine> {
    lines.iter().filter(|l| l.kind == LineKind::Usage)
}

/// Each namespace's usage charges among `lines`.
fn usage_by_namespace(lines: &[InvoiceLine]) -> Result<BTreeMap<String, i64>, Error> {
    let mut by_namespace: BTreeMap<String, i64> = BTreeMap::new();
    for line in usage_lines(lines) {
        let sum = by_namespace.entry(line.namespace_id.clone().unwrap_or_default()).or_insert(0);
        *sum = sum.checked_add(line.amount_minor).ok_or(AmountOutOfRange)?;
    }
    Ok(by_namespace)
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
) -> Result<Option<ProjectedFigures>, Error> {
    if now.saturating_sub(period.0) < MIN_ELAPSED_MS || now >= period.1 {
        return Ok(None);
    }
    let projected = rate_period_projected(conn, cache, subscription, period, now).await?.usage_lines;
    let usage_so_far = checked_sum(usage_lines(so_far.lines).map(|l| l.amount_minor))?;
    let usage_ahead = checked_sum(projected.iter().map(|l| l.amount_minor))?;
    let gross =
        so_far.gross.checked_sub(usage_so_far).and_then(|g| g.checked_add(usage_ahead)).ok_or(AmountOutOfRange)?;
    let discount = discount_due(conn, subscription, gross, so_far.currency).await?.map_or(0, |(amount, _)| amount);
    let total = gross.checked_sub(discount).ok_or(AmountOutOfRange)?;
    Ok(Some(ProjectedFigures { total, usage_by_namespace: usage_by_namespace(&projected)? }))
}

/// The projection with its currency, each namespace by name.
async fn worded_projection(
    conn: &mut AnyConnection,
    organization_id: &str,
    projected: &ProjectedFigures,
    currency: &str,
) -> Result<Projection, Error> {
    let names: BTreeMap<String, String> =
        list_namespaces(conn, organization_id).await?.into_iter().map(|n| (n.id, n.name)).collect();
    let mut per_namespace: Vec<NamespaceProjection> = projected
        .usage_by_namespace
        .iter()
        .map(|(id, usage_minor)| NamespaceProjection {
            namespace: names.get(id).cloned().unwrap_or_else(|| id.clone()),
            usage: format_money(*usage_minor, currency),
            usage_minor: *usage_minor,
        })
        .collect();
    per_namespace.sort_by(|a, b| a.namespace.cmp(&b.namespace));
    Ok(Projection { total: format_money(projected.total, currency), total_minor: projected.total, per_namespace })
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
