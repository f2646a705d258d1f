//! The plan catalog, subscribing, moving a subscription's status, and ending a subscription.
use serde_json::json;

use crate::billing::announcements::{SubscriptionChange, subscription_event};
use crate::billing::db::plans;
use crate::billing::db::subscriptions::{self, NewSubscription};
use crate::billing::domain::catalog::{self, CURRENCY};
use crate::billing::domain::period::next_period;
use crate::billing::domain::subscription::SubscriptionStatus;
use crate::error::Error;
use crate::metering::db::usage::{end_usage_at, usage_window};
use crate::metering::domain::usage::hour_of;
use crate::store::Db;
use crate::webhooks::events::announce;

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

/// Moves the subscription's status as [`subscriptions::change_status`] does (false, changing
/// nothing, when someone moved it first) and announces the move to the organization's endpoints.
pub async fn move_status(
    conn: &mut sqlx::AnyConnection,
    organization_id: &str,
    subscription_id: &str,
    (from, to): (SubscriptionStatus, SubscriptionStatus),
    cause: &subscriptions::TransitionCause<'_>,
) -> Result<bool, Error> {
    if !subscriptions::change_status(conn, subscription_id, from, to, cause).await? {
        return Ok(false);
    }
    let change = SubscriptionChange { organization_id, subscription_id, cause: "status_changed" };
    let details = json!({ "previous_status": from.as_str(), "reason": cause.cause });
    announce(conn, subscription_event(&change, to.as_str(), details, cause.at), cause.at).await?;
    Ok(true)
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
