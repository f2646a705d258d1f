//! The Pay page: a payment the card holder's bank asked them to confirm (3-D Secure), completed
//! on-session on the same PaymentIntent. In test mode the portal shows the bank's step itself
//! (approve or fail); with Stripe, Stripe.js confirms the PaymentIntent in the browser. Either
//! way the outcome arrives as the processor's event and settles the attempt like any other, so
//! the invoice, dunning, the subscription and the receipt follow from the one success.
use app::api::dto::payments::{CardView, PayPage, PayStep};
use app::api::error::AppError;
use serde_json::json;

use crate::accounts::db::audit::{AuditEntry, append_audit};
use crate::billing::db::invoices::{self, InvoiceRow};
use crate::billing::domain::invoice::InvoiceStatus;
use crate::error::Error;
use crate::payments::collection::Collector;
use crate::payments::db::attempts::{self, PaymentRow};
use crate::payments::processor_events::process_event;
use crate::payments::views::card_on_file;
use crate::shared::money::format_money;
use crate::store::Db;

/// What the Pay page shows: the payment waiting for the card holder and how they confirm it.
/// `publishable_key` is Stripe's key for Stripe.js, set with the Stripe channel.
#[tracing::instrument(skip_all, fields(organization_id, invoice_id))]
pub async fn pay_page(
    db: &Db,
    collector: &Collector,
    publishable_key: Option<&str>,
    organization_id: &str,
    invoice_id: &str,
) -> Result<PayPage, Error> {
    let (invoice, waiting, card) = read_invoice(db, organization_id, invoice_id).await?;
    let step = match (invoice.status()?, waiting) {
        (InvoiceStatus::Paid, _) => PayStep::Paid,
        (InvoiceStatus::Open | InvoiceStatus::Uncollectible, Some(payment)) => match collector.test_mode {
            Some(_) => PayStep::TestAuthentication,
            None => stripe_step(collector, publishable_key, &payment).await?,
        },
        _ => PayStep::NothingToConfirm,
    };
    Ok(PayPage {
        invoice_id: invoice.id.clone(),
        invoice_number: invoice.number.clone().unwrap_or_else(|| invoice.id.clone()),
        amount_due: format_money(invoice.amount_due_minor, &invoice.currency),
        card,
        step,
        notice: None,
    })
}

/// What Stripe.js confirms the waiting PaymentIntent with.
async fn stripe_step(
    collector: &Collector,
    publishable_key: Option<&str>,
    payment: &PaymentRow,
) -> Result<PayStep, Error> {
    let intent = payment.processor_payment_id.as_deref().unwrap_or_default();
    let client_secret = collector
        .channel
        .client_secret(intent)
        .await?
        .ok_or_else(|| Error::Processor(format!("{intent} has no client secret")))?;
    let publishable_key =
        publishable_key.ok_or_else(|| Error::Config("STRIPE_PUBLISHABLE_KEY is needed to confirm payments".into()))?;
    Ok(PayStep::Stripe {
        publishable_key: publishable_key.to_owned(),
        client_secret,
        payment_method_id: payment.payment_method_id.clone(),
    })
}

/// Test mode's bank step: approving completes the waiting PaymentIntent, failing leaves it
/// waiting (dunning goes on, and the card holder may try again). The processor's event is
/// processed at once, so the answer already shows the invoice paid.
#[tracing::instrument(skip_all, fields(organization_id, invoice_id))]
pub async fn confirm_test_payment(
    db: &Db,
    collector: &Collector,
    actor: &str,
    organization_id: &str,
    invoice_id: &str,
    approve: bool,
) -> Result<PayPage, Error> {
    let test_mode = collector
        .test_mode
        .as_ref()
        .ok_or_else(|| AppError::conflict("outcome", "the card holder confirms with their bank through Stripe"))?;
    let (invoice, waiting, _) = read_invoice(db, organization_id, invoice_id).await?;
    if !matches!(invoice.status()?, InvoiceStatus::Open | InvoiceStatus::Uncollectible) {
        return Err(AppError::conflict("invoice_id", "is not waiting for a payment").into());
    }
    let payment = waiting.ok_or_else(|| AppError::conflict("invoice_id", "has no payment waiting for confirmation"))?;
    let intent = payment.processor_payment_id.as_deref().unwrap_or_default();
    let event = test_mode.authenticate(intent, invoice_id, approve).await?;
    let now = db.clock.now_ms();
    let audit = AuditEntry {
        organization_id: Some(organization_id),
        actor,
        action: if approve { "payment.authentication_approved" } else { "payment.authentication_failed" },
        target: &payment.id,
        before: None,
        after: Some(json!({ "invoice_id": invoice_id, "payment_intent": intent })),
        reason: None,
    };
    append_audit(&mut *db.pool.acquire().await?, audit, now).await?;
    if let Some(event) = event {
        process_event(db, collector, &event, now).await?;
    }
    let mut page = pay_page(db, collector, None, organization_id, invoice_id).await?;
    if !approve {
        page.notice = Some("The payment was not confirmed, and nothing was charged. You can try again.".into());
    }
    Ok(page)
}

/// The organization's invoice (a draft is not shown), its latest attempt when that one waits for
/// the card holder, and the card on file.
async fn read_invoice(
    db: &Db,
    organization_id: &str,
    invoice_id: &str,
) -> Result<(InvoiceRow, Option<PaymentRow>, Option<CardView>), Error> {
    let mut conn = db.pool.acquire().await?;
    let invoice = invoices::invoice(&mut conn, invoice_id)
        .await?
        .filter(|i| i.organization_id == organization_id && i.status().is_ok_and(|s| s != InvoiceStatus::Draft))
        .ok_or(AppError::NotFound)?;
    let latest = attempts::payments_of_invoice(&mut conn, invoice_id).await?.into_iter().max_by_key(|p| p.attempt);
    let card = attempts::profile_of(&mut conn, organization_id).await?.and_then(card_on_file);
    Ok((invoice, latest.filter(PaymentRow::awaits_authentication), card))
}
