//! The built-in test-mode processor, used when no Stripe key is configured: it keeps cards and
//! charges in its own tables, follows Stripe's test cards, and reports what happened as
//! Stripe-shaped events into the same webhook inbox, so the product runs the same code paths
//! offline as with Stripe.
use async_trait::async_trait;
use serde_json::{Value, json};

use super::{
    ChannelError, ChargeOutcome, ChargeRequest, ListPage, ListedEvent, PaymentChannel, PaymentFailure, ProcessorCharge,
    ProcessorCustomer, SetupStart,
};
use crate::error::Error;
use crate::payments::db::stripe_events::{ReceivedEvent, insert_event};
use crate::payments::db::test_mode::{self, TestChargeRow, TestPaymentMethodRow};
use crate::payments::domain::card::CardDetails;
use crate::payments::domain::test_cards::{
    AUTHENTICATION_FAILED, AUTHENTICATION_REQUIRED, CardBehaviour, CardError, test_card,
};
use crate::shared::ids::{IdKind, new_id};
use crate::store::Db;

pub struct TestModeChannel {
    db: Db,
    /// How long the simulated processor takes to answer a charge it has already made: a demo of
    /// a slow processor, and the window in which the crash tests kill the server.
    answer_latency: std::time::Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("card number {0}")]
    Card(#[from] CardError),
    #[error("expiry must be a month 1-12 and a year from this year on")]
    Expiry,
    #[error(transparent)]
    Store(#[from] Error),
}

impl TestModeChannel {
    pub fn new(db: Db, answer_latency: std::time::Duration) -> Self {
        Self { db, answer_latency }
    }

    /// What Stripe.js and a SetupIntent do for a real card: the card is attached to the customer,
    /// then `payment_method.attached` and `setup_intent.succeeded` are delivered. Answers the
    /// stored events' ids, in delivery order.
    pub async fn attach_card(
        &self,
        customer_id: &str,
        number: &str,
        exp_month: i64,
        exp_year: i64,
    ) -> Result<Vec<String>, AttachError> {
        let card = test_card(number)?;
        let now = self.db.clock.now_ms();
        let this_year = crate::billing::domain::period::instant(now).year() as i64;
        if !(1..=12).contains(&exp_month) || !(this_year..=this_year + 50).contains(&exp_year) {
            return Err(AttachError::Expiry);
        }
        let method = TestPaymentMethodRow {
            id: new_id(IdKind::TestPaymentMethod, now),
            customer_id: customer_id.to_owned(),
            card_number_last4: card.last4.clone(),
            behaviour: card.behaviour.as_str().to_owned(),
            brand: card.brand.to_owned(),
            exp_month,
            exp_year,
            created_at: now,
        };
        let mut tx = self.db.begin().await.map_err(Error::from)?;
        test_mode::insert_payment_method(&mut tx, &method).await?;
        let setup_intent = format!("seti_test_{}", &method.id["pm_test_".len()..]);
        let attached = emit(&mut tx, now, "payment_method.attached", payment_method_object(&method)).await?;
        let succeeded = emit(
            &mut tx,
            now,
            "setup_intent.succeeded",
            json!({
                "id": setup_intent,
                "object": "setup_intent",
                "customer": customer_id,
                "payment_method": method.id,
                "status": "succeeded",
                "usage": "off_session",
                "livemode": false,
            }),
        )
        .await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(vec![attached, succeeded])
    }

    /// The simulated authentication step of a PaymentIntent that needs the card holder, as
    /// Stripe's test page for the 3155 card offers it: approving completes the same PaymentIntent
    /// on-session (`payment_intent.succeeded`), failing leaves it waiting for another try
    /// (`payment_intent.payment_failed`). Answers the stored event's id, None when the
    /// PaymentIntent had already succeeded (a second approval charges nothing).
    pub async fn authenticate(
        &self,
        payment_intent_id: &str,
        invoice_id: &str,
        approve: bool,
    ) -> Result<Option<String>, ChannelError> {
        let now = self.db.clock.now_ms();
        let mut tx = self.db.begin().await.map_err(Error::from)?;
        let charge = test_mode::charge_by_intent(&mut tx, payment_intent_id)
            .await?
            .ok_or_else(|| ChannelError::Refused(format!("no such payment: {payment_intent_id}")))?;
        if charge.status == "succeeded" {
            return Ok(None);
        }
        if !matches!(charge.failure_code.as_deref(), Some(AUTHENTICATION_REQUIRED | AUTHENTICATION_FAILED)) {
            return Err(ChannelError::Refused(format!("{payment_intent_id} does not wait for authentication")));
        }
        let failure = (!approve).then_some((AUTHENTICATION_FAILED, "The card holder did not confirm the payment."));
        if !test_mode::settle_authentication(&mut tx, payment_intent_id, failure).await? {
            return Ok(None);
        }
        let settled = test_mode::charge_by_intent(&mut tx, payment_intent_id)
            .await?
            .ok_or_else(|| Error::Corrupt(format!("test charge {payment_intent_id} vanished")))?;
        let kind = if approve { "payment_intent.succeeded" } else { "payment_intent.payment_failed" };
        let event = emit(&mut tx, now, kind, payment_intent_object(&settled, invoice_id, Session::On)).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(Some(event))
    }
}

#[async_trait]
impl PaymentChannel for TestModeChannel {
    async fn ensure_customer(&self, organization_id: &str, _billing_email: &str) -> Result<String, ChannelError> {
        Ok(format!("cus_test_{organization_id}"))
    }

    async fn charge(&self, request: &ChargeRequest<'_>) -> Result<ChargeOutcome, ChannelError> {
        let now = self.db.clock.now_ms();
        let mut tx = self.db.begin().await.map_err(Error::from)?;
        let method = test_mode::payment_method(&mut tx, request.payment_method_id)
            .await?
            .filter(|m| m.customer_id == request.customer_id)
            .ok_or_else(|| ChannelError::Refused(format!("no such payment method: {}", request.payment_method_id)))?;
        let behaviour = CardBehaviour::parse(&method.behaviour)
            .ok_or_else(|| Error::Corrupt(format!("test card behaviour {}", method.behaviour)))?;
        let failure = behaviour.charge_failure();
        let attempt = TestChargeRow {
            idempotency_key: request.idempotency_key.to_owned(),
            payment_intent_id: new_id(IdKind::TestPaymentIntent, now),
            customer_id: request.customer_id.to_owned(),
            payment_method_id: Some(method.id.clone()),
            amount_minor: request.amount_minor,
            currency: request.currency.to_owned(),
            status: if failure.is_some() { "requires_payment_method" } else { "succeeded" }.to_owned(),
            failure_code: failure.map(|f| f.0.to_owned()),
            failure_message: failure.map(|f| f.1.to_owned()),
            created_at: now,
            payment_id: Some(request.payment_id.to_owned()),
        };
        let (charge, new) = test_mode::insert_charge(&mut tx, &attempt).await?;
        if new {
            let kind =
                if charge.status == "succeeded" { "payment_intent.succeeded" } else { "payment_intent.payment_failed" };
            let object = payment_intent_object(&charge, request.invoice_id, Session::Off);
            emit(&mut tx, now, kind, object).await?;
        }
        tx.commit().await.map_err(Error::from)?;
        tokio::time::sleep(self.answer_latency).await;
        Ok(outcome_of(&charge))
    }

    async fn refund(
        &self,
        processor_payment_id: &str,
        amount_minor: i64,
        idempotency_key: &str,
    ) -> Result<String, ChannelError> {
        let now = self.db.clock.now_ms();
        let mut tx = self.db.begin().await.map_err(Error::from)?;
        let charge = test_mode::charge_by_intent(&mut tx, processor_payment_id)
            .await?
            .ok_or_else(|| ChannelError::Refused(format!("no such payment: {processor_payment_id}")))?;
        let refund_id = new_id(IdKind::TestRefund, now);
        let refunded =
            test_mode::insert_refund(&mut tx, idempotency_key, &refund_id, processor_payment_id, amount_minor, now)
                .await?
                .ok_or_else(|| ChannelError::Refused("the refund is more than what is left of the payment".into()))?;
        let (refund_id, total, new) = refunded;
        if new {
            emit(&mut tx, now, "charge.refunded", refunded_charge_object(&charge, total)).await?;
        }
        tx.commit().await.map_err(Error::from)?;
        Ok(refund_id)
    }

    async fn payment_state(&self, processor_payment_id: &str) -> Result<ChargeOutcome, ChannelError> {
        let mut conn = self.db.pool.acquire().await.map_err(Error::from)?;
        let charge = test_mode::charge_by_intent(&mut conn, processor_payment_id)
            .await?
            .ok_or_else(|| ChannelError::Refused(format!("no such payment: {processor_payment_id}")))?;
        Ok(outcome_of(&charge))
    }

    async fn find_payment(&self, payment_id: &str) -> Result<Option<ChargeOutcome>, ChannelError> {
        let mut conn = self.db.pool.acquire().await.map_err(Error::from)?;
        let charges = test_mode::charges_of_payment(&mut conn, payment_id).await?;
        Ok(charges.first().map(outcome_of))
    }

    /// None to recover: this processor writes each event into the inbox in the transaction of
    /// what it reports, so none can be lost on the way.
    async fn events_page(&self, _since_ms: i64, _after: Option<&str>) -> Result<ListPage<ListedEvent>, ChannelError> {
        Ok(ListPage { items: Vec::new(), next: None })
    }

    /// Test mode's charges are rows of this database: all of them in one page.
    async fn charges_page(
        &self,
        since_ms: i64,
        _after: Option<&str>,
    ) -> Result<ListPage<ProcessorCharge>, ChannelError> {
        let mut conn = self.db.pool.acquire().await.map_err(Error::from)?;
        let charges = test_mode::succeeded_charges_since(&mut conn, since_ms).await?;
        let items = charges
            .into_iter()
            .map(|charge| ProcessorCharge {
                processor_payment_id: charge.payment_intent_id,
                payment_id: charge.payment_id,
                amount_minor: charge.amount_minor,
                currency: charge.currency.to_uppercase(),
                customer_id: Some(charge.customer_id),
            })
            .collect();
        Ok(ListPage { items, next: None })
    }

    /// Test mode's customers are the payment profiles themselves: nothing to compare.
    async fn customers_page(&self, _after: Option<&str>) -> Result<ListPage<ProcessorCustomer>, ChannelError> {
        Ok(ListPage { items: Vec::new(), next: None })
    }

    /// The portal shows test mode's authentication step itself.
    async fn client_secret(&self, _processor_payment_id: &str) -> Result<Option<String>, ChannelError> {
        Ok(None)
    }

    async fn start_setup(&self, _customer_id: &str, _return_url: &str) -> Result<SetupStart, ChannelError> {
        Ok(SetupStart::InPortalForm)
    }

    async fn payment_method(&self, payment_method_id: &str) -> Result<CardDetails, ChannelError> {
        let mut conn = self.db.pool.acquire().await.map_err(Error::from)?;
        let method = test_mode::payment_method(&mut conn, payment_method_id)
            .await?
            .ok_or_else(|| ChannelError::Refused(format!("no such payment method: {payment_method_id}")))?;
        Ok(CardDetails {
            payment_method_id: method.id,
            brand: method.brand,
            last4: method.card_number_last4,
            exp_month: method.exp_month,
            exp_year: method.exp_year,
        })
    }
}

fn outcome_of(charge: &TestChargeRow) -> ChargeOutcome {
    match (&charge.failure_code, &charge.failure_message) {
        (Some(code), Some(message)) => ChargeOutcome::Failed {
            processor_payment_id: Some(charge.payment_intent_id.clone()),
            failure: PaymentFailure { code: code.clone(), message: message.clone() },
        },
        _ => ChargeOutcome::Succeeded { processor_payment_id: charge.payment_intent_id.clone() },
    }
}

fn payment_method_object(method: &TestPaymentMethodRow) -> Value {
    json!({
        "id": method.id,
        "object": "payment_method",
        "type": "card",
        "customer": method.customer_id,
        "card": {
            "brand": method.brand,
            "last4": method.card_number_last4,
            "exp_month": method.exp_month,
            "exp_year": method.exp_year,
            "funding": "credit",
            "country": "US",
        },
        "created": method.created_at / 1000,
        "livemode": false,
    })
}

/// Whether the card holder was present when the PaymentIntent was confirmed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Session {
    Off,
    On,
}

fn payment_intent_object(charge: &TestChargeRow, invoice_id: &str, session: Session) -> Value {
    let last_payment_error = charge.failure_code.as_ref().map(|code| {
        let error_code = match code.as_str() {
            AUTHENTICATION_REQUIRED | AUTHENTICATION_FAILED => code.as_str(),
            _ => "card_declined",
        };
        json!({
            "type": if code == AUTHENTICATION_FAILED { "invalid_request_error" } else { "card_error" },
            "code": error_code,
            "decline_code": if code == AUTHENTICATION_FAILED { None } else { Some(code) },
            "message": charge.failure_message,
            "payment_method": { "id": charge.payment_method_id, "object": "payment_method", "type": "card" },
        })
    });
    json!({
        "id": charge.payment_intent_id,
        "object": "payment_intent",
        "amount": charge.amount_minor,
        "amount_received": if charge.status == "succeeded" { charge.amount_minor } else { 0 },
        "currency": charge.currency.to_lowercase(),
        "customer": charge.customer_id,
        "payment_method": charge.payment_method_id,
        "status": charge.status,
        "off_session": session == Session::Off,
        "confirm": true,
        "last_payment_error": last_payment_error,
        "metadata": { "invoice_id": invoice_id, "payment_id": charge.payment_id },
        "created": charge.created_at / 1000,
        "livemode": false,
    })
}

/// The charge behind a PaymentIntent, as `charge.refunded` carries it.
fn refunded_charge_object(charge: &TestChargeRow, refunded_total: i64) -> Value {
    json!({
        "id": format!("ch_test_{}", &charge.payment_intent_id["pi_test_".len()..]),
        "object": "charge",
        "amount": charge.amount_minor,
        "amount_captured": charge.amount_minor,
        "amount_refunded": refunded_total,
        "refunded": refunded_total == charge.amount_minor,
        "currency": charge.currency.to_lowercase(),
        "customer": charge.customer_id,
        "payment_intent": charge.payment_intent_id,
        "payment_method": charge.payment_method_id,
        "paid": true,
        "status": "succeeded",
        "created": charge.created_at / 1000,
        "livemode": false,
    })
}

/// Stores a Stripe-shaped event in the webhook inbox, as if Stripe had delivered it.
async fn emit(conn: &mut sqlx::AnyConnection, now: i64, kind: &str, object: Value) -> Result<String, Error> {
    let id = new_id(IdKind::TestEvent, now);
    let payload = json!({
        "id": id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": now / 1000,
        "data": { "object": object },
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": kind,
    })
    .to_string();
    let event = ReceivedEvent {
        id: &id,
        event_type: kind,
        created: now / 1000,
        livemode: false,
        payload: &payload,
        received_at: now,
    };
    insert_event(conn, &event).await?;
    Ok(id)
}
