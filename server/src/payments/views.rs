//! What customers and staff see of payments: the card on file, the dunning banner with its
//! timeline, payment history, and the mail log.
use app::api::dto::SessionUser;
use app::api::dto::payments::{
    BillingStatus, CardView, DisputeView, NotificationView, ParkedEvent, PastDueInvoice, PaymentMethodPage,
    PaymentView, TimelineEntry,
};
use app::api::error::AppError;

use crate::billing::db::invoices;
use crate::billing::db::subscriptions::subscription_of;
use crate::billing::domain::subscription::SubscriptionStatus;
use crate::error::Error;
use crate::notifications::db::notifications_of;
use crate::payments::db::attempts::{self, PaymentProfileRow, PaymentRow};
use crate::payments::db::collections::{events_of, open_collections_of};
use crate::payments::db::disputes::DisputeRow;
use crate::payments::domain::dunning::{DAY_MS, DunningPolicy, DunningStep};
use crate::payments::domain::status::{CollectionStatus, PaymentStatus};
use crate::reader::{display_time, moment};
use crate::shared::money::format_money;
use crate::shared::time::duration_words;
use crate::store::Db;

/// [`billing_status`] as `viewer` sees it: a member's session says already whether anything of the
/// organization is past due, and when nothing is there is nothing more to read.
pub async fn billing_status_for(
    db: &Db,
    policy: &DunningPolicy,
    viewer: &SessionUser,
    organization_id: &str,
) -> Result<BillingStatus, Error> {
    let membership = viewer.memberships.iter().find(|m| m.organization_id == organization_id);
    match membership {
        Some(membership) if !membership.past_due => Ok(in_good_standing()),
        _ => billing_status(db, policy, organization_id).await,
    }
}

fn in_good_standing() -> BillingStatus {
    BillingStatus { suspended: false, past_due: Vec::new(), last_failure: None }
}

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn billing_status(db: &Db, policy: &DunningPolicy, organization_id: &str) -> Result<BillingStatus, Error> {
    let mut conn = db.pool.acquire().await?;
    let now = db.clock.now_ms();
    let mut past_due_collections = Vec::new();
    for collection in open_collections_of(&mut conn, organization_id).await? {
        if collection.status()? == CollectionStatus::PastDue {
            past_due_collections.push(collection);
        }
    }
    // Every page of the organization shows this banner: while nothing is past due it reads
    // nothing more, neither the subscription nor the history, which grows with every payment.
    if past_due_collections.is_empty() {
        return Ok(in_good_standing());
    }
    let suspended = subscription_of(&mut conn, organization_id)
        .await?
        .is_some_and(|s| s.status == SubscriptionStatus::Suspended.as_str());
    let events = events_of(&mut conn, organization_id).await?;
    let payments = attempts::payments_of(&mut conn, organization_id).await?;
    let mut past_due = Vec::new();
    for collection in past_due_collections {
        let invoice = invoices::invoice(&mut conn, &collection.invoice_id).await?.ok_or(AppError::NotFound)?;
        let started = collection.dunning_started_at.unwrap_or(collection.updated_at);
        let retries = matches!(policy.step(collection.dunning_step as usize), Some(DunningStep::Retry { .. }));
        let next_retry = retries.then(|| display_time(collection.next_run_at));
        let next_retry_in = retries.then(|| duration_words(now, collection.next_run_at));
        let suspends_at = policy.suspension_day().map(|day| started + i64::from(day) * DAY_MS);
        past_due.push(PastDueInvoice {
            invoice_id: invoice.id.clone(),
            number: invoice.number.clone().unwrap_or_else(|| invoice.id.clone()),
            amount_due: format_money(invoice.amount_due_minor, &invoice.currency),
            next_retry,
            next_retry_in,
            suspends_in_days: suspends_at
                .filter(|&at| !suspended && at > now)
                .map(|at| (at - now + DAY_MS - 1) / DAY_MS),
            cancels_on: Some(display_time(started + i64::from(policy.cancel_day()) * DAY_MS)),
            awaits_confirmation: payments
                .iter()
                .filter(|p| p.invoice_id == invoice.id)
                .max_by_key(|p| p.attempt)
                .is_some_and(PaymentRow::awaits_authentication),
            timeline: events
                .iter()
                .filter(|e| e.invoice_id == invoice.id)
                .map(|e| TimelineEntry { at: moment(e.at), kind: e.kind.clone(), detail: e.detail.clone() })
                .collect(),
        });
    }
    let last_failure = payments
        .iter()
        .find(|p| p.status().is_ok_and(|s| s != PaymentStatus::Pending))
        .filter(|p| p.status().is_ok_and(|s| s == PaymentStatus::Failed))
        .and_then(|p| p.failure_message.clone());
    Ok(BillingStatus { suspended, past_due, last_failure })
}

/// The card a profile charges, as the portal shows it.
pub fn card_on_file(profile: PaymentProfileRow) -> Option<CardView> {
    let expires = format!("{:02}/{}", profile.exp_month?, profile.exp_year?);
    Some(CardView { brand: profile.brand?, last4: profile.last4?, expires })
}

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn payment_method_page(
    db: &Db,
    policy: &DunningPolicy,
    test_mode: bool,
    organization_id: &str,
) -> Result<PaymentMethodPage, Error> {
    let status = billing_status(db, policy, organization_id).await?;
    let mut conn = db.pool.acquire().await?;
    let card = attempts::profile_of(&mut conn, organization_id).await?.and_then(card_on_file);
    drop(conn);
    let payments = organization_payments(db, organization_id).await?;
    Ok(PaymentMethodPage { card, test_mode, status, payments })
}

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn organization_payments(db: &Db, organization_id: &str) -> Result<Vec<PaymentView>, Error> {
    let mut conn = db.pool.acquire().await?;
    let rows = attempts::payments_of(&mut conn, organization_id).await?;
    payment_views(&mut conn, rows).await
}

/// Payment attempts with their invoice's number.
#[tracing::instrument(skip_all)]
pub async fn payment_views(conn: &mut sqlx::AnyConnection, rows: Vec<PaymentRow>) -> Result<Vec<PaymentView>, Error> {
    let mut views = Vec::with_capacity(rows.len());
    for row in rows {
        let number = invoices::invoice(conn, &row.invoice_id).await?.and_then(|i| i.number);
        views.push(PaymentView {
            id: row.id,
            refunded: (row.refunded_minor > 0).then(|| format_money(row.refunded_minor, &row.currency)),
            invoice_number: number.unwrap_or_else(|| row.invoice_id.clone()),
            invoice_id: row.invoice_id,
            attempt: row.attempt,
            amount: format_money(row.amount_minor, &row.currency),
            status: row.status,
            failure: row.failure_message,
            at: moment(row.updated_at),
            trigger: row.trigger,
        });
    }
    Ok(views)
}

#[tracing::instrument(skip_all, fields(invoice_id))]
pub async fn invoice_payments(conn: &mut sqlx::AnyConnection, invoice_id: &str) -> Result<Vec<PaymentView>, Error> {
    let rows = attempts::payments_of_invoice(conn, invoice_id).await?;
    payment_views(conn, rows).await
}

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn mail_log(db: &Db, organization_id: &str) -> Result<Vec<NotificationView>, Error> {
    let mut conn = db.pool.acquire().await?;
    Ok(notifications_of(&mut conn, organization_id)
        .await?
        .into_iter()
        .map(|n| NotificationView {
            at: moment(n.created_at),
            kind: n.kind,
            recipient: n.recipient,
            subject: n.subject,
            delivery: match (n.delivery, n.parked_at, n.last_error) {
                (Some(delivery), _, _) => Some(delivery),
                (None, Some(_), error) => Some(format!("not delivered: {}", error.unwrap_or_default())),
                (None, None, Some(error)) => Some(format!("trying again: {error}")),
                (None, None, None) => None,
            },
            body: n.body,
        })
        .collect())
}

#[tracing::instrument(skip_all)]
pub async fn parked_events(db: &Db) -> Result<Vec<ParkedEvent>, Error> {
    let mut conn = db.pool.acquire().await?;
    Ok(crate::payments::db::stripe_events::parked_events(&mut conn, 200)
        .await?
        .into_iter()
        .map(|e| ParkedEvent {
            id: e.id,
            event_type: e.event_type,
            attempts: e.attempts,
            last_error: e.last_error.unwrap_or_default(),
            received: moment(e.received_at),
        })
        .collect())
}

/// Disputes as staff and customers read them.
pub fn dispute_views(rows: Vec<DisputeRow>) -> Vec<DisputeView> {
    rows.into_iter()
        .map(|d| DisputeView {
            customer: d.organization_name,
            invoice: d.invoice_number.unwrap_or(d.invoice_id),
            amount: format_money(d.amount_minor, &d.currency.to_uppercase()),
            reason: d.reason.replace('_', " "),
            evidence_due: d
                .evidence_due_by
                .filter(|_| DISPUTE_AWAITS_EVIDENCE.contains(&d.status.as_str()))
                .map(moment),
            status: d.status.replace('_', " "),
            opened: moment(d.created_at),
            id: d.id,
        })
        .collect()
}

/// Statuses in which evidence can still be submitted.
const DISPUTE_AWAITS_EVIDENCE: [&str; 2] = ["warning_needs_response", "needs_response"];
