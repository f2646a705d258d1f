//! Giving overpayments back: each ordered refund is sent to the processor under a key of its own
//! (`overpayment-<payment>`), so a pass that runs again after a crash asks for the same refund and
//! the processor answers it once. The books follow the processor's `charge.refunded` event.
use crate::error::Error;
use crate::payments::channel::ChannelError;
use crate::payments::collection::Collector;
use crate::payments::db::overpayments;
use crate::store::Db;

const LEASE_MS: i64 = 5 * 60_000;
const CLAIM_BATCH: i64 = 100;

/// Sends every refund ordered and not sent yet; answers how many the processor accepted.
#[tracing::instrument(skip_all)]
pub async fn refund_overpayments(db: &Db, collector: &Collector, now: i64) -> Result<usize, Error> {
    let mut tx = db.begin().await?;
    let due = overpayments::claim_due(&mut tx, now, now + LEASE_MS, CLAIM_BATCH).await?;
    tx.commit().await?;
    let mut sent = 0;
    for overpayment in due {
        let left = overpayment.owed_minor;
        let mut conn = db.pool.acquire().await?;
        let Some(processor_id) = overpayment.processor_payment_id.as_deref().filter(|_| left > 0) else {
            // Refunded by hand already, or returned by the bank in a lost dispute: all of it.
            overpayments::mark_sent(&mut conn, &overpayment.payment_id, None, now).await?;
            continue;
        };
        let key = format!("overpayment-{}", overpayment.payment_id);
        match collector.channel.refund(processor_id, left, &key).await {
            Ok(refund_id) => {
                overpayments::mark_sent(&mut conn, &overpayment.payment_id, Some(&refund_id), now).await?;
                sent += 1;
            }
            Err(ChannelError::Store(error)) => return Err(error),
            // Asking again would be refused again: staff refund it by hand, and its event settles the books.
            Err(ChannelError::Refused(reason)) => {
                tracing::warn!(%reason, payment = %overpayment.payment_id, "overpayment refund refused");
                overpayments::mark_refused(&mut conn, &overpayment.payment_id, &reason, now).await?;
            }
            // The lease lapses and the same refund is asked for again, under the same key.
            Err(error @ ChannelError::Unavailable(_)) => {
                tracing::warn!(%error, payment = %overpayment.payment_id, "overpayment refund not sent");
                overpayments::record_error(&mut conn, &overpayment.payment_id, &error.to_string(), now).await?;
            }
        }
    }
    Ok(sent)
}
