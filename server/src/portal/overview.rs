//! The dashboard's tiles: plan and status, the next invoice, balances, the latest invoices, and
//! every alert that needs the customer (a payment past due, a card about to lapse, a pending plan
//! change or cancellation, a budget's threshold crossed or its cap reached).
use app::api::dto::{Alert, Overview, Severity};
use sqlx::AnyConnection;

use crate::accounts::db::namespaces::NamespaceRow;
use crate::billing::db::invoices;
use crate::billing::db::ledger;
use crate::billing::db::subscriptions::SubscriptionStanding;
use crate::billing::period_rating::PlanCache;
use crate::error::Error;
use crate::payments::db::attempts;
use crate::payments::domain::card::lapses_at;
use crate::portal::invoice_pages::summary;
use crate::reader::{display_time, moment};
use crate::shared::money::format_money;
use crate::shared::time::duration_words;
use crate::spend::alerts::budget_alerts;
use crate::spend::db::{BudgetRow, CrossingRow};

/// A card lapsing within this is worth replacing now: the next charge may come after it.
const CARD_WARNING_MS: i64 = 30 * 86_400_000;
const LATEST_INVOICES: i64 = 3;

/// What the dashboard has read already: the organization's subscription with its pending change,
/// its namespaces, its budgets and their crossings standing in the current period.
pub struct Read<'a> {
    pub standing: Option<&'a SubscriptionStanding>,
    pub namespaces: &'a [NamespaceRow],
    pub budgets: &'a [BudgetRow],
    pub crossings: &'a [CrossingRow],
}

pub async fn overview(
    conn: &mut AnyConnection,
    organization_id: &str,
    read: Read<'_>,
    currency: &str,
    now: i64,
) -> Result<Overview, Error> {
    let running = read.standing.filter(|s| s.subscription.ended_at.is_none());
    let mut cache = PlanCache::default();
    let plan = match running {
        Some(s) => Some(cache.get(conn, &s.subscription.plan_version_id).await?.0.plan_name.clone()),
        None => None,
    };
    let (receivable, credit) = ledger::receivable_and_credit(conn, organization_id).await?;
    let latest_invoices =
        invoices::latest_issued_invoices(conn, organization_id, LATEST_INVOICES).await?.iter().map(summary).collect();
    Ok(Overview {
        plan,
        status: read.standing.map_or_else(|| "none".to_owned(), |s| s.subscription.status.clone()),
        next_invoice_on: running.map(|s| moment(s.subscription.current_period_end)),
        next_invoice_in: running.map(|s| duration_words(now, s.subscription.current_period_end)),
        balance_due: format_money(receivable, currency),
        credit_balance: format_money(credit, currency),
        latest_invoices,
        alerts: alerts(conn, &mut cache, organization_id, currency, running, &read, now).await?,
    })
}

async fn alerts(
    conn: &mut AnyConnection,
    cache: &mut PlanCache,
    organization_id: &str,
    currency: &str,
    running: Option<&SubscriptionStanding>,
    read: &Read<'_>,
    now: i64,
) -> Result<Vec<Alert>, Error> {
    let mut alerts = Vec::new();
    let alert = |severity, message: String, section: &str| Alert {
        severity,
        message,
        section: section.to_owned(),
        dismiss: None,
    };
    let (past_due, card) = attempts::past_due_and_card(conn, organization_id).await?;
    if past_due {
        let message = "A payment is past due: pay it or update the card to keep the service running.".to_owned();
        alerts.push(alert(Severity::Danger, message, "payment"));
    }
    if let Some((month, year, last4)) = card {
        match lapses_at(month, year) {
            Some(at) if at <= now => {
                let message = format!("The card ending {last4} has expired: add a new one before the next charge.");
                alerts.push(alert(Severity::Danger, message, "payment"));
            }
            Some(at) if at - now <= CARD_WARNING_MS => {
                let message =
                    format!("The card ending {last4} expires at the end of {month:02}/{year}: add a new one.");
                alerts.push(alert(Severity::Warning, message, "payment"));
            }
            _ => {}
        }
    }
    if let Some(standing) = running {
        let subscription = &standing.subscription;
        if subscription.cancel_requested_at.is_some() {
            let message = format!(
                "The subscription is canceled at the end of the period, on {}.",
                display_time(subscription.current_period_end)
            );
            alerts.push(alert(Severity::Warning, message, "plan"));
        }
        if let Some((to_version_id, effective_at)) = standing.pending_change() {
            let to = cache.get(conn, to_version_id).await?.0.plan_name.clone();
            let message = format!("The plan changes to {to} on {}.", display_time(effective_at));
            alerts.push(alert(Severity::Info, message, "plan"));
        }
    }
    alerts.extend(budget_alerts(conn, currency, read.budgets, read.crossings, read.namespaces).await?);
    // Most urgent first; in the order above within a severity.
    alerts.sort_by_key(|alert| match alert.severity {
        Severity::Danger => 0,
        Severity::Warning => 1,
        Severity::Info => 2,
    });
    Ok(alerts)
}
