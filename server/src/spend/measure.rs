//! What budgets measure: the current period's cost so far, rated by the same functions as its
//! invoice, and its metered quantities, from the same rollups the charts read.
use std::collections::BTreeMap;

use crate::billing::domain::forecast::pace;
use crate::billing::estimate::{SpendToDate, spend_to_date};
use crate::error::Error;
use crate::metering::catalog::metric_catalog;
use crate::metering::db::usage::{MetricRow, period_totals};
use crate::shared::money::format_money;
use crate::shared::numbers::exact_decimal;
use crate::spend::db::{BudgetRow, WHOLE_ORGANIZATION};
use crate::store::Db;

/// The measure of budgets in money.
pub const COST: &str = "cost";

pub struct Measured {
    pub spend: SpendToDate,
    /// (namespace, metric) → quantity in the metric's stored unit.
    quantities: BTreeMap<(String, String), i64>,
    pub metrics: Vec<MetricRow>,
}

/// The organization's figures of its current period; `None` without a subscription, which has no
/// period to budget.
pub async fn measured(db: &Db, organization_id: &str) -> Result<Option<Measured>, Error> {
    let Some(spend) = spend_to_date(db, organization_id).await? else { return Ok(None) };
    let mut conn = db.pool.acquire().await?;
    let quantities = period_totals(&mut conn, organization_id, spend.period.0, spend.period.1)
        .await?
        .into_iter()
        .map(|(namespace, metric, quantity)| ((namespace, metric), quantity))
        .collect();
    let metrics = metric_catalog(&mut conn).await?.metrics.clone();
    Ok(Some(Measured { spend, quantities, metrics }))
}

impl Measured {
    /// The budget's measure so far this period.
    pub fn of(&self, budget: &BudgetRow) -> i64 {
        match (budget.measure.as_str(), budget.scope.as_str()) {
            (COST, WHOLE_ORGANIZATION) => self.spend.total_minor,
            (COST, namespace) => self.spend.usage_by_namespace.get(namespace).copied().unwrap_or(0),
            (metric, WHOLE_ORGANIZATION) => self
                .quantities
                .iter()
                .filter(|((_, m), _)| m == metric)
                .fold(0i64, |sum, (_, quantity)| sum.saturating_add(*quantity)),
            (metric, namespace) => {
                self.quantities.get(&(namespace.to_owned(), metric.to_owned())).copied().unwrap_or(0)
            }
        }
    }

    /// The budget's measure at the period's end at its pace so far, `now` being where it stands:
    /// the estimate's projection for cost, each quantity carried at its pace for a metric.
    pub fn projected_of(&self, budget: &BudgetRow, now: i64) -> Option<i64> {
        let (projected_total, projected_usage) = self.spend.projected.as_ref()?;
        match (budget.measure.as_str(), budget.scope.as_str()) {
            (COST, WHOLE_ORGANIZATION) => Some(*projected_total),
            (COST, namespace) => Some(projected_usage.get(namespace).copied().unwrap_or(0)),
            _ => {
                let (start, end) = self.spend.period;
                Some(pace(self.of(budget), now - start, end - start))
            }
        }
    }

    /// An amount of the budget's measure as people read it: `$250.00`, `5,000,000 actions`.
    pub fn words(&self, measure: &str, amount: i64) -> String {
        amount_words(&self.metrics, &self.spend.currency, measure, amount)
    }
}

pub fn amount_words(metrics: &[MetricRow], currency: &str, measure: &str, amount: i64) -> String {
    match metrics.iter().find(|m| m.key == measure) {
        Some(metric) => format!("{} {}", exact_decimal(amount, metric.units_per_display), metric.display_unit),
        None => format_money(amount, currency),
    }
}
