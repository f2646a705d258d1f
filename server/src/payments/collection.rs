//! Collecting open invoices: the first automatic charge, then dunning (retries on the configured
//! days, suspension, cancellation), and the immediate retry when the customer updates the payment
//! method. Each invoice's timer is a durable, leased row, so a restart or a second server never
//! skips or doubles a step; every charge attempt is written before the processor is called, with
//! an idempotency key per invoice and step, so a step that runs again never charges twice.
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sqlx::AnyConnection;

use crate::accounts::db::namespaces::set_suspended;
use crate::billing::announcements::invoice_event;
use crate::billing::db::invoices::{self, InvoiceRow};
use crate::billing::db::ledger::{self, PostingCause};
use crate::billing::db::subscriptions;
use crate::billing::domain::invoice::InvoiceStatus;
use crate::billing::domain::ledger::Posting;
use crate::billing::domain::subscription::STAFF_SUSPENSION;
use crate::billing::domain::subscription::{SubscriptionStatus, transition};
use crate::billing::subscriptions::{end_subscription, move_status};
use crate::error::Error;
use crate::notifications::outbox::{Notice, notify, notify_with, receipt_document};
use crate::payments::channel::ChannelError;
use crate::payments::channel::ChargeOutcome;
use crate::payments::channel::ChargeRequest;
use crate::payments::channel::PaymentChannel;
use crate::payments::channel::PaymentFailure;
use crate::payments::channel::test_mode::TestModeChannel;
use crate::payments::db::attempts::{self, PaymentRow};
use crate::payments::db::collections::{self, CollectionRow, NextRun};
use crate::payments::db::overpayments;
use crate::payments::domain::dunning::{DunningPolicy, DunningStep};
use crate::payments::domain::status::{CollectionStatus, PaymentStatus};
use crate::shared::ids::{IdKind, new_id};
use crate::shared::money::format_money;
use crate::shared::time::display_ms;
use crate::store::Db;
use crate::webhooks::domain::event_types::{INVOICE_PAID, INVOICE_PAYMENT_FAILED};
use crate::webhooks::events::announce;

/// How long a worker owns a timer it claimed; after a crash another picks it up when it lapses.
pub const COLLECTION_LEASE_MS: i64 = 5 * 60_000;
/// When the processor is unreachable the step is tried again this much later, with the same key.
const UNAVAILABLE_RETRY_MS: i64 = 10 * 60_000;
const CLAIM_BATCH: i64 = 100;
/// Stripe forgets an idempotency key 24 hours after its first use. An attempt of unknown outcome
/// whose key is older than this is looked up by our payment id before anything is sent again.
const KEY_TRUSTED_MS: i64 = 23 * 3_600_000;

pub struct Collector {
    pub channel: Arc<dyn PaymentChannel>,
    /// Which processor the stored customer ids belong to (`test` or `stripe`).
    pub channel_name: &'static str,
    /// Present when the built-in test-mode processor is the channel: its card form uses it.
    pub test_mode: Option<Arc<TestModeChannel>>,
    pub policy: DunningPolicy,
    /// The portal's address: a payment that waits for the card holder is mailed as a link to its
    /// Pay page.
    pub portal_url: String,
}

impl Collector {
    pub fn test_mode(db: &Db, policy: DunningPolicy, answer_latency: Duration, portal_url: &str) -> Self {
        let channel = Arc::new(TestModeChannel::new(db.clone(), answer_latency));
        Self {
            channel: channel.clone(),
            channel_name: "test",
            test_mode: Some(channel),
            policy,
            portal_url: portal_url.to_owned(),
        }
    }

    /// The page where the card holder completes a payment that waits for them.
    pub fn pay_page(&self, organization_id: &str, invoice_id: &str) -> String {
        format!("{}/orgs/{organization_id}/invoices/{invoice_id}/pay", self.portal_url)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Paid,
    Failed(PaymentFailure),
    NoPaymentMethod,
    /// Not decided yet (the processor could not be reached, or is still processing): the attempt
    /// stays pending and the step runs again later with the same key.
    Later(String),
    /// The invoice no longer needs paying (paid or voided meanwhile).
    NotDue,
}

impl Attempt {
    fn failure(&self) -> Option<PaymentFailure> {
        match self {
            Self::Failed(failure) => Some(failure.clone()),
            Self::NoPaymentMethod => Some(PaymentFailure {
                code: "no_payment_method".into(),
                message: "No payment method is on file.".into(),
            }),
            _ => None,
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CollectionReport {
    pub steps: usize,
    pub paid: usize,
    pub failed: usize,
}

/// Runs every collection step that is due at `now`.
#[tracing::instrument(skip_all)]
pub async fn run_collections(db: &Db, collector: &Collector, now: i64) -> Result<CollectionReport, Error> {
    let mut report = CollectionReport::default();
    loop {
        // A write transaction, so that on SQLite the claim takes its turn at the write lock: left to
        // SQLite's busy handler it waited seconds behind a heavy ingestion load.
        let mut tx = db.begin().await?;
        let due = collections::claim_due(&mut tx, now, now + COLLECTION_LEASE_MS, CLAIM_BATCH).await?;
        tx.commit().await?;
        if due.is_empty() {
            return Ok(report);
        }
        for row in due {
            report.steps += 1;
            match run_step(db, collector, &row, now).await {
                Ok(Attempt::Paid) => report.paid += 1,
                Ok(Attempt::Failed(_)) => report.failed += 1,
                Ok(_) => {}
                // The lease lapses and the step runs again; its idempotency key keeps it single.
                Err(error) => tracing::warn!(%error, invoice = %row.invoice_id, "collection step failed"),
            }
        }
    }
}

async fn run_step(db: &Db, collector: &Collector, row: &CollectionRow, now: i64) -> Result<Attempt, Error> {
    let Some(invoice) = still_due(db, row, now).await? else { return Ok(Attempt::NotDue) };
    let key = match row.status()? {
        CollectionStatus::Collecting => "first".to_owned(),
        _ => match collector.policy.step(row.dunning_step as usize) {
            Some(DunningStep::Retry { day, .. }) => format!("day-{day}"),
            Some(DunningStep::Cancel { .. }) => {
                cancel(db, row, &invoice, now).await?;
                return Ok(Attempt::NotDue);
            }
            None => {
                collections::finish(&mut *db.pool.acquire().await?, &row.invoice_id, CollectionStatus::Stopped, now)
                    .await?;
                return Ok(Attempt::NotDue);
            }
        },
    };
    let attempt = attempt_charge(db, collector, &invoice, Some(key), "automatic", now).await?;
    match &attempt {
        Attempt::Paid | Attempt::NotDue => {}
        Attempt::Later(_) => {
            let next = NextRun {
                status: row.status()?,
                dunning_started_at: row.dunning_started_at,
                dunning_step: row.dunning_step,
                next_run_at: now + UNAVAILABLE_RETRY_MS,
            };
            collections::reschedule(&mut *db.pool.acquire().await?, &row.invoice_id, &next, now).await?;
        }
        // Without a card on file the invoice is simply due by its date; dunning starts then.
        Attempt::NoPaymentMethod
            if row.status()? == CollectionStatus::Collecting && invoice.due_at.is_some_and(|due| due > now) =>
        {
            let next = NextRun {
                status: CollectionStatus::Collecting,
                dunning_started_at: None,
                dunning_step: 0,
                next_run_at: invoice.due_at.unwrap_or(now),
            };
            collections::reschedule(&mut *db.pool.acquire().await?, &row.invoice_id, &next, now).await?;
        }
        Attempt::Failed(_) | Attempt::NoPaymentMethod => {
            after_failure(db, collector, row, &invoice, &attempt, true, now).await?;
        }
    }
    Ok(attempt)
}

/// The invoice if it still needs paying; otherwise the timer is ended.
async fn still_due(db: &Db, row: &CollectionRow, now: i64) -> Result<Option<InvoiceRow>, Error> {
    let mut conn = db.pool.acquire().await?;
    let invoice = invoices::invoice(&mut conn, &row.invoice_id)
        .await?
        .ok_or_else(|| Error::Corrupt(format!("collection of a missing invoice {}", row.invoice_id)))?;
    match invoice.status()? {
        InvoiceStatus::Open | InvoiceStatus::Uncollectible => Ok(Some(invoice)),
        status => {
            let end = if status == InvoiceStatus::Paid { CollectionStatus::Paid } else { CollectionStatus::Stopped };
            collections::finish(&mut conn, &row.invoice_id, end, now).await?;
            Ok(None)
        }
    }
}

/// Charges the invoice's amount due with the organization's default method. `key` names the step
/// (the same step always sends the same idempotency key); None makes a fresh attempt.
async fn attempt_charge(
    db: &Db,
    collector: &Collector,
    invoice: &InvoiceRow,
    key: Option<String>,
    trigger: &str,
    now: i64,
) -> Result<Attempt, Error> {
    let mut conn = db.pool.acquire().await?;
    let Some(profile) = attempts::profile_of(&mut conn, &invoice.organization_id).await? else {
        return Ok(Attempt::NoPaymentMethod);
    };
    let Some(method) = profile.payment_method_id.clone() else { return Ok(Attempt::NoPaymentMethod) };
    let earlier = attempts::payments_of_invoice(&mut conn, &invoice.id).await?;
    let key = format!("{}:{}", invoice.id, key.unwrap_or_else(|| format!("attempt-{}", earlier.len() + 1)));
    // One attempt in flight per invoice: one whose outcome is unknown (the processor may have
    // charged it before a crash or a timeout) is sent again under its own key, which the processor
    // answers once, before a new attempt may charge beside it.
    let in_flight = earlier.iter().find(|p| p.status().is_ok_and(|s| s == PaymentStatus::Pending)).cloned();
    let stored = match in_flight {
        Some(payment) => Some(payment),
        None => attempts::payment_by_key(&mut conn, &key).await?,
    };
    let payment = match stored {
        Some(payment) => payment,
        None => {
            let payment = PaymentRow {
                id: new_id(IdKind::Payment, now),
                invoice_id: invoice.id.clone(),
                organization_id: invoice.organization_id.clone(),
                attempt: earlier.iter().map(|p| p.attempt).max().unwrap_or(0) + 1,
                idempotency_key: key,
                amount_minor: invoice.amount_due_minor,
                currency: invoice.currency.clone(),
                payment_method_id: method,
                status: PaymentStatus::Pending.as_str().to_owned(),
                processor_payment_id: None,
                failure_code: None,
                failure_message: None,
                refunded_minor: 0,
                trigger: trigger.to_owned(),
                created_at: now,
                updated_at: now,
            };
            attempts::insert_payment(&mut conn, &payment).await?;
            payment
        }
    };
    match payment.status()? {
        PaymentStatus::Succeeded => return Ok(Attempt::Paid),
        PaymentStatus::Failed => {
            return Ok(Attempt::Failed(PaymentFailure {
                code: payment.failure_code.unwrap_or_default(),
                message: payment.failure_message.unwrap_or_default(),
            }));
        }
        PaymentStatus::Pending => {}
    }
    drop(conn);
    let request = ChargeRequest {
        customer_id: &profile.customer_id,
        payment_method_id: &payment.payment_method_id,
        amount_minor: payment.amount_minor,
        currency: &payment.currency,
        idempotency_key: &payment.idempotency_key,
        invoice_id: &payment.invoice_id,
        payment_id: &payment.id,
    };
    // An attempt the processor accepted without finishing is asked about, not charged again.
    let answer = match &payment.processor_payment_id {
        Some(id) => collector.channel.payment_state(id).await,
        None => {
            // The key and when it was first sent are read together, now: another worker may have
            // renewed the key since this one read the attempt.
            let (key, key_sent_at) = attempts::current_key(&mut *db.pool.acquire().await?, &payment.id).await?;
            if now - key_sent_at < KEY_TRUSTED_MS {
                collector.channel.charge(&ChargeRequest { idempotency_key: &key, ..request }).await
            } else {
                match collector.channel.find_payment(&payment.id).await {
                    Ok(Some(outcome)) => Ok(outcome),
                    Ok(None) => {
                        let next = next_key_generation(&key);
                        let mut conn = db.pool.acquire().await?;
                        if !attempts::renew_key(&mut conn, &payment.id, &key, &next, now).await? {
                            return Ok(Attempt::Later("another worker is sending this attempt".into()));
                        }
                        collector.channel.charge(&ChargeRequest { idempotency_key: &next, ..request }).await
                    }
                    // A lookup that failed says nothing about the card: look again later.
                    Err(ChannelError::Refused(reason)) => Err(ChannelError::Unavailable(reason)),
                    Err(error) => Err(error),
                }
            }
        }
    };
    let outcome = match answer {
        Ok(outcome) => outcome,
        Err(ChannelError::Unavailable(reason)) => {
            tracing::warn!(%reason, payment = %payment.id, "payment processor unavailable");
            return Ok(Attempt::Later(reason));
        }
        Err(ChannelError::Refused(reason)) => ChargeOutcome::Failed {
            processor_payment_id: None,
            failure: PaymentFailure { code: "processor_refused".into(), message: reason },
        },
        Err(ChannelError::Store(error)) => return Err(error),
    };
    let mut tx = db.begin().await?;
    let attempt = match outcome {
        ChargeOutcome::Succeeded { processor_payment_id } => {
            payment_succeeded(&mut tx, &payment, &processor_payment_id, now).await?;
            Attempt::Paid
        }
        ChargeOutcome::Failed { processor_payment_id, failure } => {
            let reason = (failure.code.as_str(), failure.message.as_str());
            attempts::settle(
                &mut tx,
                &payment.id,
                PaymentStatus::Failed,
                processor_payment_id.as_deref(),
                Some(reason),
                now,
            )
            .await?;
            Attempt::Failed(failure)
        }
        ChargeOutcome::Pending { processor_payment_id } => {
            attempts::set_processor_id(&mut tx, &payment.id, &processor_payment_id, now).await?;
            Attempt::Later(format!("payment {processor_payment_id} is still processing"))
        }
    };
    tx.commit().await?;
    Ok(attempt)
}

/// `…:first` → `…:first:gen2` → `…:first:gen3`: a key the processor has never seen, naming the
/// attempt it belongs to.
fn next_key_generation(key: &str) -> String {
    match key.rsplit_once(":gen").and_then(|(base, n)| Some((base, n.parse::<u32>().ok()?))) {
        Some((base, generation)) => format!("{base}:gen{}", generation + 1),
        None => format!("{key}:gen2"),
    }
}

/// Everything a successful payment changes, once: the attempt, the invoice, the ledger, the
/// timer, the subscription and its namespaces, and a receipt. Called for the processor's direct
/// answer and for its webhook alike; the second call finds the attempt settled and does nothing.
#[tracing::instrument(skip_all)]
pub async fn payment_succeeded(
    conn: &mut AnyConnection,
    payment: &PaymentRow,
    processor_payment_id: &str,
    now: i64,
) -> Result<bool, Error> {
    if !attempts::settle(conn, &payment.id, PaymentStatus::Succeeded, Some(processor_payment_id), None, now).await? {
        return second_charge(conn, payment, processor_payment_id, now).await;
    }
    let invoice = invoices::invoice(conn, &payment.invoice_id)
        .await?
        .ok_or_else(|| Error::Corrupt(format!("payment {} of a missing invoice", payment.id)))?;
    // The compare-and-set decides which of two successes at once pays the invoice. A miss is read
    // again: dunning may just have written the invoice off, and a written-off invoice is still owed.
    let mut invoice = invoice;
    let mut owed = false;
    for _ in 0..2 {
        let from = invoice.status()?;
        if !matches!(from, InvoiceStatus::Open | InvoiceStatus::Uncollectible) {
            break;
        }
        if invoices::settle_status(conn, &invoice.id, from, InvoiceStatus::Paid, now).await? {
            owed = true;
            break;
        }
        invoice = invoices::invoice(conn, &payment.invoice_id)
            .await?
            .ok_or_else(|| Error::Corrupt(format!("payment {} of a missing invoice", payment.id)))?;
    }
    if !owed {
        return overpaid(conn, payment, &invoice, now).await;
    }
    let org = invoice.organization_id.as_str();
    let cause = PostingCause { organization_id: org, kind: "payment.received", reference: &payment.id, at: now };
    ledger::post(conn, cause, Posting::payment_received(payment.amount_minor)?).await?;
    collections::finish(conn, &invoice.id, CollectionStatus::Paid, now).await?;
    let amount = format_money(payment.amount_minor, &payment.currency);
    let number = invoice.number.as_deref().unwrap_or(&invoice.id);
    collections::record_event(conn, &invoice.id, org, "paid", &format!("Payment of {amount} succeeded."), now).await?;
    reactivate_when_settled(conn, &invoice, now).await?;
    let paid = json!({ "amount_paid": payment.amount_minor, "payment_id": payment.id, "paid_by": "card" });
    announce(conn, invoice_event(INVOICE_PAID, &invoice.id, &invoice, number, paid), now).await?;
    let receipt = receipt_document(org, &payment.id);
    let notice = Notice {
        kind: "receipt",
        reference: &payment.id,
        subject: &format!("Receipt for invoice {number}"),
        body: &format!(
            "We received your payment of {amount} for invoice {number}. Thank you. The receipt is attached."
        ),
        attachment: Some(&receipt),
    };
    notify_with(conn, org, &notice, now).await?;
    Ok(true)
}

/// A success for an attempt already settled as succeeded under another PaymentIntent: the
/// processor charged it twice (two generations of its key both went through). The second charge
/// is recorded as an attempt of its own and refunded as an overpayment; news of it that arrives
/// again finds that attempt and changes nothing.
async fn second_charge(
    conn: &mut AnyConnection,
    payment: &PaymentRow,
    processor_payment_id: &str,
    now: i64,
) -> Result<bool, Error> {
    let Some(recorded) = attempts::payment(conn, &payment.id).await? else { return Ok(false) };
    let charged_elsewhere = recorded.processor_payment_id.as_deref().is_some_and(|id| id != processor_payment_id);
    if recorded.status()? != PaymentStatus::Succeeded || !charged_elsewhere {
        return Ok(false);
    }
    if attempts::payment_by_processor_id(conn, processor_payment_id).await?.is_some() {
        return Ok(false);
    }
    let invoice = invoices::invoice(conn, &payment.invoice_id)
        .await?
        .ok_or_else(|| Error::Corrupt(format!("payment {} of a missing invoice", payment.id)))?;
    let earlier = attempts::payments_of_invoice(conn, &invoice.id).await?;
    let second = PaymentRow {
        id: new_id(IdKind::Payment, now),
        attempt: earlier.iter().map(|p| p.attempt).max().unwrap_or(0) + 1,
        idempotency_key: format!("{}:second-charge-{processor_payment_id}", recorded.idempotency_key),
        status: PaymentStatus::Succeeded.as_str().to_owned(),
        processor_payment_id: Some(processor_payment_id.to_owned()),
        failure_code: None,
        failure_message: None,
        refunded_minor: 0,
        trigger: "second_charge".to_owned(),
        created_at: now,
        updated_at: now,
        ..recorded
    };
    tracing::warn!(payment = %payment.id, second = %processor_payment_id, "the processor charged one attempt twice");
    attempts::insert_payment(conn, &second).await?;
    overpaid(conn, &second, &invoice, now).await
}

/// A payment for an invoice no longer owed (another attempt paid it, or staff voided it while
/// this one was in flight): the money is held as an overpayment and a refund of all of it is
/// ordered, which the payments job sends.
async fn overpaid(
    conn: &mut AnyConnection,
    payment: &PaymentRow,
    invoice: &InvoiceRow,
    now: i64,
) -> Result<bool, Error> {
    let org = invoice.organization_id.as_str();
    tracing::warn!(payment = %payment.id, invoice = %invoice.id, "payment received for an invoice not owed; refunding it");
    let cause = PostingCause { organization_id: org, kind: "payment.overpaid", reference: &payment.id, at: now };
    ledger::post(conn, cause, Posting::overpayment_received(payment.amount_minor)?).await?;
    overpayments::order_refund(conn, &payment.id, org, payment.amount_minor, now).await?;
    let amount = format_money(payment.amount_minor, &payment.currency);
    let number = invoice.number.as_deref().unwrap_or(&invoice.id);
    let detail = format!("A further payment of {amount} arrived for an invoice not owed; it is being refunded.");
    collections::record_event(conn, &invoice.id, org, "overpaid", &detail, now).await?;
    notify(
        conn,
        org,
        "overpayment_refund",
        &payment.id,
        &format!("Refund of {amount} for invoice {number}"),
        &format!(
            "We received a payment of {amount} for invoice {number}, which was not owed. \
             It is being refunded to the card it came from."
        ),
        now,
    )
    .await?;
    Ok(true)
}

/// An invoice staff voided or wrote off is no longer collected; if it was the last one past due,
/// the subscription is back in good standing.
#[tracing::instrument(skip_all)]
pub async fn stop_collecting(
    conn: &mut AnyConnection,
    invoice: &InvoiceRow,
    detail: &str,
    now: i64,
) -> Result<(), Error> {
    if collections::finish(conn, &invoice.id, CollectionStatus::Stopped, now).await? {
        collections::record_event(conn, &invoice.id, &invoice.organization_id, "stopped", detail, now).await?;
        reactivate_when_settled(conn, invoice, now).await?;
    }
    Ok(())
}

/// Back to active, with namespaces serving, once nothing is past due any more.
async fn reactivate_when_settled(conn: &mut AnyConnection, invoice: &InvoiceRow, now: i64) -> Result<(), Error> {
    let org = invoice.organization_id.as_str();
    let status = subscriptions::status_of(conn, &invoice.subscription_id).await?;
    if !matches!(status, Some(SubscriptionStatus::PastDue | SubscriptionStatus::Suspended)) {
        return Ok(());
    }
    // Paying does not lift what staff decided; only staff do.
    if subscriptions::last_cause(conn, &invoice.subscription_id).await?.as_deref() == Some(STAFF_SUSPENSION) {
        return Ok(());
    }
    let still_past_due = collections::has_past_due(conn, org).await?;
    if !still_past_due {
        let cause = "nothing past due";
        move_subscription(conn, invoice, SubscriptionStatus::Active, cause, now).await?;
        set_suspended(conn, org, None).await?;
    }
    Ok(())
}

/// A failed charge. The first one starts dunning (day 0); a scheduled retry moves dunning to its
/// next step (warning, suspension); an immediate retry (`advance` false) leaves the step as it is.
async fn after_failure(
    db: &Db,
    collector: &Collector,
    row: &CollectionRow,
    invoice: &InvoiceRow,
    attempt: &Attempt,
    advance: bool,
    now: i64,
) -> Result<(), Error> {
    let failure = attempt.failure().unwrap_or_else(|| PaymentFailure { code: "unknown".into(), message: "".into() });
    let policy = &collector.policy;
    let org = invoice.organization_id.as_str();
    let number = invoice.number.as_deref().unwrap_or(&invoice.id);
    let amount = format_money(invoice.amount_due_minor, &invoice.currency);
    let mut tx = db.begin().await?;
    // The invoice before its collection, as `cancel` and a settling payment take them. While this
    // step's charge was out, another payment may have settled the invoice (the card holder
    // confirming an earlier attempt on the Pay page): then this failure changes nothing.
    invoices::lock_invoice(&mut tx, &invoice.id).await?;
    let still_owed = invoices::invoice(&mut tx, &invoice.id)
        .await?
        .is_some_and(|i| matches!(i.status(), Ok(InvoiceStatus::Open | InvoiceStatus::Uncollectible)));
    if !still_owed {
        return Ok(());
    }
    let failed = json!({
        "amount_due": invoice.amount_due_minor,
        "failure_code": failure.code,
        "failure_message": failure.message,
    });
    let reference = format!("{}:{now}", invoice.id);
    announce(&mut tx, invoice_event(INVOICE_PAYMENT_FAILED, &reference, invoice, number, failed), now).await?;
    let (started_at, next_step) = if row.status()? == CollectionStatus::Collecting {
        let detail = format!("Payment of {amount} failed: {}", failure.message);
        collections::record_event(&mut tx, &invoice.id, org, "payment_failed", &detail, now).await?;
        move_subscription(&mut tx, invoice, SubscriptionStatus::PastDue, "payment failed", now).await?;
        if !ask_for_authentication(&mut tx, collector, invoice, now).await? {
            let body = format!("Your payment of {amount} for invoice {number} failed: {}", failure.message);
            notify(&mut tx, org, "payment_failed", &invoice.id, &format!("Payment failed for {number}"), &body, now)
                .await?;
        }
        (now, 0)
    } else {
        let started = row.dunning_started_at.unwrap_or(now);
        let step = policy.step(row.dunning_step as usize);
        if !advance {
            let detail = format!("Retry with the updated payment method failed: {}", failure.message);
            collections::record_event(&mut tx, &invoice.id, org, "retry_failed", &detail, now).await?;
            collections::release(&mut tx, &invoice.id).await?;
            tx.commit().await?;
            return Ok(());
        }
        if let Some(DunningStep::Retry { day, warns_of_suspension, suspends_on_failure }) = step {
            let detail = format!("Retry on day {day} failed: {}", failure.message);
            collections::record_event(&mut tx, &invoice.id, org, "retry_failed", &detail, now).await?;
            ask_for_authentication(&mut tx, collector, invoice, now).await?;
            if warns_of_suspension {
                let suspension = policy.suspension_day().unwrap_or(day);
                let body = format!(
                    "Invoice {number} ({amount}) is still unpaid. If the payment on day {suspension} fails, \
                     your namespaces will be suspended. Please update your payment method."
                );
                let reference = format!("{}:{day}", invoice.id);
                notify(&mut tx, org, "suspension_warning", &reference, "Your service will be suspended", &body, now)
                    .await?;
            }
            if suspends_on_failure {
                let cause = "unpaid after the last retry";
                move_subscription(&mut tx, invoice, SubscriptionStatus::Suspended, cause, now).await?;
                set_suspended(&mut tx, org, Some(now)).await?;
                let detail = "Service suspended; usage is still recorded.";
                collections::record_event(&mut tx, &invoice.id, org, "suspended", detail, now).await?;
                let body = format!(
                    "Invoice {number} ({amount}) could not be collected, so your namespaces are suspended. \
                     Pay the invoice or update your payment method to restore service."
                );
                notify(&mut tx, org, "suspended", &invoice.id, "Your service is suspended", &body, now).await?;
            }
        }
        (started, row.dunning_step + 1)
    };
    let next_run_at = policy.run_at(started_at, next_step as usize).unwrap_or(now);
    if let Some(DunningStep::Retry { .. }) = policy.step(next_step as usize) {
        let when = display_ms(next_run_at);
        let detail = format!("Next retry on {when}.");
        collections::record_event(&mut tx, &invoice.id, org, "retry_scheduled", &detail, now).await?;
        let reference = format!("{}:{next_step}", invoice.id);
        let body = format!("We will try to collect {amount} for invoice {number} again on {when}.");
        notify(&mut tx, org, "retry_scheduled", &reference, &format!("Payment retry for {number}"), &body, now).await?;
    }
    let next = NextRun {
        status: CollectionStatus::PastDue,
        dunning_started_at: Some(started_at),
        dunning_step: next_step,
        next_run_at,
    };
    collections::reschedule(&mut tx, &invoice.id, &next, now).await?;
    tx.commit().await?;
    Ok(())
}

/// When the attempt that just failed waits for the card holder (their bank asks them to confirm
/// it), they are sent the link to its Pay page: once per scheduled attempt, so at the first
/// failure and again at every retry day. (An attempt the customer started, with Pay now or a new
/// card, is not mailed: they are in the portal, where the banner links to the page.) Answers
/// whether it did.
async fn ask_for_authentication(
    conn: &mut AnyConnection,
    collector: &Collector,
    invoice: &InvoiceRow,
    now: i64,
) -> Result<bool, Error> {
    let latest = attempts::payments_of_invoice(conn, &invoice.id).await?.into_iter().max_by_key(|p| p.attempt);
    let Some(payment) = latest.filter(PaymentRow::awaits_authentication) else { return Ok(false) };
    let org = invoice.organization_id.as_str();
    let number = invoice.number.as_deref().unwrap_or(&invoice.id);
    let amount = format_money(payment.amount_minor, &payment.currency);
    let link = collector.pay_page(org, &invoice.id);
    let body = format!(
        "Your bank asks you to confirm the payment of {amount} for invoice {number} before it goes through. \
         Open {link}, sign in, and confirm it with your bank; it takes a moment. Until you do, we keep \
         trying on the scheduled days."
    );
    let subject = format!("Confirm your payment for invoice {number}");
    notify(conn, org, "authentication_required", &payment.id, &subject, &body, now).await?;
    let detail = "The bank asks the card holder to confirm the payment; the link to it was sent.";
    collections::record_event(conn, &invoice.id, org, "authentication_required", detail, now).await?;
    Ok(true)
}

/// The last step: the subscription is canceled and the invoice written off as uncollectible.
async fn cancel(db: &Db, row: &CollectionRow, invoice: &InvoiceRow, now: i64) -> Result<(), Error> {
    let org = invoice.organization_id.as_str();
    let number = invoice.number.as_deref().unwrap_or(&invoice.id);
    let mut tx = db.begin().await?;
    // The invoice before its collection, as a payment that settles both takes them: the other
    // order would deadlock with a success recorded at the same moment.
    invoices::lock_invoice(&mut tx, &invoice.id).await?;
    if !collections::finish(&mut tx, &row.invoice_id, CollectionStatus::Canceled, now).await? {
        return Ok(());
    }
    if invoice.status()? == InvoiceStatus::Open {
        invoices::settle_status(&mut tx, &invoice.id, InvoiceStatus::Open, InvoiceStatus::Uncollectible, now).await?;
    }
    let cause = "unpaid at the end of dunning";
    let moved = move_subscription(&mut tx, invoice, SubscriptionStatus::Canceled, cause, now).await?;
    // A subscription canceled earlier ended then; this cancellation ends nothing more.
    let canceled_here =
        subscriptions::subscription_of(&mut tx, org).await?.filter(|s| moved && s.id == invoice.subscription_id);
    if let Some(subscription) = canceled_here {
        // The period in progress is billed to this instant by the next invoice run.
        end_subscription(&mut tx, &subscription, now).await?;
    }
    let detail = format!("Subscription canceled; invoice {number} marked uncollectible.");
    collections::record_event(&mut tx, &invoice.id, org, "canceled", &detail, now).await?;
    let body = format!(
        "Invoice {number} remained unpaid, so your subscription has been canceled. A final invoice for the \
         period up to the cancellation follows."
    );
    notify(&mut tx, org, "canceled", &invoice.id, "Your subscription is canceled", &body, now).await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryResult {
    pub invoice_id: String,
    pub attempt: Attempt,
}

/// Retries every invoice the organization still owes, now, with its current payment method:
/// after a payment-method update, or when the customer presses "Pay now". A failure leaves
/// dunning at its current step. `key` names the cause (e.g. the new method), so running the same
/// cause again after a crash resends its idempotency key; None makes a fresh attempt.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn retry_now(
    db: &Db,
    collector: &Collector,
    organization_id: &str,
    key: Option<&str>,
    now: i64,
) -> Result<Vec<RetryResult>, Error> {
    let open = collections::open_collections_of(&mut *db.pool.acquire().await?, organization_id).await?;
    let mut results = Vec::new();
    for row in open {
        let claimed =
            collections::claim_now(&mut *db.pool.acquire().await?, &row.invoice_id, now, now + COLLECTION_LEASE_MS)
                .await?;
        // Another worker holds this one and is charging it right now.
        let Some(row) = claimed else { continue };
        let Some(invoice) = still_due(db, &row, now).await? else { continue };
        let attempt = attempt_charge(db, collector, &invoice, key.map(str::to_owned), "customer", now).await?;
        match &attempt {
            Attempt::Failed(_) => after_failure(db, collector, &row, &invoice, &attempt, false, now).await?,
            Attempt::NoPaymentMethod | Attempt::Later(_) => {
                collections::release(&mut *db.pool.acquire().await?, &row.invoice_id).await?
            }
            Attempt::Paid | Attempt::NotDue => {}
        }
        results.push(RetryResult { invoice_id: invoice.id.clone(), attempt });
    }
    Ok(results)
}

/// Moves the subscription if the move is legal from where it stands; otherwise leaves it (a
/// subscription canceled by its owner is not brought back by a payment).
async fn move_subscription(
    conn: &mut AnyConnection,
    invoice: &InvoiceRow,
    to: SubscriptionStatus,
    cause: &str,
    now: i64,
) -> Result<bool, Error> {
    let subscription_id = invoice.subscription_id.as_str();
    let Some(from) = subscriptions::status_of(conn, subscription_id).await? else { return Ok(false) };
    if from == to || transition(from, to).is_err() {
        return Ok(false);
    }
    let cause = subscriptions::TransitionCause { cause, actor: "dunning", at: now };
    move_status(conn, &invoice.organization_id, subscription_id, (from, to), &cause).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_generation_of_a_key_names_the_attempt_and_a_new_number() {
        assert_eq!(next_key_generation("in_1:first"), "in_1:first:gen2");
        assert_eq!(next_key_generation("in_1:first:gen2"), "in_1:first:gen3");
        assert_eq!(next_key_generation("in_1:day-3:gen9"), "in_1:day-3:gen10");
        assert_eq!(next_key_generation("in_1:method-pm_gen"), "in_1:method-pm_gen:gen2");
    }
}
