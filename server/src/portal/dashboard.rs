//! The organization's dashboard: who it is, its first steps, where it stands (the overview's
//! tiles and alerts), its namespaces and this period's estimate.
use app::api::dto::{Dashboard, GettingStarted, Namespace, SessionUser};
use app::api::error::AppError;

use sqlx::AnyConnection;

use crate::accounts::db::namespaces::NamespaceRow;
use crate::accounts::db::{api_keys, namespaces, organizations};
use crate::billing::db::subscriptions::organization_and_standing;
use crate::billing::estimate::month_to_date_estimate_of;
use crate::error::Error;
use crate::metering::db::usage::has_usage;
use crate::portal::namespace_activity::namespace_activity;
use crate::portal::overview::{Read, overview};
use crate::spend::budgets::outlook_of;
use crate::spend::caps::{Caps, period_in_effect, standing_in};
use crate::spend::db::budgets_of;
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
    let (org, standing) = organization_and_standing(&mut conn, organization_id).await?.ok_or(AppError::NotFound)?;
    let namespaces = namespaces::list_namespaces(&mut conn, organization_id).await?;
    let subscription = standing.as_ref().map(|s| &s.subscription);
    let now = db.clock.now_ms();
    let getting_started = match org.onboarded_at {
        Some(_) => None,
        None => first_steps(&mut conn, &org.id, standing.is_some(), &namespaces, public_base_url, now).await?,
    };
    let budgets = budgets_of(&mut conn, organization_id).await?;
    // Crossings are of budgets: without one, none stands, and there is nothing to read.
    let period = period_in_effect(subscription, now).filter(|_| !budgets.is_empty());
    let crossings = standing_in(&mut conn, organization_id, period).await?;
    let caps = Caps::of(&crossings);
    let activity = namespace_activity(db, &mut conn, organization_id, &namespaces, &caps, now).await?;
    let read = Read { standing: standing.as_ref(), namespaces: &namespaces, budgets: &budgets, crossings: &crossings };
    let overview = overview(&mut conn, organization_id, read, &org.currency, now).await?;
    // Released before the estimate takes its own: holding one while waiting for another starves
    // the pool once every connection is held by a request doing the same.
    drop(conn);
    let estimate = month_to_date_estimate_of(db, organization_id, standing, &namespaces, true).await?;
    Ok(Dashboard {
        organization_id: org.id,
        organization_name: org.name,
        billing_email: org.billing_email,
        currency: org.currency,
        role,
        namespaces: namespaces.into_iter().map(Namespace::from).collect(),
        activity,
        estimate,
        budgets: outlook_of(db, organization_id, &budgets).await?,
        getting_started,
        overview,
    })
}

/// The steps a new organization has left, or `None` once they are all done: recorded then, so
/// that the dashboard stops checking (and a key revoked later does not bring them back).
async fn first_steps(
    conn: &mut AnyConnection,
    organization_id: &str,
    has_plan: bool,
    namespaces: &[NamespaceRow],
    public_base_url: &str,
    now: i64,
) -> Result<Option<GettingStarted>, Error> {
    let steps = GettingStarted {
        has_plan,
        first_namespace: namespaces.first().map(|n| n.name.clone()),
        has_api_key: api_keys::list_api_keys(conn, organization_id).await?.iter().any(|k| k.revoked_at.is_none()),
        has_usage: has_usage(conn, organization_id).await?,
        events_url: format!("{public_base_url}/v1/usage/events"),
    };
    let done = steps.has_plan && steps.first_namespace.is_some() && steps.has_api_key && steps.has_usage;
    // Only saves the next views two reads, so a write that fails does not fail the page.
    if done && let Err(error) = organizations::mark_onboarded(conn, organization_id, now).await {
        tracing::warn!(%error, "the dashboard could not record the first steps as done");
    }
    Ok((!done).then_some(steps))
}
