//! The organization's dashboard: who it is, its first steps, where it stands (the overview's
//! tiles and alerts), its namespaces and this period's estimate.
use app::api::dto::{Dashboard, GettingStarted, Namespace, SessionUser};
use app::api::error::AppError;

use crate::accounts::db::{api_keys, namespaces, organizations};
use crate::billing::db::subscriptions::subscription_of;
use crate::billing::estimate::month_to_date_estimate_compared;
use crate::error::Error;
use crate::metering::db::usage::has_usage;
use crate::portal::namespace_activity::namespace_activity;
use crate::portal::overview::overview;
use crate::spend::budgets::budget_outlook;
use crate::spend::caps::period_in_effect;
use crate::store::Db;

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn dashboard(
    db: &Db,
    organization_id: &str,
    viewer: &SessionUser,
    public_base_url: &str,
) -> Result<Dashboard, Error> {
    let role = viewer.role_in(organization_id)?;
    let mut conn = db.pool.acquire().await?;
    let org = organizations::find_organization(&mut conn, organization_id).await?.ok_or(AppError::NotFound)?;
    let namespaces = namespaces::list_namespaces(&mut conn, organization_id).await?;
    let subscription = subscription_of(&mut conn, organization_id).await?;
    let steps = GettingStarted {
        has_plan: subscription.is_some(),
        first_namespace: namespaces.first().map(|n| n.name.clone()),
        has_api_key: api_keys::list_api_keys(&mut conn, organization_id).await?.iter().any(|k| k.revoked_at.is_none()),
        has_usage: has_usage(&mut conn, organization_id).await?,
        events_url: format!("{public_base_url}/v1/usage/events"),
    };
    let done = steps.has_plan && steps.first_namespace.is_some() && steps.has_api_key && steps.has_usage;
    let now = db.clock.now_ms();
    let period = period_in_effect(subscription.as_ref(), now);
    let activity = namespace_activity(db, &mut conn, organization_id, &namespaces, period, now).await?;
    let overview = overview(&mut conn, organization_id, subscription.clone(), period, &org.currency, now).await?;
    // Released before the estimate takes its own: holding one while waiting for another starves
    // the pool once every connection is held by a request doing the same.
    drop(conn);
    let estimate = month_to_date_estimate_compared(db, organization_id, subscription, &namespaces).await?;
    Ok(Dashboard {
        organization_id: org.id,
        organization_name: org.name,
        billing_email: org.billing_email,
        currency: org.currency,
        role,
        namespaces: namespaces.into_iter().map(Namespace::from).collect(),
        activity,
        estimate,
        budgets: budget_outlook(db, organization_id).await?,
        getting_started: (!done).then_some(steps),
        overview,
    })
}
