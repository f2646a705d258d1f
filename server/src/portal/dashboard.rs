//! The organization's dashboard: who it is, its namespaces and this period's estimate.
use app::api::dto::{Dashboard, Namespace, SessionUser};
use app::api::error::AppError;

use crate::accounts::db::{namespaces, organizations};
use crate::billing::subscriptions::month_to_date_estimate;
use crate::error::Error;
use crate::store::Db;

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn dashboard(db: &Db, organization_id: &str, viewer: &SessionUser) -> Result<Dashboard, Error> {
    let role = viewer.role_in(organization_id)?;
    let mut conn = db.pool.acquire().await?;
    let org = organizations::find_organization(&mut conn, organization_id).await?.ok_or(AppError::NotFound)?;
    let namespaces = namespaces::list_namespaces(&mut conn, organization_id).await?;
    // Released before the estimate takes its own: holding one while waiting for another starves
    // the pool once every connection is held by a request doing the same.
    drop(conn);
    Ok(Dashboard {
        organization_id: org.id,
        organization_name: org.name,
        billing_email: org.billing_email,
        currency: org.currency,
        role,
        namespaces: namespaces.into_iter().map(Namespace::from).collect(),
        estimate: month_to_date_estimate(db, organization_id).await?,
    })
}
