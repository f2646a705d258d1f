//! What customers see of their invoices, credits and balances. Balances come from the ledger.
use app::api::dto::billing::{CreditView, InvoiceDetail, InvoiceLineView, InvoiceSummary, InvoicesPage};
use app::api::error::AppError;

use crate::accounts::db::namespaces;
use crate::accounts::db::organizations;
use crate::billing::db::credits;
use crate::billing::db::invoices::{self, InvoiceRow, LineRow};
use crate::billing::db::ledger;
use crate::error::Error;
use crate::metering::catalog::metric_catalog;
use crate::metering::domain::usage::format_quantity;
use crate::payments::db::disputes;
use crate::payments::views::{dispute_views, invoice_payments};
use crate::reader::{display_time, moment};
use crate::shared::money::format_money;
use crate::store::Db;

pub fn summary(invoice: &InvoiceRow) -> InvoiceSummary {
    InvoiceSummary {
        id: invoice.id.clone(),
        number: invoice.number.clone(),
        period: format!("{} to {}", display_time(invoice.period_start), display_time(invoice.period_end)),
        status: invoice.status.clone(),
        total: format_money(invoice.subtotal_minor, &invoice.currency),
        amount_due: format_money(invoice.amount_due_minor, &invoice.currency),
        due: invoice.due_at.map(moment),
    }
}

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn invoices_page(db: &Db, organization_id: &str) -> Result<InvoicesPage, Error> {
    let mut conn = db.pool.acquire().await?;
    let org = organizations::find_organization(&mut conn, organization_id).await?.ok_or(AppError::NotFound)?;
    let invoices = invoices::invoices_of(&mut conn, organization_id).await?;
    let (receivable, credit) = ledger::receivable_and_credit(&mut conn, organization_id).await?;
    let now = db.clock.now_ms();
    let credits = credits::credits_of(&mut conn, organization_id)
        .await?
        .into_iter()
        .map(|c| CreditView {
            amount: format_money(c.amount_minor, &org.currency),
            remaining: if c.expires_at.is_some_and(|at| at <= now) {
                "expired".to_owned()
            } else {
                format_money(c.remaining_minor, &org.currency)
            },
            reason: c.reason,
            expires: c.expires_at.map(moment),
        })
        .collect();
    Ok(InvoicesPage {
        invoices: invoices.iter().map(summary).collect(),
        balance_due: format_money(receivable, &org.currency),
        credit_balance: format_money(credit, &org.currency),
        credits,
    })
}

#[tracing::instrument(skip_all, fields(organization_id, invoice_id))]
pub async fn invoice_detail(db: &Db, organization_id: &str, invoice_id: &str) -> Result<InvoiceDetail, Error> {
    let mut conn = db.pool.acquire().await?;
    let invoice = invoices::invoice_of(&mut conn, organization_id, invoice_id).await?.ok_or(AppError::NotFound)?;
    let org = organizations::find_organization(&mut conn, organization_id).await?.ok_or(AppError::NotFound)?;
    let names = namespaces::list_namespaces(&mut conn, organization_id).await?;
    let metrics = metric_catalog(&mut conn).await?;
    let lines = invoices::lines_of(&mut conn, invoice_id).await?;
    let view = |line: LineRow| {
        let metric = metrics.metrics.iter().find(|m| Some(&m.key) == line.metric.as_ref());
        let per_display = metric.map_or(1, |m| m.units_per_display);
        let unit = metric.map_or("", |m| m.display_unit.as_str());
        // Stored descriptions name metrics by key; people read the catalog's display name.
        let description = match metric {
            Some(m) => line.description.replacen(&m.key, &m.display_name, 1),
            None => line.description,
        };
        InvoiceLineView {
            kind: line.kind,
            description,
            namespace: line.namespace_id.map(|id| names.iter().find(|n| n.id == id).map_or(id, |n| n.name.clone())),
            tier: line.tier.map(|t| format!("tier {}", t + 1)),
            quantity: match metric {
                Some(_) => format!("{} {unit}", format_quantity(line.quantity, per_display)),
                None => line.quantity.to_string(),
            },
            unit_price: line.unit_price_minor.zip(line.unit_price_per).map(|(minor, per)| {
                format!("{} per {} {unit}", format_money(minor, &invoice.currency), format_quantity(per, per_display))
            }),
            amount: format_money(line.amount_minor, &invoice.currency),
        }
    };
    Ok(InvoiceDetail {
        summary: summary(&invoice),
        organization_name: org.name,
        billing_email: org.billing_email,
        lines: lines.into_iter().map(view).collect(),
        subtotal: format_money(invoice.subtotal_minor, &invoice.currency),
        credit_applied: format_money(invoice.credit_applied_minor, &invoice.currency),
        void_reason: invoice.void_reason,
        payments: invoice_payments(&mut conn, invoice_id).await?,
        disputes: dispute_views(disputes::disputes_of_invoice(&mut conn, invoice_id).await?),
    })
}
