//! Refunds by staff: through the payment channel under an idempotency key from the form, audited;
//! the books follow the processor's `charge.refunded` event, like a refund made in its dashboard.
use app::api::error::AppError;
use serde_json::json;

use crate::accounts::audit::{idempotency_key_of, positive_amount_of, reason_of};
use crate::accounts::db::audit::{AuditEntry, append_audit};
use crate::error::Error;
use crate::payments::channel::ChannelError;
use crate::payments::collection::Collector;
use crate::payments::db::attempts;
use crate::payments::domain::status::PaymentStatus;
use crate::payments::processor_events::process_inbox;
use crate::shared::money::format_minor;
use crate::store::Db;

pub struct RefundRequest<'a> {
    pub payment_id: &'a str,
    pub amount: &'a str,
    pub reason: &'a str,
    pub idempotency_key: &'a str,
}

#[tracing::instrument(skip_all)]
pub async fn refund_payment(
    db: &Db,
    collector: &Collector,
    admin: &str,
    request: &RefundRequest<'_>,
) -> Result<(), Error> {
    let amount = positive_amount_of(request.amount)?;
    let reason = reason_of(request.reason)?;
    idempotency_key_of(request.idempotency_key)?;
    let mut conn = db.pool.acquire().await?;
    let payment = attempts::payment(&mut conn, request.payment_id).await?.ok_or(AppError::NotFound)?;
    let processor_id = match (payment.status()?, &payment.processor_payment_id) {
        (PaymentStatus::Succeeded, Some(id)) => id.clone(),
        _ => return Err(AppError::conflict("payment_id", "only a succeeded payment can be refunded").into()),
    };
    let left = payment.amount_minor - payment.refunded_minor;
    if amount > left {
        return Err(AppError::invalid("amount", format!("must not exceed what is left: {}", format_minor(left))).into());
    }
    drop(conn);
    let key = format!("refund-{}", request.idempotency_key);
    let refund_id = collector.channel.refund(&processor_id, amount, &key).await.map_err(|e| match e {
        ChannelError::Refused(message) => AppError::conflict("amount", message).into(),
        other => Error::from(other),
    })?;
    let now = db.clock.now_ms();
    let audit = AuditEntry {
        organization_id: Some(&payment.organization_id),
        actor: admin,
        action: "payment.refund",
        target: &payment.id,
        before: Some(json!({ "refunded_minor": payment.refunded_minor })),
        after: Some(json!({ "refund": refund_id, "amount_minor": amount })),
        reason: Some(reason),
    };
    append_audit(&mut *db.pool.acquire().await?, audit, now).await?;
    // The refund's event is usually waiting already (always in test mode): apply it now.
    process_inbox(db, collector, now).await?;
    Ok(())
}
