//! Reconciliation with the processor: webhooks get lost, so once a day (and on `server reconcile
//! --processor`) the processor's own records since the last check are read back. Events missing
//! from the inbox are stored there and applied by the same handlers as delivered ones; then every
//! charge the processor made is compared with our payments, and one we cannot account for (made
//! outside the portal, a different amount, a second charge for one attempt, a success we record
//! as otherwise) is a discrepancy for staff.
use crate::billing::domain::period::instant;
use crate::error::Error;
use crate::payments::channel::{ProcessorCharge, ProcessorCustomer};
use crate::payments::collection::{COLLECTION_LEASE_MS, Collector};
use crate::payments::db::attempts::{self, PaymentRow};
use crate::payments::db::processor_checks::{self, FinishedCheck};
use crate::payments::db::stripe_events::{ReceivedEvent, insert_event};
use crate::payments::domain::status::PaymentStatus;
use crate::payments::processor_events::{handles, process_inbox};
use crate::shared::ids::{IdKind, new_id};
use crate::shared::money::format_money;
use crate::store::Db;

/// Each check reads again what happened while the previous one ran, and a little before.
const OVERLAP_MS: i64 = 3_600_000;
/// The first check reaches back as far as Stripe keeps events.
const FIRST_LOOKBACK_MS: i64 = 30 * 86_400_000;
/// A pending attempt younger than this may still be in a collection pass's hands (its lease).
const IN_FLIGHT_MS: i64 = COLLECTION_LEASE_MS;
/// Discrepancy lines a check keeps in its record; the command prints them all.
const DETAIL_LINES: usize = 20;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProcessorCheck {
    pub since: i64,
    pub events_recovered: usize,
    pub charges_checked: usize,
    pub discrepancies: Vec<String>,
}

/// The day's check, run by the first instance that claims it; None when it already ran today.
pub async fn run_daily_check(db: &Db, collector: &Collector, now: i64) -> Result<Option<ProcessorCheck>, Error> {
    let id = format!("day-{}", instant(now).date());
    check_processor(db, collector, &id, now).await
}

/// A check run by hand: always runs.
pub async fn run_check_now(db: &Db, collector: &Collector, now: i64) -> Result<ProcessorCheck, Error> {
    let id = new_id(IdKind::ReconcileRun, now);
    check_processor(db, collector, &id, now).await?.ok_or_else(|| Error::Corrupt(format!("check {id} taken")))
}

#[tracing::instrument(skip_all, fields(check = id))]
async fn check_processor(db: &Db, collector: &Collector, id: &str, now: i64) -> Result<Option<ProcessorCheck>, Error> {
    let mut conn = db.pool.acquire().await?;
    let since = processor_checks::last_finished_start(&mut conn)
        .await?
        .map_or(now - FIRST_LOOKBACK_MS, |start| start - OVERLAP_MS);
    if !processor_checks::claim_check(&mut conn, id, now, since).await? {
        return Ok(None);
    }
    drop(conn);
    let mut check = ProcessorCheck { since, ..ProcessorCheck::default() };
    // Page by page, however many there are: nothing older is left out, and memory stays one page.
    let mut after: Option<String> = None;
    loop {
        let page = collector.channel.events_page(since, after.as_deref()).await?;
        for event in page.items.iter().filter(|event| handles(&event.event_type)) {
            let received = ReceivedEvent {
                id: &event.id,
                event_type: &event.event_type,
                created: event.created,
                livemode: event.livemode,
                payload: &event.payload,
                received_at: now,
            };
            if insert_event(&mut *db.pool.acquire().await?, &received).await? {
                tracing::warn!(event = %event.id, r#type = %event.event_type, "event never delivered; recovered from the processor");
                check.events_recovered += 1;
            }
        }
        let Some(next) = page.next else { break };
        after = Some(next);
    }
    if check.events_recovered > 0 {
        process_inbox(db, collector, now).await?;
    }
    let mut after: Option<String> = None;
    loop {
        let page = collector.channel.charges_page(since, after.as_deref()).await?;
        for charge in &page.items {
            check.charges_checked += 1;
            if let Some(problem) = discrepancy(db, charge, now).await? {
                check.discrepancies.push(problem);
            }
        }
        let Some(next) = page.next else { break };
        after = Some(next);
    }
    let mut after: Option<String> = None;
    loop {
        let page = collector.channel.customers_page(after.as_deref()).await?;
        for customer in &page.items {
            if let Some(problem) = method_discrepancy(db, collector.channel_name, customer).await? {
                check.discrepancies.push(problem);
            }
        }
        let Some(next) = page.next else { break };
        after = Some(next);
    }
    let detail = check.discrepancies.iter().take(DETAIL_LINES).cloned().collect::<Vec<_>>().join("\n");
    let finished = FinishedCheck {
        finished_at: db.clock.now_ms(),
        events_recovered: check.events_recovered as i64,
        charges_checked: check.charges_checked as i64,
        discrepancies: check.discrepancies.len() as i64,
        detail: &detail,
    };
    processor_checks::finish_check(&mut *db.pool.acquire().await?, id, &finished).await?;
    Ok(Some(check))
}

/// What is wrong with a charge the processor made, from our payments' point of view.
async fn discrepancy(db: &Db, charge: &ProcessorCharge, now: i64) -> Result<Option<String>, Error> {
    let mut conn = db.pool.acquire().await?;
    // By the charge's own id first: a second charge for one attempt is recorded as its own attempt.
    let by_processor_id = attempts::payment_by_processor_id(&mut conn, &charge.processor_payment_id).await?;
    let ours: Option<PaymentRow> = match (by_processor_id, &charge.payment_id) {
        (Some(payment), _) => Some(payment),
        (None, Some(payment_id)) => attempts::payment(&mut conn, payment_id).await?,
        (None, None) => None,
    };
    let pi = &charge.processor_payment_id;
    let amount = format_money(charge.amount_minor, &charge.currency);
    let Some(payment) = ours else {
        let customer = charge.customer_id.as_deref().unwrap_or("no customer");
        return Ok(Some(format!("charge {pi} of {amount} ({customer}) matches no payment of ours")));
    };
    let id = &payment.id;
    if payment.amount_minor != charge.amount_minor || !payment.currency.eq_ignore_ascii_case(&charge.currency) {
        let ours = format_money(payment.amount_minor, &payment.currency);
        return Ok(Some(format!("charge {pi} of {amount}: payment {id} asked for {ours}")));
    }
    if let Some(recorded) = payment.processor_payment_id.as_deref().filter(|recorded| recorded != pi) {
        return Ok(Some(format!("charge {pi} of {amount} is a second charge for payment {id} (recorded: {recorded})")));
    }
    let status = payment.status()?;
    // An attempt a collection pass is still making: its answer is recorded when the call returns.
    if status == PaymentStatus::Pending && payment.updated_at > now - IN_FLIGHT_MS {
        return Ok(None);
    }
    if status != PaymentStatus::Succeeded {
        return Ok(Some(format!("charge {pi} of {amount} succeeded; payment {id} is {}", payment.status)));
    }
    Ok(None)
}

/// A customer whose default method at the processor is not the one we would charge: a change
/// whose event is older than the processor keeps, or one made in its dashboard.
async fn method_discrepancy(db: &Db, channel: &str, customer: &ProcessorCustomer) -> Result<Option<String>, Error> {
    let mut conn = db.pool.acquire().await?;
    let Some(profile) = attempts::profile_by_customer(&mut conn, channel, &customer.customer_id).await? else {
        return Ok(None);
    };
    if profile.payment_method_id == customer.default_payment_method {
        return Ok(None);
    }
    let name = |method: &Option<String>| method.clone().unwrap_or_else(|| "none".to_owned());
    Ok(Some(format!(
        "customer {} ({}): the processor's default payment method is {}, ours is {}",
        customer.customer_id,
        profile.organization_id,
        name(&customer.default_payment_method),
        name(&profile.payment_method_id)
    )))
}
