//! Billing's webhook events: what an invoice or subscription event tells the customer's endpoint.
//! Amounts are exact minor units of `currency`.
use serde_json::{Value, json};

use crate::billing::db::invoices::InvoiceRow;
use crate::shared::time::display_rfc3339;
use crate::webhooks::domain::event_types::SUBSCRIPTION_UPDATED;
use crate::webhooks::events::Announcement;

/// An event about an invoice: its identity and period, and `extra` fields of the event's own.
pub fn invoice_event(
    event_type: &'static str,
    reference: &str,
    invoice: &InvoiceRow,
    number: &str,
    extra: Value,
) -> Announcement {
    let mut data = json!({
        "invoice_id": invoice.id,
        "number": number,
        "subscription_id": invoice.subscription_id,
        "currency": invoice.currency,
        "period_start": display_rfc3339(invoice.period_start),
        "period_end": display_rfc3339(invoice.period_end),
    });
    merge(&mut data, extra);
    Announcement { organization_id: invoice.organization_id.clone(), event_type, reference: reference.to_owned(), data }
}

/// Which subscription changed and why, in words an integrator can switch on: `plan_changed`,
/// `cancellation_scheduled`, `cancellation_withdrawn`, or the dunning step's cause.
pub struct SubscriptionChange<'a> {
    pub organization_id: &'a str,
    pub subscription_id: &'a str,
    pub cause: &'a str,
}

/// `subscription.updated`: the status after the change and `extra` fields of the change's own.
pub fn subscription_event(change: &SubscriptionChange<'_>, status: &str, extra: Value, now: i64) -> Announcement {
    let mut data = json!({
        "subscription_id": change.subscription_id,
        "status": status,
        "change": change.cause,
    });
    merge(&mut data, extra);
    Announcement {
        organization_id: change.organization_id.to_owned(),
        event_type: SUBSCRIPTION_UPDATED,
        reference: format!("{}:{}:{now}", change.subscription_id, change.cause),
        data,
    }
}

fn merge(data: &mut Value, extra: Value) {
    if let (Some(fields), Value::Object(more)) = (data.as_object_mut(), extra) {
        fields.extend(more);
    }
}
