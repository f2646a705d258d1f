//! The Plan page: the catalog, a preview of a change with its proration, and the confirmation
//! that stores the proration record with every input.
use app::api::dto::MAX_REASON_LEN;
use app::api::dto::billing::{PlanChangePreview, PlanOption, PlanPage};
use app::api::error::AppError;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::accounts::audit::reason_of;
use crate::accounts::db::audit::{AuditEntry, append_audit};
use crate::accounts::db::organizations::lock_organizations;
use crate::billing::announcements::{SubscriptionChange, subscription_event};
use crate::billing::coupons::active_discount;
use crate::billing::db::invoices;
use crate::billing::db::plans::{self, PlanVersionRow};
use crate::billing::db::subscriptions::{self, NewPlanChange, SubscriptionRow};
use crate::billing::domain::catalog::trial_days;
use crate::billing::domain::period::next_period;
use crate::billing::domain::proration::{Proration, ProrationInput, at_period_end, prorate};
use crate::billing::domain::rating::{MetricPrice, PricingModel};
use crate::billing::domain::subscription::DowngradeTiming;
use crate::billing::domain::subscription::SubscriptionStatus;
use crate::billing::period_rating::{BillingRules, PlanCache, rate_period};
use crate::billing::subscriptions::subscribe;
use crate::error::Error;
use crate::metering::catalog::metric_catalog;
use crate::metering::db::usage::{MetricRow, end_usage_at, reopen_usage, restart_usage, usage_window};
use crate::metering::domain::usage::{format_quantity, hour_of};
use crate::reader::display_time;
use crate::shared::money::{checked_sum, format_money};
use crate::shared::time::display_rfc3339;
use crate::store::Db;
use crate::webhooks::events::announce;

/// A preview can be confirmed for this long; after that the customer asks for a new one.
const PREVIEW_VALID_MS: i64 = 15 * 60_000;

fn describe_price(price: &MetricPrice, metrics: &[MetricRow], currency: &str) -> String {
    let (name, unit, per_display) =
        metrics.iter().find(|m| m.key == price.metric).map_or((price.metric.as_str(), "", 1), |m| {
            (m.display_name.as_str(), m.display_unit.as_str(), m.units_per_display)
        });
    let quantity = |q: i64| format!("{} {unit}", format_quantity(q, per_display));
    let rate = |minor: i64, per: i64| format!("{} per {}", format_money(minor, currency), quantity(per));
    let after = match &price.model {
        PricingModel::PerUnit(p) => rate(p.minor, p.per),
        PricingModel::Package { block, minor_per_block } => {
            format!("{} per started block of {}", format_money(*minor_per_block, currency), quantity(*block))
        }
        PricingModel::Graduated(tiers) | PricingModel::Volume(tiers) => {
            let kind = if matches!(price.model, PricingModel::Graduated(_)) { "graduated" } else { "volume" };
            let steps: Vec<String> = tiers
                .iter()
                .map(|t| match t.up_to {
                    Some(up) => format!("{} up to {}", rate(t.unit_price.minor, t.unit_price.per), quantity(up)),
                    None => format!("{} beyond", rate(t.unit_price.minor, t.unit_price.per)),
                })
                .collect();
            format!("{} ({kind} tiers)", steps.join(", "))
        }
    };
    format!("{name}: {} included, then {after}", quantity(price.included))
}

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn plan_page(db: &Db, organization_id: &str) -> Result<PlanPage, Error> {
    let mut conn = db.pool.acquire().await?;
    let mut cache = PlanCache::default();
    let Some(subscription) = subscriptions::subscription_of(&mut conn, organization_id).await? else {
        return Ok(PlanPage {
            current_plan: String::new(),
            status: "none".into(),
            period: String::new(),
            scheduled_change: None,
            cancels_at: None,
            plans: plan_options(&mut conn, &mut cache, None, true).await?,
            subscribed: false,
            discount: None,
            ended: None,
        });
    };
    if let Some(ended_at) = subscription.ended_at.filter(|_| subscription.status == "canceled") {
        // Ended: the customer may subscribe again, without a second free trial.
        return Ok(PlanPage {
            current_plan: String::new(),
            status: subscription.status.clone(),
            period: String::new(),
            scheduled_change: None,
            cancels_at: None,
            plans: plan_options(&mut conn, &mut cache, None, false).await?,
            subscribed: false,
            discount: None,
            ended: Some(display_time(ended_at)),
        });
    }
    let current = cache.get(&mut conn, &subscription.plan_version_id).await?.0.clone();
    let scheduled_change = match subscriptions::pending_change(&mut conn, &subscription.id).await? {
        Some(change) => {
            let to = cache.get(&mut conn, &change.to_version_id).await?.0.plan_name.clone();
            Some(format!("{to} from {}", display_time(change.effective_at)))
        }
        None => None,
    };
    let usage_window = usage_window(&mut conn, organization_id).await?;
    let plans = plan_options(&mut conn, &mut cache, Some(&current.plan_name), true).await?;
    Ok(PlanPage {
        current_plan: current.plan_name,
        status: subscription.status.clone(),
        period: format!(
            "{} to {}",
            display_time(subscription.current_period_start),
            display_time(subscription.current_period_end)
        ),
        scheduled_change,
        cancels_at: subscription
            .cancel_requested_at
            .filter(|_| subscription.status != "canceled")
            .map(|_| display_time(usage_window.ends_at.unwrap_or(subscription.current_period_end))),
        plans,
        subscribed: true,
        discount: active_discount(&mut conn, organization_id).await?,
        ended: None,
    })
}

async fn plan_options(
    conn: &mut sqlx::AnyConnection,
    cache: &mut PlanCache,
    current: Option<&str>,
    offer_trials: bool,
) -> Result<Vec<PlanOption>, Error> {
    let metrics = metric_catalog(conn).await?;
    let mut plans = Vec::new();
    for version in plans::current_versions(conn).await? {
        let (_, prices) = cache.get(conn, &version.id).await?;
        plans.push(PlanOption {
            name: version.plan_name.clone(),
            base_fee: format!("{} per month", format_money(version.base_fee_minor, &version.currency)),
            terms: prices.iter().map(|p| describe_price(p, &metrics.metrics, &version.currency)).collect(),
            current: current == Some(version.plan_name.as_str()),
            trial: trial_days(&version.plan_name).filter(|_| offer_trials).map(|days| format!("{days}-day free trial")),
        });
    }
    Ok(plans)
}

/// An organization without a plan (just signed up) starts on one, with the plan's free trial where
/// it has one; one whose subscription ended subscribes again, with a new period and no trial.
/// While a subscription runs, changes go through preview and confirm instead.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn start_plan(db: &Db, actor: &str, organization_id: &str, plan: &str) -> Result<PlanPage, Error> {
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    // Two starts at once: the second waits here, then finds the first one's subscription.
    lock_organizations(&mut tx, &[organization_id.to_owned()]).await?;
    let returning = match subscriptions::subscription_of(&mut tx, organization_id).await? {
        None => false,
        Some(ended) if ended.status == "canceled" && ended.ended_at.is_some_and(|at| at <= now) => {
            refuse_restart_while_owing(&mut tx, organization_id, ended.ended_at.unwrap_or(now), now).await?;
            true
        }
        Some(_) => {
            return Err(AppError::Conflict {
                field: "plan".into(),
                message: "this organization has a plan already: preview a change instead".into(),
            }
            .into());
        }
    };
    if !plans::current_versions(&mut tx).await?.iter().any(|version| version.plan_name == plan) {
        return Err(AppError::invalid("plan", "is not a plan on offer").into());
    }
    let trial = trial_days(plan).filter(|_| !returning);
    subscribe(&mut tx, organization_id, plan, trial, now).await?;
    if returning {
        restart_usage(&mut tx, organization_id, now).await?;
    }
    let audit = AuditEntry {
        organization_id: Some(organization_id),
        actor,
        action: if returning { "subscription.restart" } else { "subscription.start" },
        target: organization_id,
        before: None,
        after: Some(json!({ "plan": plan, "trial_days": trial })),
        reason: None,
    };
    append_audit(&mut tx, audit, now).await?;
    tx.commit().await?;
    plan_page(db, organization_id).await
}

/// A new subscription waits until the ended one is settled: its final invoice issued and nothing
/// left to collect (so no dunning of an old invoice ever acts on the new subscription), and the
/// hour it ended in over (usage is billed by the hour, and that hour belongs to its final period).
async fn refuse_restart_while_owing(
    conn: &mut sqlx::AnyConnection,
    organization_id: &str,
    ended_at: i64,
    now: i64,
) -> Result<(), Error> {
    if invoices::unsettled_count(conn, organization_id).await? > 0 {
        let message = "the last subscription's invoices are not settled yet: once its final invoice is issued \
                       and paid, you can subscribe again";
        return Err(AppError::conflict("plan", message).into());
    }
    let next_hour = hour_of(ended_at) + 3_600_000;
    if now < next_hour {
        let message =
            format!("the last subscription ended this hour: you can subscribe again from {}", display_time(next_hour));
        return Err(AppError::conflict("plan", message).into());
    }
    Ok(())
}

/// The subscription ends with the current period: that period is still invoiced, then no more.
/// The customer may say why; the reason is kept in the audit log.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn cancel_at_period_end(
    db: &Db,
    actor: &str,
    organization_id: &str,
    reason: Option<&str>,
) -> Result<PlanPage, Error> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > MAX_REASON_LEN) {
        return Err(AppError::invalid("reason", format!("is longer than {MAX_REASON_LEN} characters")).into());
    }
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    // Held until commit: the invoice run closing this period sees the request whole, or not at all.
    subscriptions::lock_subscription_of(&mut tx, organization_id).await?;
    let subscription = subscriptions::subscription_of(&mut tx, organization_id).await?.ok_or(AppError::NotFound)?;
    if subscription.status()? == SubscriptionStatus::Canceled {
        return Err(AppError::conflict("status", "the subscription is already canceled").into());
    }
    if !subscriptions::request_cancellation(&mut tx, &subscription.id, now).await? {
        return Err(AppError::conflict("status", "a cancellation is already scheduled").into());
    }
    // A period that ended but is not closed yet is over: the one in progress is the next.
    let ends_at = match subscription.current_period_end {
        end if now < end => end,
        _ => next_period(subscription.anchor_at, now).1,
    };
    // From that end on, usage has no period to be billed in, even before the run closes it.
    end_usage_at(&mut tx, organization_id, ends_at).await?;
    let audit = AuditEntry {
        organization_id: Some(organization_id),
        actor,
        action: "subscription.cancel",
        target: &subscription.id,
        before: Some(json!({ "status": subscription.status })),
        after: Some(json!({ "cancels_at": ends_at })),
        reason,
    };
    append_audit(&mut tx, audit, now).await?;
    let announced =
        SubscriptionChange { organization_id, subscription_id: &subscription.id, cause: "cancellation_scheduled" };
    let details = json!({ "cancels_at": display_rfc3339(ends_at) });
    announce(&mut tx, subscription_event(&announced, &subscription.status, details, now), now).await?;
    tx.commit().await?;
    plan_page(db, organization_id).await
}

/// Takes back a cancellation asked for at the period end, while that period is still running:
/// the subscription renews as if it had never been asked, and usage after the end is accepted
/// again. Once the period has ended the cancellation stands.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn keep_subscription(db: &Db, actor: &str, organization_id: &str) -> Result<PlanPage, Error> {
    let mut tx = db.begin().await?;
    // The same lock as the cancellation's: the invoice run ending the period waits, or went first.
    subscriptions::lock_subscription_of(&mut tx, organization_id).await?;
    // Read once the lock is held: a keep that waited behind the run past the period's end is late.
    let now = db.clock.now_ms();
    let subscription = subscriptions::subscription_of(&mut tx, organization_id).await?.ok_or(AppError::NotFound)?;
    if subscription.cancel_requested_at.is_none() || subscription.status()? == SubscriptionStatus::Canceled {
        return Err(AppError::conflict("status", "no cancellation is waiting to be taken back").into());
    }
    let ends_at = usage_window(&mut tx, organization_id).await?.ends_at.unwrap_or(subscription.current_period_end);
    if now >= ends_at {
        let ended = display_time(ends_at);
        return Err(
            AppError::conflict("status", format!("the subscription ended {ended}; it can no longer be kept")).into()
        );
    }
    if !subscriptions::withdraw_cancellation(&mut tx, &subscription.id).await? {
        return Err(AppError::conflict("status", "no cancellation is waiting to be taken back").into());
    }
    reopen_usage(&mut tx, organization_id, ends_at).await?;
    let audit = AuditEntry {
        organization_id: Some(organization_id),
        actor,
        action: "subscription.keep",
        target: &subscription.id,
        before: Some(json!({ "cancels_at": ends_at })),
        after: Some(json!({ "status": subscription.status })),
        reason: None,
    };
    append_audit(&mut tx, audit, now).await?;
    let announced =
        SubscriptionChange { organization_id, subscription_id: &subscription.id, cause: "cancellation_withdrawn" };
    announce(&mut tx, subscription_event(&announced, &subscription.status, json!({}), now), now).await?;
    tx.commit().await?;
    plan_page(db, organization_id).await
}

/// Everything a change depends on. Its fingerprint is the preview token: if any of it is
/// different at confirmation, the customer is asked to review a new preview.
struct PlannedChange {
    subscription: SubscriptionRow,
    from: PlanVersionRow,
    to: PlanVersionRow,
    upgrade: bool,
    immediate: bool,
    /// The instant of the preview; a change at the period end is prorated at that end instead.
    requested_at: i64,
    proration: Proration,
}

impl PlannedChange {
    fn token(&self) -> String {
        let facts = format!(
            "{}|{}|{}|{}|{}|{}",
            self.subscription.id,
            self.from.id,
            self.to.id,
            self.subscription.current_period_start,
            self.subscription.status,
            self.requested_at
        );
        let digest = hex::encode(&Sha256::digest(facts.as_bytes())[..16]);
        format!("{}.{digest}", self.requested_at)
    }
}

/// The period ended and the invoice run has not closed it yet: a change now would land in the
/// period being invoiced. The run closes it within minutes.
fn refuse_while_the_period_is_invoiced(subscription: &SubscriptionRow, at: i64) -> Result<(), AppError> {
    if at < subscription.current_period_end {
        return Ok(());
    }
    let ended = display_time(subscription.current_period_end);
    Err(AppError::conflict(
        "plan",
        format!("the period that ended {ended} is being invoiced; try again in a few minutes"),
    ))
}

async fn plan_change(
    conn: &mut sqlx::AnyConnection,
    rules: &BillingRules,
    organization_id: &str,
    target_plan: &str,
    change_at: i64,
) -> Result<PlannedChange, Error> {
    let subscription = subscriptions::subscription_of(conn, organization_id).await?.ok_or(AppError::NotFound)?;
    let status = subscription.status()?;
    if !matches!(status, SubscriptionStatus::Active | SubscriptionStatus::Trialing) {
        return Err(AppError::conflict("plan", format!("a {} subscription cannot change plan", status.as_str())).into());
    }
    refuse_while_the_period_is_invoiced(&subscription, change_at)?;
    let mut cache = PlanCache::default();
    let from = cache.get(conn, &subscription.plan_version_id).await?.0.clone();
    let to = plans::current_versions(conn)
        .await?
        .into_iter()
        .find(|v| v.plan_name == target_plan)
        .ok_or_else(|| AppError::invalid("plan", format!("there is no plan named {target_plan:?}")))?;
    if to.plan_name == from.plan_name {
        return Err(AppError::invalid("plan", format!("you are already on {}", from.plan_name)).into());
    }
    if let Some(pending) = subscriptions::pending_change(conn, &subscription.id).await? {
        let to_name = cache.get(conn, &pending.to_version_id).await?.0.plan_name.clone();
        return Err(AppError::conflict(
            "plan",
            format!("a change to {to_name} is already scheduled for {}", display_time(pending.effective_at)),
        )
        .into());
    }
    let upgrade = to.base_fee_minor >= from.base_fee_minor;
    let trialing = status == SubscriptionStatus::Trialing;
    let immediate = upgrade || trialing || rules.downgrade_timing == DowngradeTiming::Immediately;
    let input = ProrationInput {
        period_start_ms: subscription.current_period_start,
        period_end_ms: subscription.current_period_end,
        change_at_ms: change_at,
        // A trial is free: there is no fee to prorate.
        old_base_fee_minor: if trialing { 0 } else { from.base_fee_minor },
        new_base_fee_minor: if trialing { 0 } else { to.base_fee_minor },
    };
    let proration = if immediate {
        prorate(input).map_err(|e| AppError::conflict("plan", e.to_string()))?
    } else {
        at_period_end(input)
    };
    Ok(PlannedChange { subscription, from, to, upgrade, immediate, requested_at: change_at, proration })
}

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn preview(
    db: &Db,
    rules: &BillingRules,
    organization_id: &str,
    target_plan: &str,
) -> Result<PlanChangePreview, Error> {
    let mut conn = db.pool.acquire().await?;
    let planned = plan_change(&mut conn, rules, organization_id, target_plan, db.clock.now_ms()).await?;
    let p = &planned.proration;
    let currency = &planned.from.currency;
    let period = (planned.subscription.current_period_start, planned.subscription.current_period_end);
    let split = hour_of(p.input.change_at_ms + 3_600_000 - 1).min(period.1);
    let mut cache = PlanCache::default();
    let so_far = rate_period(&mut conn, &mut cache, &planned.subscription, period).await?;
    let usage_so_far = checked_sum(so_far.usage_lines.iter().map(|l| l.amount_minor))?;
    let old_share = (split - period.0) * 100 / (period.1 - period.0).max(1);
    let usage_split = if planned.immediate {
        vec![
            format!(
                "Usage before {} is rated under {} with {old_share}% of its included quantities ({} so far).",
                display_time(split),
                planned.from.plan_name,
                format_money(usage_so_far, currency)
            ),
            format!(
                "Usage from {} on is rated under {} with the other {}% of its included quantities.",
                display_time(split),
                planned.to.plan_name,
                100 - old_share
            ),
        ]
    } else {
        vec![format!(
            "This period stays on {} ({} of usage so far); {} applies from {}.",
            planned.from.plan_name,
            format_money(usage_so_far, currency),
            planned.to.plan_name,
            display_time(period.1)
        )]
    };
    Ok(PlanChangePreview {
        from_plan: planned.from.plan_name.clone(),
        to_plan: planned.to.plan_name.clone(),
        upgrade: planned.upgrade,
        immediate: planned.immediate,
        effective_at: display_time(p.input.change_at_ms),
        period: format!("{} to {}", display_time(period.0), display_time(period.1)),
        remaining_days: p.remaining_days(),
        period_days: format!("{}", p.period_seconds / 86_400),
        credit: format_money(p.credit_minor, currency),
        charge: format_money(p.charge_minor, currency),
        net: format_money(p.net_minor, currency),
        usage_split,
        token: planned.token(),
    })
}

/// Applies the previewed change if nothing changed since the preview (same plans, period and
/// status, and the preview is recent); the amounts are the previewed ones, to the second.
pub struct Confirmation<'a> {
    pub actor: &'a str,
    pub organization_id: &'a str,
    pub plan: &'a str,
    pub token: &'a str,
    /// Staff acting for the customer must give one; it goes to the audit log.
    pub reason: Option<&'a str>,
}

#[tracing::instrument(skip_all)]
pub async fn confirm(db: &Db, rules: &BillingRules, change: &Confirmation<'_>) -> Result<PlanPage, Error> {
    let Confirmation { actor, organization_id, plan: target_plan, token, reason } = *change;
    let reason = reason.map(reason_of).transpose()?;
    let now = db.clock.now_ms();
    let stale = || AppError::conflict("token", "the plan or period changed since this preview; review the new preview");
    let change_at: i64 = token.split_once('.').and_then(|(at, _)| at.parse().ok()).ok_or_else(stale)?;
    if !(now - PREVIEW_VALID_MS..=now).contains(&change_at) {
        return Err(AppError::conflict("token", "this preview has expired; review the new preview").into());
    }
    let mut tx = db.begin().await?;
    // Locks the subscription first, so two confirmations cannot both pass the checks below.
    subscriptions::lock_subscription_of(&mut tx, organization_id).await?;
    let planned = plan_change(&mut tx, rules, organization_id, target_plan, change_at).await?;
    if planned.token() != token {
        return Err(stale().into());
    }
    refuse_while_the_period_is_invoiced(&planned.subscription, now)?;
    let change = NewPlanChange {
        subscription_id: &planned.subscription.id,
        from_version_id: &planned.from.id,
        to_version_id: &planned.to.id,
        direction: if planned.upgrade { "upgrade" } else { "downgrade" },
        pending: !planned.immediate,
        requested_by: actor,
        requested_at: now,
        effective_at: planned.proration.input.change_at_ms,
        proration: &planned.proration,
    };
    let change_id = subscriptions::insert_plan_change(&mut tx, &change).await?;
    if planned.immediate {
        subscriptions::set_plan_version(&mut tx, &planned.subscription.id, &planned.to.id).await?;
    }
    let audit = AuditEntry {
        organization_id: Some(organization_id),
        actor,
        action: "subscription.change_plan",
        target: &change_id,
        before: Some(json!({ "plan": planned.from.plan_name })),
        after: Some(json!({
            "plan": planned.to.plan_name,
            "effective_at": planned.proration.input.change_at_ms,
            "net_minor": planned.proration.net_minor,
        })),
        reason,
    };
    append_audit(&mut tx, audit, now).await?;
    let announced =
        SubscriptionChange { organization_id, subscription_id: &planned.subscription.id, cause: "plan_changed" };
    let details = json!({
        "previous_plan": planned.from.plan_name,
        "plan": planned.to.plan_name,
        "effective_at": display_rfc3339(planned.proration.input.change_at_ms),
        "proration_net": planned.proration.net_minor,
    });
    announce(&mut tx, subscription_event(&announced, &planned.subscription.status, details, now), now).await?;
    tx.commit().await?;
    plan_page(db, organization_id).await
}
