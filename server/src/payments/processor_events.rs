//! Processing the webhook inbox: what each Stripe event (or the test-mode processor's copy of
//! one) changes. Every handler is safe to run twice and in any order: attempts settle once, a
//! paid invoice never goes back, and an older payment-method change never replaces a newer one.

use crate::billing::db::ledger::{self, PostingCause};
use crate::billing::domain::ledger::Posting;
use crate::error::Error;
use crate::payments::collection::{Collector, payment_succeeded, retry_now};
use crate::payments::db::attempts::{self, PaymentRow};
use crate::payments::db::collections;
use crate::payments::db::overpayments;
use crate::payments::db::stripe_events::{self, ClaimedEvent};
use crate::payments::disputes::apply_dispute;
use crate::payments::domain::status::{InboxStatus, PaymentStatus};
use crate::payments::domain::stripe_event::{EventObject, StripeEvent};
use crate::payments::domain::test_cards::AUTHENTICATION_FAILED;
use crate::store::Db;

/// A claimed event is ours until this lapses; then another worker may take it again.
const PROCESSING_LEASE_MS: i64 = 2 * 60_000;
/// An event still failing this long after it arrived is parked for a person to look at: Stripe
/// itself stops resending an event after three days.
const RETRY_WINDOW_MS: i64 = 72 * 3_600_000;
const MAX_BACKOFF_MS: i64 = 6 * 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    Processed,
    /// Not an event we act on, or about an object that is not ours.
    Ignored,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct InboxReport {
    pub processed: usize,
    pub ignored: usize,
    pub failed: usize,
    pub parked: usize,
}

/// Processes every event that is due, oldest first.
#[tracing::instrument(skip_all)]
pub async fn process_inbox(db: &Db, collector: &Collector, now: i64) -> Result<InboxReport, Error> {
    let mut report = InboxReport::default();
    loop {
        let due = stripe_events::due_events(&mut *db.pool.acquire().await?, now, 100).await?;
        if due.is_empty() {
            return Ok(report);
        }
        let mut progressed = false;
        for id in due {
            if let Some(status) = process_event(db, collector, &id, now).await? {
                progressed = true;
                match status {
                    InboxStatus::Processed => report.processed += 1,
                    InboxStatus::Ignored => report.ignored += 1,
                    InboxStatus::Parked => report.parked += 1,
                    InboxStatus::Failed | InboxStatus::Pending => report.failed += 1,
                }
            }
        }
        if !progressed {
            return Ok(report);
        }
    }
}

/// Claims and processes one event; answers the status it ended in, or None when it was not
/// due or another worker has it.
#[tracing::instrument(skip_all)]
pub async fn process_event(db: &Db, collector: &Collector, id: &str, now: i64) -> Result<Option<InboxStatus>, Error> {
    let claimed =
        stripe_events::claim_event(&mut *db.pool.acquire().await?, id, now, now + PROCESSING_LEASE_MS).await?;
    let Some(event) = claimed else { return Ok(None) };
    let outcome = handle(db, collector, &event, now).await;
    let (status, error, next_attempt_at) = match outcome {
        Ok(Handled::Processed) => (InboxStatus::Processed, None, now),
        Ok(Handled::Ignored) => (InboxStatus::Ignored, None, now),
        Err(error) if now - event.received_at >= RETRY_WINDOW_MS => (InboxStatus::Parked, Some(error.to_string()), now),
        Err(error) => (InboxStatus::Failed, Some(error.to_string()), now + backoff_ms(event.attempts)),
    };
    if let Some(error) = &error {
        tracing::warn!(event = %event.id, r#type = %event.event_type, attempts = event.attempts, %error, status = status.as_str(), "stripe event failed");
    }
    let organization = organization_of(db, collector, &event.payload).await;
    let settlement = stripe_events::Settlement {
        status,
        error: error.as_deref(),
        next_attempt_at,
        organization_id: organization.as_deref(),
    };
    stripe_events::settle_event(&mut *db.pool.acquire().await?, &event.id, &settlement, now).await?;
    Ok(Some(status))
}

/// 30 s, 1 min, 2 min, … capped at six hours.
pub fn backoff_ms(attempts: i64) -> i64 {
    (30_000i64 << attempts.clamp(1, 20).saturating_sub(1)).min(MAX_BACKOFF_MS)
}

#[derive(Debug, thiserror::Error)]
enum EventError {
    #[error("the event has no {0}")]
    Missing(&'static str),
    #[error("the payload is not a Stripe event: {0}")]
    Unreadable(String),
    #[error("{0}; retried later")]
    NotYet(&'static str),
}

impl From<EventError> for Error {
    fn from(error: EventError) -> Self {
        Error::Corrupt(error.to_string())
    }
}

/// The event types `handle` acts on; the processor check recovers only these, so what it counts
/// as recovered is what a lost webhook would have changed.
const HANDLED_TYPES: &[&str] = &[
    "payment_intent.succeeded",
    "charge.succeeded",
    "payment_intent.payment_failed",
    "charge.failed",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
    "setup_intent.succeeded",
    "customer.updated",
];

pub fn handles(event_type: &str) -> bool {
    HANDLED_TYPES.contains(&event_type)
}

async fn handle(db: &Db, collector: &Collector, event: &ClaimedEvent, now: i64) -> Result<Handled, Error> {
    let payload = StripeEvent::parse(&event.payload).map_err(|e| EventError::Unreadable(e.to_string()))?;
    let object = &payload.data.object;
    let created_ms = event.created * 1000;
    match event.event_type.as_str() {
        "payment_intent.succeeded" | "charge.succeeded" => {
            let Some(payment) = our_payment(db, object).await? else { return Ok(Handled::Ignored) };
            let processor_id = object.payment_intent_id().ok_or(EventError::Missing("payment intent id"))?;
            let mut tx = db.begin().await?;
            payment_succeeded(&mut tx, &payment, processor_id, now).await?;
            tx.commit().await?;
            Ok(Handled::Processed)
        }
        "payment_intent.payment_failed" | "charge.failed" => {
            let Some(payment) = our_payment(db, object).await? else { return Ok(Handled::Ignored) };
            // Another charge of this attempt failing says nothing about the one recorded.
            if is_another_charge(&payment, object) {
                return Ok(Handled::Ignored);
            }
            // Settling only a pending attempt: a late failure never undoes a success.
            let mut conn = db.pool.acquire().await?;
            let failure = object.failure();
            let intent = object.payment_intent_id();
            let settled =
                attempts::settle(&mut conn, &payment.id, PaymentStatus::Failed, intent, Some(failure), now).await?;
            let (invoice, org) = (&payment.invoice_id, &payment.organization_id);
            if !settled && failure.0 == AUTHENTICATION_FAILED {
                // The card holder, on the Pay page, did not confirm an attempt already failed:
                // the invoice's history says so, and the attempt keeps waiting for them.
                let detail = "The card holder did not confirm the payment with their bank; nothing was charged.";
                collections::record_event(&mut conn, invoice, org, "authentication_failed", detail, now).await?;
            } else if !settled && payment.awaits_authentication() {
                // Confirmed by the card holder, then declined by the bank: the attempt no longer
                // waits for them, and says why it failed.
                if attempts::record_later_failure(&mut conn, &payment.id, failure, now).await? {
                    let detail = format!("Confirmed by the card holder, then declined: {}", failure.1);
                    collections::record_event(&mut conn, invoice, org, "payment_failed", &detail, now).await?;
                }
            }
            Ok(Handled::Processed)
        }
        "charge.refunded" => {
            let Some(payment) = our_payment(db, object).await? else { return Ok(Handled::Ignored) };
            if is_another_charge(&payment, object) {
                return Err(EventError::NotYet("the refunded charge's success is not recorded yet").into());
            }
            // Events come in any order: a refund waits until the success it gives back is recorded,
            // which decides whether it reverses revenue or an overpayment.
            if payment.status()? != PaymentStatus::Succeeded {
                return Err(EventError::NotYet("the refunded payment's success is not recorded yet").into());
            }
            let refunded = object.amount_refunded.ok_or(EventError::Missing("amount_refunded"))?;
            let charge = object.id.as_deref().ok_or(EventError::Missing("id"))?;
            let mut tx = db.begin().await?;
            let added =
                attempts::record_refunded(&mut tx, &payment.id, refunded.min(payment.amount_minor), now).await?;
            if added > 0 {
                // An overpayment never was revenue: giving it back only empties what was held.
                let (kind, posting) = if overpayments::is_overpayment(&mut tx, &payment.id).await? {
                    ("overpayment.refunded", Posting::overpayment_refunded(added)?)
                } else {
                    ("payment.refunded", Posting::payment_refunded(added)?)
                };
                let reference = format!("{charge}:{refunded}");
                let cause =
                    PostingCause { organization_id: &payment.organization_id, kind, reference: &reference, at: now };
                ledger::post(&mut tx, cause, posting).await?;
            }
            tx.commit().await?;
            Ok(Handled::Processed)
        }
        "charge.dispute.created"
        | "charge.dispute.updated"
        | "charge.dispute.closed"
        | "charge.dispute.funds_withdrawn"
        | "charge.dispute.funds_reinstated" => {
            // A dispute names only its PaymentIntent: one we have not recorded may be a second
            // charge whose success is on its way. One that never comes is parked for staff.
            let not_yet = || EventError::NotYet("the disputed charge's success is not recorded yet");
            let Some(payment) = our_payment(db, object).await? else { return Err(not_yet().into()) };
            if is_another_charge(&payment, object) || payment.status()? != PaymentStatus::Succeeded {
                return Err(not_yet().into());
            }
            let dispute = object.dispute().ok_or(EventError::Missing("dispute id, amount, currency or status"))?;
            let mut conn = db.pool.acquire().await?;
            let in_flight =
                overpayments::state(&mut conn, &payment.id, now).await?.is_some_and(|s| s.refund_in_flight());
            if dispute.status == "lost" && in_flight {
                return Err(EventError::NotYet("its overpayment's refund is being sent").into());
            }
            drop(conn);
            let mut tx = db.begin().await?;
            apply_dispute(&mut tx, &payment, &dispute, event.created * 1000, now).await?;
            tx.commit().await?;
            Ok(Handled::Processed)
        }
        "setup_intent.succeeded" => {
            let method = object.payment_method.as_ref().ok_or(EventError::Missing("payment_method"))?;
            new_default_method(db, collector, object, method.id(), created_ms, now).await
        }
        "customer.updated" => match object.default_payment_method() {
            Some(method) => new_default_method(db, collector, object, method, created_ms, now).await,
            None => Ok(Handled::Ignored),
        },
        // Stripe also sends `setup_intent.succeeded` for a Checkout Session in setup mode, which
        // carries the payment method; the session itself only confirms it.
        "checkout.session.completed" if object.is_setup_session() => Ok(Handled::Processed),
        // The method's details are read when it becomes the default; attaching alone changes nothing.
        "payment_method.attached" => Ok(Handled::Processed),
        _ => Ok(Handled::Ignored),
    }
}

/// The customer has a new default method: store it unless a later change is stored, then retry
/// what they owe at once.
async fn new_default_method(
    db: &Db,
    collector: &Collector,
    object: &EventObject,
    method: &str,
    set_at: i64,
    now: i64,
) -> Result<Handled, Error> {
    let customer = object.customer_id().ok_or(EventError::Missing("customer"))?;
    let mut conn = db.pool.acquire().await?;
    let Some(profile) = attempts::profile_by_customer(&mut conn, collector.channel_name, customer).await? else {
        return Ok(Handled::Ignored);
    };
    drop(conn);
    if profile.payment_method_id.as_deref() != Some(method) {
        let card = collector.channel.payment_method(method).await?;
        let mut conn = db.pool.acquire().await?;
        if !attempts::set_default_method(&mut conn, &profile.organization_id, &card, set_at, now).await? {
            // A later change is already stored: this older one changes nothing.
            return Ok(Handled::Processed);
        }
    }
    // Keyed by the method: if this event runs again (after a crash), so does the same charge.
    let key = format!("method-{method}");
    let results = retry_now(db, collector, &profile.organization_id, Some(&key), now).await?;
    tracing::info!(organization = %profile.organization_id, retried = results.len(), "payment method updated");
    Ok(Handled::Processed)
}

/// The customer an event is about, for the staff view of that customer: by our payment, else by
/// the processor's customer id. Only a label, so a failed lookup leaves it unknown.
async fn organization_of(db: &Db, collector: &Collector, payload: &str) -> Option<String> {
    let payload = StripeEvent::parse(payload).ok()?;
    let object = &payload.data.object;
    if let Ok(Some(payment)) = our_payment(db, object).await {
        return Some(payment.organization_id);
    }
    let customer = object.customer_id()?;
    let mut conn = db.pool.acquire().await.ok()?;
    let profile = attempts::profile_by_customer(&mut conn, collector.channel_name, customer).await.ok()??;
    Some(profile.organization_id)
}

/// The attempt an event is about: the one recorded with its PaymentIntent first (a second charge
/// for one attempt is an attempt of its own, yet carries the first one's metadata), then the one
/// its metadata names.
async fn our_payment(db: &Db, object: &EventObject) -> Result<Option<PaymentRow>, Error> {
    let mut conn = db.pool.acquire().await?;
    if let Some(id) = object.payment_intent_id()
        && let Some(payment) = attempts::payment_by_processor_id(&mut conn, id).await?
    {
        return Ok(Some(payment));
    }
    match object.our_payment_id() {
        Some(id) => attempts::payment(&mut conn, id).await,
        None => Ok(None),
    }
}

/// The attempt its metadata names was settled under another PaymentIntent: the event is about a
/// second charge of that attempt, which becomes an attempt of its own once its success arrives.
fn is_another_charge(payment: &PaymentRow, object: &EventObject) -> bool {
    matches!(
        (payment.processor_payment_id.as_deref(), object.payment_intent_id()),
        (Some(recorded), Some(charged)) if recorded != charged
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_30_seconds_up_to_six_hours() {
        assert_eq!(backoff_ms(1), 30_000);
        assert_eq!(backoff_ms(2), 60_000);
        assert_eq!(backoff_ms(4), 240_000);
        assert_eq!(backoff_ms(10), 15_360_000);
        assert_eq!(backoff_ms(11), 21_600_000);
        assert_eq!(backoff_ms(400), 21_600_000);
    }
}
