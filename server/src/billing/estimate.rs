//! What the current period costs so far and where it is heading, rated by the same functions
//! that rate invoices: worded for the pages (`CostEstimate`), as figures for the usage API
//! (`UsageEstimate`, `GET /v1/estimate`), and as what budgets count (`SpendToDate`).
use std::collections::BTreeMap;
use std::sync::Arc;

use app::api::dto::usage::{CostEstimate, NamespaceEstimate, NamespaceProjection, Projection, UsageEstimate};
use sqlx::AnyConnection;

use crate::accounts::db::namespaces::{NamespaceRow, list_namespaces};
use crate::billing::db::coupons::{self, RedemptionRow};
use crate::billing::db::subscriptions::{self, SubscriptionRow, SubscriptionStanding};
use crate::billing::domain::forecast::MIN_ELAPSED_MS;
use crate::billing::domain::invoice_builder::{InvoiceLine, LineKind};
use crate::billing::domain::period::next_period;
use crate::billing::domain::subscription::SubscriptionStatus;
use crate::billing::domain::trend::describe_change;
use crate::billing::period_rating::{PlanCache, invoice_lines, rate_period_projected, rate_period_until};
use crate::error::Error;
use crate::metering::domain::usage::MINUTE_MS;
use crate::reader::display_time;
use crate::shared::money::{AmountOutOfRange, checked_sum, format_money};
use crate::shared::time::display_rfc3339;
use crate::store::Db;

/// What the current period costs so far: base fee, prorations and usage rated under the plan in
/// effect when it happened. `None` for an organization without a subscription.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn month_to_date_estimate(db: &Db, organization_id: &str) -> Result<Option<CostEstimate>, Error> {
    let mut conn = db.pool.acquire().await?;
    let Some(figures) = period_figures(&mut conn, db, organization_id).await? else {
        return Ok(None);
    };
    worded_estimate(&mut conn, organization_id, figures, false, None).await.map(Some)
}

/// [`month_to_date_estimate`] of the subscription and namespaces a page has read already, and with
/// `compare` its usage charges so far beside the previous period's at the same point: the
/// dashboard's (one more rating, of the previous period, so the other pages go without).
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn month_to_date_estimate_of(
    db: &Db,
    organization_id: &str,
    standing: Option<SubscriptionStanding>,
    namespaces: &[NamespaceRow],
    compare: bool,
) -> Result<Option<CostEstimate>, Error> {
    let mut conn = db.pool.acquire().await?;
    let Some(figures) = period_figures_of(&mut conn, db, standing).await? else {
        return Ok(None);
    };
    worded_estimate(&mut conn, organization_id, figures, compare, Some(namespaces)).await.map(Some)
}

/// The same figures as the pages' estimate, per namespace and unworded, for the usage API.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn usage_estimate(db: &Db, organization_id: &str) -> Result<Option<UsageEstimate>, Error> {
    let mut conn = db.pool.acquire().await?;
    let Some(figures) = period_figures(&mut conn, db, organization_id).await? else {
        return Ok(None);
    };
    let to_date = usage_by_namespace(figures.lines())?;
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
        trial: figures.rated.is_none(),
        month_to_date_minor: figures.total,
        projected_minor: figures.projected.map(|p| p.total),
        namespaces,
    }))
}

/// The current period's cost so far, in total and per namespace: what budgets in money count.
pub struct SpendToDate {
    pub period: (i64, i64),
    pub currency: String,
    /// The estimate's total: base fee, prorations and usage, discount taken off.
    pub total_minor: i64,
    /// Each namespace's usage charges.
    pub usage_by_namespace: BTreeMap<String, i64>,
    /// The same at the period's end at its pace so far; `None` too early or late to tell a pace.
    pub projected: Option<(i64, BTreeMap<String, i64>)>,
}

/// `None` for an organization without a subscription.
pub async fn spend_to_date(db: &Db, organization_id: &str) -> Result<Option<SpendToDate>, Error> {
    let mut conn = db.pool.acquire().await?;
    let Some(figures) = period_figures(&mut conn, db, organization_id).await? else {
        return Ok(None);
    };
    Ok(Some(SpendToDate {
        period: figures.period,
        usage_by_namespace: usage_by_namespace(figures.lines())?,
        projected: figures.projected.map(|p| (p.total, p.usage_by_namespace)),
        currency: figures.currency,
        total_minor: figures.total,
    }))
}

/// The current period's figures before they are worded.
struct PeriodFigures {
    plan_name: String,
    currency: String,
    period: (i64, i64),
    /// `None` in a trial, which charges nothing.
    rated: Option<Arc<RatedSoFar>>,
    /// The lines' sum, discount taken off.
    total: i64,
    discount: Option<(i64, String)>,
    projected: Option<ProjectedFigures>,
}

impl PeriodFigures {
    /// The lines the period's invoice would hold now; none in a trial.
    fn lines(&self) -> &[InvoiceLine] {
        self.rated.as_ref().map_or(&[], |rated| &rated.lines)
    }
}

struct ProjectedFigures {
    total: i64,
    usage_by_namespace: BTreeMap<String, i64>,
}

/// What the rollups say of the current period: the three ratings every page with an estimate
/// needs. They are the expensive part and change only with the rollups, the subscription, its
/// plan changes or the minute, so each instance keeps them until one of those changes.
struct RatedSoFar {
    subscription: SubscriptionRow,
    changes_applied: i64,
    minute: i64,
    lines: Vec<InvoiceLine>,
    currency: String,
    gross: i64,
    /// The usage lines rated to the period's end at its pace so far; `None` too early or too late
    /// in the period to tell a pace.
    projected_usage: Option<Vec<InvoiceLine>>,
    /// The previous period's usage charges at the same point into it; `None` in the first period.
    previous_usage_at_same_point: Option<i64>,
}

const RATED_SO_FAR: &str = "billing.rated_so_far";

impl RatedSoFar {
    fn still_rates(&self, standing: &SubscriptionStanding, now: i64) -> bool {
        self.subscription == standing.subscription
            && self.changes_applied == standing.changes_applied_in_period
            && self.minute == now / MINUTE_MS
    }
}

async fn period_figures(
    conn: &mut AnyConnection,
    db: &Db,
    organization_id: &str,
) -> Result<Option<PeriodFigures>, Error> {
    let standing = subscriptions::standing_of(conn, organization_id).await?;
    period_figures_of(conn, db, standing).await
}

async fn period_figures_of(
    conn: &mut AnyConnection,
    db: &Db,
    standing: Option<SubscriptionStanding>,
) -> Result<Option<PeriodFigures>, Error> {
    let Some(standing) = standing else {
        return Ok(None);
    };
    let subscription = &standing.subscription;
    let period = (subscription.current_period_start, subscription.current_period_end);
    let mut cache = PlanCache::default();
    let plan = cache.get(conn, &subscription.plan_version_id).await?.0.clone();
    if subscription.status()? == SubscriptionStatus::Trialing {
        let figures = PeriodFigures {
            plan_name: plan.plan_name,
            currency: plan.currency,
            period,
            rated: None,
            total: 0,
            discount: None,
            projected: None,
        };
        return Ok(Some(figures));
    }
    let has_redemptions = standing.redemptions > 0;
    let rated = rated_so_far(conn, db, &mut cache, standing).await?;
    let coupon = match has_redemptions {
        true => {
            let subscription = &rated.subscription;
            coupons::running_redemption(conn, &subscription.organization_id, &subscription.plan_version_id).await?
        }
        false => None,
    };
    let discount = discount_due(coupon.as_ref(), rated.gross, &rated.currency)?;
    let total = rated.gross - discount.as_ref().map_or(0, |(amount, _)| *amount);
    let projected = match &rated.projected_usage {
        Some(usage_ahead) => Some(projected_figures(&rated, usage_ahead, coupon.as_ref())?),
        None => None,
    };
    let figures = PeriodFigures {
        plan_name: plan.plan_name,
        currency: rated.currency.clone(),
        period,
        rated: Some(rated),
        total,
        discount,
        projected,
    };
    Ok(Some(figures))
}

/// The kept ratings when they still hold, else rated again (and kept).
async fn rated_so_far(
    conn: &mut AnyConnection,
    db: &Db,
    cache: &mut PlanCache,
    standing: SubscriptionStanding,
) -> Result<Arc<RatedSoFar>, Error> {
    let now = db.clock.now_ms();
    let organization_id = standing.subscription.organization_id.clone();
    let read_at = db.rollup_derived.generation(&organization_id);
    let kept = db.rollup_derived.get::<RatedSoFar>(&organization_id, RATED_SO_FAR);
    if let Some(kept) = kept.filter(|kept| kept.still_rates(&standing, now)) {
        return Ok(kept);
    }
    let changes_applied = standing.changes_applied_in_period;
    let subscription = standing.subscription;
    let period = (subscription.current_period_start, subscription.current_period_end);
    let (lines, currency) = invoice_lines(conn, cache, &subscription, period, None).await?;
    let gross = checked_sum(lines.iter().map(|l| l.amount_minor))?;
    let projected_usage = match now.saturating_sub(period.0) >= MIN_ELAPSED_MS && now < period.1 {
        true => Some(rate_period_projected(conn, cache, &subscription, period, now).await?.usage_lines),
        false => None,
    };
    let previous_usage_at_same_point = previous_usage_at_same_point(conn, cache, &subscription, now).await?;
    let rated = Arc::new(RatedSoFar {
        subscription,
        changes_applied,
        minute: now / MINUTE_MS,
        lines,
        currency,
        gross,
        projected_usage,
        previous_usage_at_same_point,
    });
    db.keep_derived(&organization_id, RATED_SO_FAR, read_at, rated.clone());
    Ok(rated)
}

/// `namespaces`: the organization's, when the caller has read them.
async fn worded_estimate(
    conn: &mut AnyConnection,
    organization_id: &str,
    figures: PeriodFigures,
    compare: bool,
    namespaces: Option<&[NamespaceRow]>,
) -> Result<CostEstimate, Error> {
    let currency = &figures.currency;
    let span = format!("{} to {}", display_time(figures.period.0), display_time(figures.period.1));
    let previous = figures.rated.as_ref().and_then(|rated| rated.previous_usage_at_same_point);
    let usage_change = match (compare, previous) {
        (true, Some(before)) => {
            let so_far = checked_sum(usage_lines(figures.lines()).map(|l| l.amount_minor))?;
            Some(describe_change(so_far, before, currency))
        }
        _ => None,
    };
    let projection = match &figures.projected {
        Some(projected) => Some(worded_projection(conn, organization_id, namespaces, projected, currency).await?),
        None => None,
    };
    let trial = figures.rated.is_none();
    Ok(CostEstimate {
        plan: if trial { format!("{} (free trial)", figures.plan_name) } else { figures.plan_name.clone() },
        period: span,
        total: format_money(figures.total, currency),
        total_minor: figures.total,
        discount: figures.discount.map(|(amount, code)| format!("{} off with {code}", format_money(amount, currency))),
        usage_change,
        projection,
    })
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

/// The period's total if usage keeps its pace: the estimate with its usage lines replaced by
/// those rated from quantities carried to the period's end, and the discount taken from that total.
fn projected_figures(
    rated: &RatedSoFar,
    usage_ahead: &[InvoiceLine],
    coupon: Option<&RedemptionRow>,
) -> Result<ProjectedFigures, Error> {
    let usage_so_far = checked_sum(usage_lines(&rated.lines).map(|l| l.amount_minor))?;
    let usage_projected = checked_sum(usage_ahead.iter().map(|l| l.amount_minor))?;
    let gross =
        rated.gross.checked_sub(usage_so_far).and_then(|g| g.checked_add(usage_projected)).ok_or(AmountOutOfRange)?;
    let discount = discount_due(coupon, gross, &rated.currency)?.map_or(0, |(amount, _)| amount);
    let total = gross.checked_sub(discount).ok_or(AmountOutOfRange)?;
    Ok(ProjectedFigures { total, usage_by_namespace: usage_by_namespace(usage_ahead)? })
}

/// The projection with its currency, each namespace by name (`namespaces`, or read when `None`).
async fn worded_projection(
    conn: &mut AnyConnection,
    organization_id: &str,
    namespaces: Option<&[NamespaceRow]>,
    projected: &ProjectedFigures,
    currency: &str,
) -> Result<Projection, Error> {
    let read;
    let namespaces = match namespaces {
        Some(namespaces) => namespaces,
        None => {
            read = list_namespaces(conn, organization_id).await?;
            &read
        }
    };
    let names: BTreeMap<&str, &str> = namespaces.iter().map(|n| (n.id.as_str(), n.name.as_str())).collect();
    let mut per_namespace: Vec<NamespaceProjection> = projected
        .usage_by_namespace
        .iter()
        .map(|(id, usage_minor)| NamespaceProjection {
            namespace: names.get(id.as_str()).map_or_else(|| id.clone(), |name| (*name).to_owned()),
            usage: format_money(*usage_minor, currency),
            usage_minor: *usage_minor,
        })
        .collect();
    per_namespace.sort_by(|a, b| a.namespace.cmp(&b.namespace));
    Ok(Projection { total: format_money(projected.total, currency), total_minor: projected.total, per_namespace })
}

/// The previous period's usage charges at the same point into it, rated the same way; `None`
/// in a subscription's first period.
async fn previous_usage_at_same_point(
    conn: &mut AnyConnection,
    cache: &mut PlanCache,
    subscription: &SubscriptionRow,
    now: i64,
) -> Result<Option<i64>, Error> {
    let previous = next_period(subscription.anchor_at, subscription.current_period_start - 1);
    if previous.0 < subscription.anchor_at || previous.1 != subscription.current_period_start {
        return Ok(None);
    }
    let same_point = previous.0.saturating_add(now.saturating_sub(subscription.current_period_start));
    let then = rate_period_until(conn, cache, subscription, previous, same_point).await?.usage_lines;
    Ok(Some(checked_sum(then.iter().map(|l| l.amount_minor))?))
}

/// The discount the period's invoice would receive from the running coupon if it were finalized
/// with `gross_minor`.
fn discount_due(
    coupon: Option<&RedemptionRow>,
    gross_minor: i64,
    currency: &str,
) -> Result<Option<(i64, String)>, Error> {
    let Some(redemption) = coupon else { return Ok(None) };
    let amount = redemption.coupon.terms()?.discount_minor(gross_minor, currency)?;
    Ok((amount > 0).then(|| (amount, redemption.code.clone())))
}
