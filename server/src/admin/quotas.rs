//! Staff give one organization its own ingestion rate (a customer that needs more, or one to hold
//! back), with a reason and an audit entry. It replaces the portal's `--ingest-events-per-second`
//! for that organization from its next batch, on every instance (each reads it with the API key).
use app::api::error::AppError;
use serde_json::json;

use crate::accounts::audit::reason_of;
use crate::accounts::db::audit::{AuditEntry, append_audit};
use crate::accounts::db::organizations::{own_ingest_rate, set_own_ingest_rate};
use crate::error::Error;
use crate::metering::domain::quota::parse_own_rate;
use crate::store::Db;

/// `events_per_second` as typed: empty for the portal's setting, 0 for no limit.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn set_ingest_quota(
    db: &Db,
    admin: &str,
    organization_id: &str,
    events_per_second: &str,
    reason: &str,
) -> Result<(), Error> {
    let rate = parse_own_rate(events_per_second).map_err(|why| AppError::invalid("events_per_second", why))?;
    let reason = reason_of(reason)?;
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    let before = own_ingest_rate(&mut tx, organization_id).await?.ok_or(AppError::NotFound)?;
    set_own_ingest_rate(&mut tx, organization_id, rate).await?;
    let entry = AuditEntry {
        organization_id: Some(organization_id),
        actor: admin,
        action: "organization.ingest_quota",
        target: organization_id,
        before: Some(json!({ "events_per_second": before })),
        after: Some(json!({ "events_per_second": rate })),
        reason: Some(reason),
    };
    append_audit(&mut tx, entry, now).await?;
    tx.commit().await?;
    Ok(())
}
