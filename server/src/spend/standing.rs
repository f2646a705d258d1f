//! Where each of an organization's budgets stands this period: used so far, thresholds crossed,
//! capped or not. The budgets page words it; the JSON API answers it as figures.
use std::collections::HashMap;

use crate::accounts::db::namespaces::{NamespaceRow, list_namespaces};
use crate::error::Error;
use crate::metering::catalog::metric_catalog;
use crate::metering::db::usage::MetricRow;
use crate::spend::caps::{current_period, standing_in};
use crate::spend::db::{BudgetRow, budgets_of};
use crate::spend::domain::budget::{CrossingKind, reaches_limit_at};
use crate::spend::measure::{Measured, measured};
use crate::store::Db;

pub struct BudgetStanding {
    pub budget: BudgetRow,
    /// `None` without a subscription: there is no period to count in.
    pub used: Option<i64>,
    /// Thresholds crossed this period, ascending.
    pub crossed: Vec<i64>,
    pub capped: bool,
    /// When it reaches its limit at the pace so far, if it does within the period.
    pub reaches_at: Option<i64>,
}

pub struct Standing {
    pub budgets: Vec<BudgetStanding>,
    pub measured: Option<Measured>,
    pub namespaces: Vec<NamespaceRow>,
    pub metrics: Vec<MetricRow>,
}

impl Standing {
    pub fn names(&self) -> HashMap<String, String> {
        self.namespaces.iter().map(|n| (n.id.clone(), n.name.clone())).collect()
    }
}

pub async fn standing(db: &Db, organization_id: &str) -> Result<Standing, Error> {
    let measured = measured(db, organization_id).await?;
    let now = db.clock.now_ms();
    let mut conn = db.pool.acquire().await?;
    let period = current_period(&mut conn, organization_id, now).await?;
    let crossings = standing_in(&mut conn, organization_id, period).await?;
    let budgets = budgets_of(&mut conn, organization_id)
        .await?
        .into_iter()
        .map(|budget| {
            let mine = crossings.iter().filter(|c| c.budget_id == budget.id);
            let crossed =
                mine.clone().filter(|c| c.kind == CrossingKind::Alert.as_str()).map(|c| c.threshold).collect();
            let capped = budget.hard_cap == 1 && mine.clone().any(|c| c.kind == CrossingKind::Cap.as_str());
            let used = measured.as_ref().map(|m| m.of(&budget));
            let reaches_at = measured.as_ref().zip(used).and_then(|(m, used)| {
                let projected = m.projected_of(&budget, now)?;
                reaches_limit_at(budget.limit_amount, used, projected, now, m.spend.period.1)
            });
            BudgetStanding { used, crossed, capped, reaches_at, budget }
        })
        .collect();
    let namespaces = list_namespaces(&mut conn, organization_id).await?;
    let metrics = metric_catalog(&mut conn).await?.metrics.clone();
    Ok(Standing { budgets, measured, namespaces, metrics })
}
