//! The customer's payment method: the processor's customer behind each organization, the
//! test-mode card form, and "Pay now".
use app::api::error::AppError;
use serde_json::json;

use crate::accounts::db::audit::{AuditEntry, append_audit};
use crate::accounts::db::organizations::find_organization;
use crate::error::Error;
use crate::payments::channel::SetupStart;
use crate::payments::channel::test_mode::AttachError;
use crate::payments::collection::{Collector, RetryResult, retry_now};
use crate::payments::db::attempts;
use crate::payments::domain::test_cards::test_card;
use crate::payments::processor_events::process_event;
use crate::store::Db;

const MAX_CARD_INPUT_LEN: usize = 32;

/// The processor's customer for the organization, created and stored on first use.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn ensure_profile(db: &Db, collector: &Collector, organization_id: &str) -> Result<String, Error> {
    let mut conn = db.pool.acquire().await?;
    if let Some(profile) = attempts::profile_of(&mut conn, organization_id).await? {
        return Ok(profile.customer_id);
    }
    let org = find_organization(&mut conn, organization_id).await?.ok_or(AppError::NotFound)?;
    drop(conn);
    let customer = collector.channel.ensure_customer(organization_id, &org.billing_email).await?;
    let now = db.clock.now_ms();
    let mut conn = db.pool.acquire().await?;
    attempts::insert_profile(&mut conn, organization_id, collector.channel_name, &customer, now).await?;
    // Two first uses at once: both stored the same customer, the first row stands.
    Ok(attempts::profile_of(&mut conn, organization_id).await?.map_or(customer, |p| p.customer_id))
}

pub struct CardForm<'a> {
    pub number: &'a str,
    pub exp_month: &'a str,
    pub exp_year: &'a str,
}

/// The test-mode card form: the card is attached by the test processor, whose events then run
/// through the webhook pipeline at once (new default method, immediate retry of what is owed).
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn add_test_card(
    db: &Db,
    collector: &Collector,
    actor: &str,
    organization_id: &str,
    form: &CardForm<'_>,
) -> Result<(), Error> {
    let test_mode = collector
        .test_mode
        .as_ref()
        .ok_or_else(|| AppError::conflict("number", "cards are entered on the processor's page, not here"))?;
    if form.number.len() > MAX_CARD_INPUT_LEN {
        return Err(AppError::invalid("number", "is too long").into());
    }
    // Checked before anything is stored, so a refused card leaves no trace.
    test_card(form.number).map_err(|e| AppError::invalid("number", e.to_string()))?;
    let exp_month: i64 = form
        .exp_month
        .trim()
        .parse()
        .ok()
        .filter(|m| (1..=12).contains(m))
        .ok_or_else(|| AppError::invalid("exp_month", "must be a month number 1-12"))?;
    let exp_year: i64 =
        form.exp_year.trim().parse().map_err(|_| AppError::invalid("exp_year", "must be a year such as 2030"))?;
    let customer = ensure_profile(db, collector, organization_id).await?;
    let events = test_mode.attach_card(&customer, form.number, exp_month, exp_year).await.map_err(|e| match e {
        AttachError::Card(card) => AppError::invalid("number", card.to_string()).into(),
        AttachError::Expiry => AppError::invalid("exp_year", e.to_string()).into(),
        AttachError::Store(error) => error,
    })?;
    let now = db.clock.now_ms();
    let mut conn = db.pool.acquire().await?;
    let audit = AuditEntry {
        organization_id: Some(organization_id),
        actor,
        action: "payment_method.update",
        target: organization_id,
        before: None,
        after: Some(json!({ "channel": collector.channel_name })),
        reason: None,
    };
    append_audit(&mut conn, audit, now).await?;
    drop(conn);
    for event in events {
        process_event(db, collector, &event, now).await?;
    }
    Ok(())
}

/// The processor's hosted page where the owner adds a card (Stripe Checkout in setup mode).
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn start_setup(
    db: &Db,
    collector: &Collector,
    organization_id: &str,
    return_url: &str,
) -> Result<String, Error> {
    if collector.test_mode.is_some() {
        return Err(AppError::conflict("channel", "cards are entered in the portal's form").into());
    }
    let customer = ensure_profile(db, collector, organization_id).await?;
    match collector.channel.start_setup(&customer, return_url).await? {
        SetupStart::Redirect(url) => Ok(url),
        SetupStart::InPortalForm => Err(AppError::conflict("channel", "cards are entered in the portal's form").into()),
    }
}

/// "Pay now": every invoice the organization owes, charged at once with the method on file.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn pay_now(
    db: &Db,
    collector: &Collector,
    actor: &str,
    organization_id: &str,
) -> Result<Vec<RetryResult>, Error> {
    let mut conn = db.pool.acquire().await?;
    let has_method =
        attempts::profile_of(&mut conn, organization_id).await?.is_some_and(|p| p.payment_method_id.is_some());
    if !has_method {
        return Err(AppError::conflict("payment_method", "add a payment method first").into());
    }
    let now = db.clock.now_ms();
    let audit = AuditEntry {
        organization_id: Some(organization_id),
        actor,
        action: "payment.pay_now",
        target: organization_id,
        before: None,
        after: None,
        reason: None,
    };
    append_audit(&mut conn, audit, now).await?;
    drop(conn);
    retry_now(db, collector, organization_id, None, now).await
}
