//! What the JSON API for machines answers about usage and invoices: figures rather than words,
//! quantities in the metric's stored unit, money in minor units, times in RFC 3339 UTC. The
//! numbers are the ones the pages word: the same rollups, the same invoice rows.
use std::collections::BTreeMap;

use app::api::dto::machine::{
    GroupTotal, InvoiceFigures, InvoiceLineFigures, NamespaceTotal, UsageBucket, UsageTotals,
};
use app::api::error::AppError;

use crate::accounts::db::namespaces;
use crate::billing::db::invoices::{self, InvoiceRow, LineRow};
use crate::error::Error;
use crate::metering::catalog::metric_catalog;
use crate::metering::db::usage_dimensions::{HourBreakdown, hourly_breakdown};
use crate::metering::domain::dimensions::break_down;
use crate::metering::domain::usage_query::{Granularity, bucket_totals, check_answer_size, query_bounds};
use crate::metering::usage::complete_through;
use crate::shared::money::AmountOutOfRange;
use crate::shared::time::display_rfc3339;
use crate::store::Db;

/// `GET /v1/usage`'s question; every part a query parameter.
pub struct UsageQuestion<'a> {
    pub metric: &'a str,
    /// A namespace's name; every namespace when absent.
    pub namespace: Option<&'a str>,
    pub from: &'a str,
    pub to: &'a str,
    pub granularity: Option<&'a str>,
    /// A declared dimension of the metric to break the buckets down by.
    pub group_by: Option<&'a str>,
}

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn usage_totals(db: &Db, organization_id: &str, question: &UsageQuestion<'_>) -> Result<UsageTotals, Error> {
    let granularity = match question.granularity {
        None => Granularity::Hour,
        Some(text) => {
            Granularity::parse(text).ok_or_else(|| AppError::invalid("granularity", "must be hour or day"))?
        }
    };
    let (from, to) = query_bounds(question.from, question.to, granularity, db.clock.now_ms())
        .map_err(|(field, reason)| AppError::invalid(field, reason))?;
    let mut conn = db.pool.acquire().await?;
    let catalog = metric_catalog(&mut conn).await?;
    let metric = catalog
        .metrics
        .iter()
        .find(|m| m.key == question.metric)
        .ok_or_else(|| AppError::invalid("metric", "unknown metric"))?;
    if let Some(dimension) = question.group_by {
        let declared = catalog.dimensions.get(&metric.key).cloned().unwrap_or_default();
        if !declared.contains_key(dimension) {
            let known: Vec<&str> = declared.keys().map(String::as_str).collect();
            let reason = match known.as_slice() {
                [] => format!("{} has no dimensions", metric.key),
                known => format!("not a dimension of {}; it has {}", metric.key, known.join(", ")),
            };
            return Err(AppError::invalid("group_by", reason).into());
        }
    }
    let mut names: BTreeMap<String, String> =
        namespaces::list_namespaces(&mut conn, organization_id).await?.into_iter().map(|n| (n.id, n.name)).collect();
    if let Some(wanted) = question.namespace {
        names.retain(|_, name| name == wanted);
        if names.is_empty() {
            return Err(AppError::invalid("namespace", "no namespace of this organization has that name").into());
        }
    }
    check_answer_size(names.len(), from, to, granularity)
        .map_err(|(field, reason)| AppError::invalid(field, reason))?;
    // One namespace asked for is read alone: the others' hours are never loaded.
    let one_namespace = question.namespace.and(names.keys().next().map(String::as_str));
    let hourly = hourly_breakdown(&mut conn, organization_id, one_namespace, &metric.key, from, to).await?;
    drop(conn);
    let watermark = complete_through(db, organization_id).await?;
    let series = hourly_series(&hourly, &names, question.group_by).ok_or(AmountOutOfRange)?;
    let buckets = bucket_totals(series, granularity).ok_or(AmountOutOfRange)?;
    let mut per_namespace: BTreeMap<&str, i64> = names.values().map(|name| (name.as_str(), 0)).collect();
    let mut per_group: BTreeMap<&str, i64> = BTreeMap::new();
    for (((namespace, group), _), quantity) in &buckets {
        let sum = per_namespace.entry(namespace).or_insert(0);
        *sum = sum.checked_add(*quantity).ok_or(AmountOutOfRange)?;
        if let Some(group) = group {
            let sum = per_group.entry(group).or_insert(0);
            *sum = sum.checked_add(*quantity).ok_or(AmountOutOfRange)?;
        }
    }
    Ok(UsageTotals {
        metric: metric.key.clone(),
        unit: metric.display_unit.clone(),
        units_per_display: metric.units_per_display,
        granularity: granularity.as_str().to_owned(),
        from: display_rfc3339(from),
        to: display_rfc3339(to),
        complete_through: display_rfc3339(watermark),
        namespaces: per_namespace
            .into_iter()
            .map(|(namespace, quantity)| NamespaceTotal { namespace: namespace.to_owned(), quantity })
            .collect(),
        buckets: buckets
            .into_iter()
            .map(|(((namespace, group), start), quantity)| UsageBucket {
                namespace: namespace.to_owned(),
                start: display_rfc3339(start),
                group: group.map(str::to_owned),
                quantity,
            })
            .collect(),
        group_by: question.group_by.map(str::to_owned),
        groups: per_group
            .into_iter()
            .map(|(group, quantity)| GroupTotal { group: group.to_owned(), quantity })
            .collect(),
    })
}

/// The hours as series: each namespace's by name, or with `group_by` each namespace's split by
/// the dimension's values, the rest of its total `unspecified`. `None` on overflow.
fn hourly_series<'a>(
    hourly: &'a [HourBreakdown],
    names: &'a BTreeMap<String, String>,
    group_by: Option<&str>,
) -> Option<Vec<((&'a str, Option<&'a str>), i64, i64)>> {
    let mut series = Vec::with_capacity(hourly.len());
    for hour in hourly {
        let Some(name) = names.get(&hour.namespace_id) else { continue };
        let Some(dimension) = group_by else {
            series.push(((name.as_str(), None), hour.hour, hour.total));
            continue;
        };
        let typed = hour.dimensions.iter().map(|(dimensions, total)| (dimensions.as_str(), *total));
        for (value, quantity) in break_down(hour.total, typed, dimension)? {
            series.push(((name.as_str(), Some(value)), hour.hour, quantity));
        }
    }
    Some(series)
}

/// Every invoice of the organization, newest period first, without lines.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn invoice_list(db: &Db, organization_id: &str) -> Result<Vec<InvoiceFigures>, Error> {
    let mut conn = db.pool.acquire().await?;
    Ok(invoices::invoices_of(&mut conn, organization_id).await?.iter().map(|i| figures(i, None)).collect())
}

/// One invoice of the organization with its lines; another organization's is not found.
#[tracing::instrument(skip_all, fields(organization_id, invoice_id))]
pub async fn invoice_with_lines(db: &Db, organization_id: &str, invoice_id: &str) -> Result<InvoiceFigures, Error> {
    let mut conn = db.pool.acquire().await?;
    let invoice = invoices::invoice_of(&mut conn, organization_id, invoice_id).await?.ok_or(AppError::NotFound)?;
    let names: BTreeMap<String, String> =
        namespaces::list_namespaces(&mut conn, organization_id).await?.into_iter().map(|n| (n.id, n.name)).collect();
    let line = |row: LineRow| InvoiceLineFigures {
        namespace: row.namespace_id.map(|id| names.get(&id).cloned().unwrap_or(id)),
        kind: row.kind,
        description: row.description,
        metric: row.metric,
        tier: row.tier.map(|t| t + 1),
        quantity: row.quantity,
        unit_price_minor: row.unit_price_minor,
        unit_price_per: row.unit_price_per,
        amount_minor: row.amount_minor,
        usage_from: row.usage_from.map(display_rfc3339),
        usage_to: row.usage_to.map(display_rfc3339),
    };
    let lines = invoices::lines_of(&mut conn, invoice_id).await?.into_iter().map(line).collect();
    Ok(figures(&invoice, Some(lines)))
}

fn figures(invoice: &InvoiceRow, lines: Option<Vec<InvoiceLineFigures>>) -> InvoiceFigures {
    InvoiceFigures {
        id: invoice.id.clone(),
        number: invoice.number.clone(),
        status: invoice.status.clone(),
        currency: invoice.currency.clone(),
        period_start: display_rfc3339(invoice.period_start),
        period_end: display_rfc3339(invoice.period_end),
        subtotal_minor: invoice.subtotal_minor,
        credit_applied_minor: invoice.credit_applied_minor,
        amount_due_minor: invoice.amount_due_minor,
        due_at: invoice.due_at.map(display_rfc3339),
        finalized_at: invoice.finalized_at.map(display_rfc3339),
        paid_at: invoice.paid_at.map(display_rfc3339),
        lines,
    }
}
