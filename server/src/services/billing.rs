//! The plan catalog, subscriptions, and the month-to-date cost estimate, rated by the same
//! function that will rate invoices.
use app::api::dto::usage::CostEstimate;
use time::OffsetDateTime;

use crate::db::usage::period_totals;
use crate::db::{Db, plans};
use crate::domain::catalog::{self, CURRENCY};
use crate::domain::money::format_minor;
use crate::domain::period::period_containing;
use crate::domain::rating::{MetricPrice, PlanVersion, Usage, rate, total_minor};
use crate::domain::time::{display_ms, now_ms};
use crate::domain::usage::hour_of;
use crate::error::Error;

/// Puts every catalog plan's current version in the database (idempotent).
pub async fn ensure_catalog(db: &Db) -> Result<(), Error> {
    let now = now_ms();
    let mut tx = db.pool.begin().await?;
    for (name, version) in catalog::plans() {
        let prices = serde_json::to_string(&version.prices).map_err(|e| Error::Corrupt(e.to_string()))?;
        plans::ensure_plan_version(&mut tx, name, 1, CURRENCY, version.base_fee_minor, &prices, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Subscribes an organization to version 1 of a catalog plan. The period is anchored at the start
/// of the current hour: usage is metered in whole hours, so a period never splits one.
pub async fn subscribe(
    conn: &mut sqlx::AnyConnection,
    organization_id: &str,
    plan_name: &str,
    now: i64,
) -> Result<(), Error> {
    let (_, version) = catalog::plans()
        .into_iter()
        .find(|(n, _)| *n == plan_name)
        .ok_or_else(|| Error::Corrupt(format!("no plan {plan_name}")))?;
    let prices = serde_json::to_string(&version.prices).map_err(|e| Error::Corrupt(e.to_string()))?;
    let version_id =
        plans::ensure_plan_version(conn, plan_name, 1, CURRENCY, version.base_fee_minor, &prices, now).await?;
    plans::insert_subscription(conn, organization_id, &version_id, "active", hour_of(now)).await
}

fn instant(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn millis(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// What the current period costs so far: base fee plus usage rated under the subscribed plan.
/// `None` for an organization without a subscription.
pub async fn month_to_date_estimate(db: &Db, organization_id: &str) -> Result<Option<CostEstimate>, Error> {
    let now = now_ms();
    let mut conn = db.pool.acquire().await?;
    let Some(subscribed) = plans::subscribed_plan(&mut conn, organization_id).await? else { return Ok(None) };
    let period = period_containing(instant(subscribed.anchor_at), instant(now));
    let (start, end) = (millis(period.start), millis(period.end));
    let usage: Vec<Usage> = period_totals(&mut conn, organization_id, start, end)
        .await?
        .into_iter()
        .map(|(namespace_id, metric, quantity)| Usage { namespace_id, metric, quantity })
        .collect();
    let prices: Vec<MetricPrice> =
        serde_json::from_str(&subscribed.prices_json).map_err(|e| Error::Corrupt(format!("plan prices: {e}")))?;
    let plan = PlanVersion { base_fee_minor: subscribed.base_fee_minor, prices };
    let total = total_minor(&rate(&plan, &usage));
    Ok(Some(CostEstimate {
        plan: subscribed.plan_name,
        period: format!("{} to {}", display_ms(start), display_ms(end)),
        total: format!("{} {}", format_minor(total), subscribed.currency),
        total_minor: total,
    }))
}
