//! What staff read about customers: the search over all of them, and everything about one.
use app::api::dto::OrganizationSummary;
use app::api::dto::admin::{
    AdminCustomer, AuditView, CustomerSearch, LedgerLine, NamespaceState, StatusChange, UsageTotal, WebhookEventView,
};
use std::collections::HashMap;

use app::api::error::AppError;

use crate::accounts::db::audit;
use crate::accounts::db::namespaces;
use crate::accounts::db::organizations;
use crate::billing::db::ledger;
use crate::billing::db::plans;
use crate::billing::db::subscriptions;
use crate::billing::estimate::month_to_date_estimate;
use crate::error::Error;
use crate::metering::catalog::metric_catalog;
use crate::metering::db::usage;
use crate::metering::domain::usage::format_quantity;
use crate::payments::db::disputes;
use crate::payments::db::stripe_events;
use crate::payments::domain::dunning::DunningPolicy;
use crate::payments::views::{billing_status, dispute_views, mail_log, organization_payments};
use crate::portal::invoice_pages::invoices_page;
use crate::reader::moment;
use crate::shared::ids::{IdKind, new_id};
use crate::shared::money::format_money;
use crate::shared::numbers::group_thousands;
use crate::store::Db;

const SEARCH_PAGE_SIZE: i64 = 25;
const MAX_QUERY_LEN: usize = 200;
const MAX_PAGE: u32 = 10_000;
/// The customer page shows the newest of these; the rest stay in the database.
const RECENT_ROWS: usize = 200;

/// Customers whose name, billing email, member email, id or invoice number starts with `query`
/// (case-insensitive), by name; an empty query lists everyone.
#[tracing::instrument(skip_all)]
pub async fn search_customers(db: &Db, query: &str, page: u32) -> Result<CustomerSearch, Error> {
    let query = query.trim();
    if query.chars().count() > MAX_QUERY_LEN {
        return Err(AppError::invalid("query", format!("is longer than {MAX_QUERY_LEN} characters")).into());
    }
    if page > MAX_PAGE {
        return Err(AppError::invalid("page", format!("must be at most {MAX_PAGE}")).into());
    }
    let prefix = query.to_ascii_lowercase();
    let offset = i64::from(page) * SEARCH_PAGE_SIZE;
    let mut conn = db.pool.acquire().await?;
    let mut rows =
        organizations::search_organization_summaries(&mut conn, db.dialect, &prefix, SEARCH_PAGE_SIZE + 1, offset)
            .await?;
    let has_next = rows.len() as i64 > SEARCH_PAGE_SIZE;
    rows.truncate(SEARCH_PAGE_SIZE as usize);
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let statuses: HashMap<String, String> =
        subscriptions::statuses_of_organizations(&mut conn, &ids).await?.into_iter().collect();
    let balances: HashMap<String, (i64, i64)> = ledger::balances_of_organizations(&mut conn, &ids)
        .await?
        .into_iter()
        .map(|(id, owed, credit)| (id, (owed, credit)))
        .collect();
    let customers = rows
        .into_iter()
        .map(|r| {
            let (owed, credit) = balances.get(&r.id).copied().unwrap_or_default();
            OrganizationSummary {
                status: statuses.get(&r.id).cloned().unwrap_or_else(|| "none".to_owned()),
                owed: format_money(owed, &r.currency),
                credit: format_money(credit, &r.currency),
                id: r.id,
                name: r.name,
                billing_email: r.billing_email,
                namespace_count: r.namespace_count,
                member_count: r.member_count,
                created_at: moment(r.created_at),
            }
        })
        .collect();
    let plans = plans::current_versions(&mut conn).await?.into_iter().map(|v| v.plan_name).collect();
    Ok(CustomerSearch { query: query.to_owned(), page, customers, has_next, plans })
}

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn admin_customer(db: &Db, policy: &DunningPolicy, organization_id: &str) -> Result<AdminCustomer, Error> {
    let mut conn = db.pool.acquire().await?;
    let org = organizations::find_organization(&mut conn, organization_id).await?.ok_or(AppError::NotFound)?;
    let own_rate = organizations::own_ingest_rate(&mut conn, organization_id).await?.flatten();
    let subscription = subscriptions::subscription_of(&mut conn, organization_id).await?;
    let (plan, subscription_status) = match &subscription {
        Some(subscription) => {
            let version = plans::plan_version(&mut conn, &subscription.plan_version_id).await?;
            (version.plan_name, subscription.status.clone())
        }
        None => ("none".to_owned(), "none".to_owned()),
    };
    let plans = match &subscription {
        Some(_) => {
            plans::current_versions(&mut conn).await?.into_iter().map(|v| v.plan_name).filter(|p| *p != plan).collect()
        }
        None => Vec::new(),
    };
    let namespaces = namespaces::namespace_states(&mut conn, organization_id).await?;
    let period_usage = match &subscription {
        Some(s) => {
            let totals =
                usage::period_totals(&mut conn, organization_id, s.current_period_start, s.current_period_end).await?;
            let name_of = |id: &str| namespaces.iter().find(|n| n.0 == id).map_or(id.to_owned(), |n| n.1.clone());
            let catalog = metric_catalog(&mut conn).await?;
            let mut rows: Vec<UsageTotal> = totals
                .into_iter()
                .map(|(namespace, metric, quantity)| {
                    let (metric, quantity) = match catalog.metrics.iter().find(|m| m.key == metric) {
                        Some(m) => (
                            m.display_name.clone(),
                            format!("{} {}", format_quantity(quantity, m.units_per_display), m.display_unit),
                        ),
                        None => (metric, quantity.to_string()),
                    };
                    UsageTotal { namespace: name_of(&namespace), metric, quantity }
                })
                .collect();
            rows.sort_by(|a, b| (&a.namespace, &a.metric).cmp(&(&b.namespace, &b.metric)));
            rows
        }
        None => Vec::new(),
    };
    let status_history = subscriptions::transitions_of(&mut conn, organization_id)
        .await?
        .into_iter()
        .map(|t| StatusChange {
            at: moment(t.at),
            from: t.from_status,
            to: t.to_status,
            cause: t.cause,
            actor: t.actor,
        })
        .collect();
    let ledger = ledger_lines(ledger::transactions_of(&mut conn, organization_id).await?, &org.currency);
    let webhook_events = stripe_events::events_of(&mut conn, organization_id, RECENT_ROWS as i64)
        .await?
        .into_iter()
        .map(|e| WebhookEventView {
            id: e.id,
            event_type: e.event_type,
            status: e.status,
            attempts: e.attempts,
            received: moment(e.received_at),
        })
        .collect();
    let audit = audit::list_audit(&mut conn, organization_id, RECENT_ROWS as i64)
        .await?
        .into_iter()
        .map(|a| AuditView {
            at: moment(a.at),
            actor: a.actor,
            action: a.action,
            target: a.target,
            reason: a.reason,
            change: format!("{} → {}", a.before_json.as_deref().unwrap_or("–"), a.after_json.as_deref().unwrap_or("–")),
        })
        .collect();
    let disputes = dispute_views(disputes::disputes_of(&mut conn, organization_id).await?);
    drop(conn);
    Ok(AdminCustomer {
        organization_id: org.id,
        name: org.name,
        billing_email: org.billing_email,
        plan,
        subscription_status,
        billing: invoices_page(db, organization_id).await?,
        payment_status: billing_status(db, policy, organization_id).await?,
        notifications: mail_log(db, organization_id).await?,
        payments: organization_payments(db, organization_id).await?,
        disputes,
        credit_form_key: new_id(IdKind::Credit, db.clock.now_ms()),
        estimate: month_to_date_estimate(db, organization_id).await?,
        period_usage,
        namespaces: namespaces
            .into_iter()
            .map(|(id, name, suspended_at)| NamespaceState { id, name, suspended_since: suspended_at.map(moment) })
            .collect(),
        status_history,
        ledger,
        webhook_events,
        audit,
        plans,
        ingest_quota: match own_rate {
            None => "The portal's setting, the same for every customer".to_owned(),
            Some(0) => "No limit, set for this customer".to_owned(),
            Some(rate) => format!("{} events a second, set for this customer", group_thousands(rate.unsigned_abs())),
        },
        ingest_quota_input: own_rate.map(|rate| rate.to_string()).unwrap_or_default(),
    })
}

/// Running balances, oldest first, then the newest lines first for display. What the customer
/// owes is the receivable's debit balance; unused credit is the customer-credit account's credit
/// balance.
fn ledger_lines(transactions: Vec<ledger::TransactionTotals>, currency: &str) -> Vec<LedgerLine> {
    let (mut owed, mut credit) = (0i64, 0i64);
    let mut lines: Vec<LedgerLine> = transactions
        .into_iter()
        .map(|t| {
            owed += t.receivable_minor;
            credit -= t.customer_credit_minor;
            LedgerLine {
                at: moment(t.at),
                kind: t.kind,
                reference: t.reference,
                receivable_change: format_money(t.receivable_minor, currency),
                receivable_balance: format_money(owed, currency),
                credit_balance: format_money(credit, currency),
            }
        })
        .collect();
    lines.reverse();
    lines.truncate(RECENT_ROWS);
    lines
}
