//! Staff suspend a customer's service and lift the suspension, each with a reason and an audit
//! entry. Suspension pauses service, never metering: usage is still recorded.
use app::api::error::AppError;
use serde_json::json;

use crate::accounts::audit::reason_of;
use crate::accounts::db::audit::{AuditEntry, append_audit};
use crate::accounts::db::namespaces::set_suspended;
use crate::billing::db::subscriptions;
use crate::billing::domain::subscription::{STAFF_SUSPENSION, SubscriptionStatus};
use crate::billing::subscriptions::move_status;
use crate::error::Error;
use crate::notifications::outbox::notify;
use crate::payments::db::collections;
use crate::shared::ids::{IdKind, new_id};
use crate::store::Db;

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn suspend(db: &Db, admin: &str, organization_id: &str, reason: &str) -> Result<(), Error> {
    let reason = reason_of(reason)?;
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    let subscription = subscriptions::subscription_of(&mut tx, organization_id).await?.ok_or(AppError::NotFound)?;
    let from = subscription.status()?;
    if !matches!(from, SubscriptionStatus::Active | SubscriptionStatus::PastDue) {
        let message = format!("a {} subscription cannot be suspended", from.as_str());
        return Err(AppError::conflict("status", message).into());
    }
    let cause = subscriptions::TransitionCause { cause: STAFF_SUSPENSION, actor: admin, at: now };
    change(&mut tx, (organization_id, &subscription.id), from, SubscriptionStatus::Suspended, &cause).await?;
    set_suspended(&mut tx, organization_id, Some(now)).await?;
    audit(&mut tx, admin, organization_id, "subscription.suspend", (from, SubscriptionStatus::Suspended), reason, now)
        .await?;
    let reference = new_id(IdKind::Notification, now);
    let body = "Your namespaces are suspended by our staff. Usage is still recorded. Please contact support.";
    notify(&mut tx, organization_id, "staff_suspension", &reference, "Your service is suspended", body, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Lifts a suspension: back to past due while an invoice is still being collected, else active.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn unsuspend(db: &Db, admin: &str, organization_id: &str, reason: &str) -> Result<(), Error> {
    let reason = reason_of(reason)?;
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    let subscription = subscriptions::subscription_of(&mut tx, organization_id).await?.ok_or(AppError::NotFound)?;
    let from = subscription.status()?;
    if from != SubscriptionStatus::Suspended {
        return Err(AppError::conflict("status", "the subscription is not suspended").into());
    }
    let past_due = collections::has_past_due(&mut tx, organization_id).await?;
    let to = if past_due { SubscriptionStatus::PastDue } else { SubscriptionStatus::Active };
    let cause = subscriptions::TransitionCause { cause: "suspension lifted by staff", actor: admin, at: now };
    change(&mut tx, (organization_id, &subscription.id), from, to, &cause).await?;
    set_suspended(&mut tx, organization_id, None).await?;
    audit(&mut tx, admin, organization_id, "subscription.unsuspend", (from, to), reason, now).await?;
    tx.commit().await?;
    Ok(())
}

async fn change(
    conn: &mut sqlx::AnyConnection,
    (organization_id, subscription_id): (&str, &str),
    from: SubscriptionStatus,
    to: SubscriptionStatus,
    cause: &subscriptions::TransitionCause<'_>,
) -> Result<(), Error> {
    if move_status(conn, organization_id, subscription_id, (from, to), cause).await? {
        Ok(())
    } else {
        Err(AppError::conflict("status", "the subscription changed meanwhile; reload the page").into())
    }
}

async fn audit(
    conn: &mut sqlx::AnyConnection,
    admin: &str,
    organization_id: &str,
    action: &str,
    (from, to): (SubscriptionStatus, SubscriptionStatus),
    reason: &str,
    now: i64,
) -> Result<(), Error> {
    let entry = AuditEntry {
        organization_id: Some(organization_id),
        actor: admin,
        action,
        target: organization_id,
        before: Some(json!({ "status": from.as_str() })),
        after: Some(json!({ "status": to.as_str() })),
        reason: Some(reason),
    };
    append_audit(conn, entry, now).await
}
