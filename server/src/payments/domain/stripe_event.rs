//! Stripe's event payloads as typed structs: only the fields the inbox reads, each absent or null
//! where Stripe may leave it out, related objects as an id or expanded. The test-mode processor
//! writes the same shapes.
use std::collections::HashMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct StripeEvent {
    pub data: EventData,
}

#[derive(Debug, Deserialize)]
pub struct EventData {
    pub object: EventObject,
}

/// A PaymentIntent, Charge, SetupIntent, Customer or Checkout Session: the fields of each that an
/// event can carry, all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EventObject {
    pub id: Option<String>,
    pub object: Option<String>,
    pub metadata: Option<HashMap<String, String>>,
    pub payment_intent: Option<Related>,
    pub customer: Option<Related>,
    pub payment_method: Option<Related>,
    pub amount_refunded: Option<i64>,
    pub last_payment_error: Option<PaymentError>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub invoice_settings: Option<InvoiceSettings>,
    pub mode: Option<String>,
    pub amount: Option<i64>,
    pub currency: Option<String>,
    pub status: Option<String>,
    pub reason: Option<String>,
    pub evidence_details: Option<EvidenceDetails>,
    pub balance_transactions: Option<Vec<BalanceTransaction>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EvidenceDetails {
    pub due_by: Option<i64>,
}

/// A movement of the processor's balance a dispute caused: funds withdrawn (negative amount, a
/// positive fee) or reinstated (positive amount, a returned fee negative).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BalanceTransaction {
    pub id: String,
    pub amount: i64,
    #[serde(default)]
    pub fee: i64,
}

/// What the portal keeps of a Stripe dispute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeFacts<'a> {
    pub id: &'a str,
    pub amount_minor: i64,
    pub currency: &'a str,
    pub reason: &'a str,
    pub status: &'a str,
    /// Milliseconds.
    pub evidence_due_by: Option<i64>,
    pub balance_transactions: &'a [BalanceTransaction],
}

/// Stripe sends a related object as its id, or expanded as an object with an `id`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Related {
    Id(String),
    Expanded { id: String },
}

impl Related {
    pub fn id(&self) -> &str {
        match self {
            Self::Id(id) | Self::Expanded { id } => id,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PaymentError {
    pub code: Option<String>,
    pub decline_code: Option<String>,
    pub message: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct InvoiceSettings {
    pub default_payment_method: Option<Related>,
}

impl StripeEvent {
    pub fn parse(payload: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(payload)
    }
}

impl EventObject {
    fn is(&self, kind: &str) -> bool {
        self.object.as_deref() == Some(kind)
    }

    /// Our payment attempt's id, which every charge we create carries in its metadata.
    pub fn our_payment_id(&self) -> Option<&str> {
        self.metadata.as_ref()?.get("payment_id").map(String::as_str)
    }

    /// A PaymentIntent's own id, or the one a Charge or a Dispute belongs to.
    pub fn payment_intent_id(&self) -> Option<&str> {
        if self.is("charge") || self.is("dispute") {
            self.payment_intent.as_ref().map(Related::id)
        } else {
            self.id.as_deref()
        }
    }

    /// A Dispute's facts, or None when the object is not a complete dispute.
    pub fn dispute(&self) -> Option<DisputeFacts<'_>> {
        if !self.is("dispute") {
            return None;
        }
        Some(DisputeFacts {
            id: self.id.as_deref()?,
            amount_minor: self.amount?,
            currency: self.currency.as_deref()?,
            reason: self.reason.as_deref().unwrap_or("general"),
            status: self.status.as_deref()?,
            evidence_due_by: self.evidence_details.as_ref().and_then(|e| e.due_by).map(|s| s * 1000),
            balance_transactions: self.balance_transactions.as_deref().unwrap_or_default(),
        })
    }

    /// The processor's customer the object belongs to: a Customer is its own.
    pub fn customer_id(&self) -> Option<&str> {
        if self.is("customer") { self.id.as_deref() } else { self.customer.as_ref().map(Related::id) }
    }

    pub fn default_payment_method(&self) -> Option<&str> {
        self.invoice_settings.as_ref()?.default_payment_method.as_ref().map(Related::id)
    }

    pub fn is_setup_session(&self) -> bool {
        self.mode.as_deref() == Some("setup")
    }

    /// Why a payment failed: a PaymentIntent's last error (its decline code before its general
    /// code), else a Charge's failure fields.
    pub fn failure(&self) -> (&str, &str) {
        let error = self.last_payment_error.as_ref();
        let code = error
            .and_then(|e| e.decline_code.as_deref().or(e.code.as_deref()))
            .or(self.failure_code.as_deref())
            .unwrap_or("card_declined");
        let message = error
            .and_then(|e| e.message.as_deref())
            .or(self.failure_message.as_deref())
            .unwrap_or("The payment failed.");
        (code, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(payload: serde_json::Value) -> EventObject {
        StripeEvent::parse(&serde_json::json!({ "id": "evt_1", "data": { "object": payload } }).to_string())
            .expect("a Stripe event")
            .data
            .object
    }

    #[test]
    fn related_objects_are_read_as_ids_or_expanded() {
        let charge = object(
            serde_json::json!({ "object": "charge", "id": "ch_1", "payment_intent": { "id": "pi_1", "amount": 5 } }),
        );
        assert_eq!(charge.payment_intent_id(), Some("pi_1"));
        let intent = object(serde_json::json!({ "object": "payment_intent", "id": "pi_2", "customer": "cus_1" }));
        assert_eq!(intent.payment_intent_id(), Some("pi_2"));
        assert_eq!(intent.customer_id(), Some("cus_1"));
        let customer = object(serde_json::json!({ "object": "customer", "id": "cus_2",
            "invoice_settings": { "default_payment_method": { "id": "pm_1", "object": "payment_method" } } }));
        assert_eq!(customer.customer_id(), Some("cus_2"));
        assert_eq!(customer.default_payment_method(), Some("pm_1"));
    }

    #[test]
    fn absent_and_null_fields_read_as_none() {
        let bare = object(serde_json::json!({ "object": "payment_intent", "id": "pi_3", "metadata": null,
            "last_payment_error": null, "invoice_settings": { "default_payment_method": null } }));
        assert_eq!(bare.our_payment_id(), None);
        assert_eq!(bare.default_payment_method(), None);
        assert_eq!(bare.failure(), ("card_declined", "The payment failed."));
        assert!(!bare.is_setup_session());
    }

    #[test]
    fn a_failure_names_the_decline_code_first_then_the_charge_fields() {
        let intent = object(serde_json::json!({ "object": "payment_intent", "last_payment_error":
            { "code": "card_declined", "decline_code": "insufficient_funds", "message": "Your card has insufficient funds." } }));
        assert_eq!(intent.failure(), ("insufficient_funds", "Your card has insufficient funds."));
        let charge = object(serde_json::json!({ "object": "charge", "failure_code": "expired_card",
            "failure_message": "Your card has expired.", "metadata": { "payment_id": "pay_1" } }));
        assert_eq!(charge.failure(), ("expired_card", "Your card has expired."));
        assert_eq!(charge.our_payment_id(), Some("pay_1"));
    }

    #[test]
    fn a_dispute_is_read_with_its_intent_due_date_and_balance_movements() {
        let event = StripeEvent::parse(include_str!("../../../tests/fixtures/charge.dispute.created.json")).unwrap();
        let created = &event.data.object;
        assert_eq!(created.payment_intent_id(), Some("pi_3QdTjpLkdIwHu7ix0R4bA1tH"));
        let dispute = created.dispute().expect("a dispute");
        assert_eq!(
            (dispute.id, dispute.amount_minor, dispute.status),
            ("dp_1QdUa2LkdIwHu7ix0eX5dBzq", 96_500, "needs_response")
        );
        assert_eq!((dispute.reason, dispute.evidence_due_by), ("fraudulent", Some(1_796_169_599_000)));
        assert!(dispute.balance_transactions.is_empty());
        let withdrawn = object(serde_json::json!({ "object": "dispute", "id": "dp_1", "amount": 5, "currency": "usd",
            "status": "lost", "balance_transactions": [{ "id": "txn_1", "amount": -5, "fee": 1500, "net": -1505 }] }));
        assert_eq!(
            withdrawn.dispute().unwrap().balance_transactions,
            [BalanceTransaction { id: "txn_1".into(), amount: -5, fee: 1500 }]
        );
        assert!(object(serde_json::json!({ "object": "charge", "id": "ch_1" })).dispute().is_none());
    }

    #[test]
    fn a_payload_without_an_object_is_refused() {
        assert!(StripeEvent::parse(r#"{"id": "evt_1", "data": {}}"#).is_err());
        assert!(StripeEvent::parse("not json").is_err());
    }
}
