//! Budgets evaluated against the current period so far: by the rollup worker right after it
//! stores the hours it touched, and when an owner saves a budget. A crossing is recorded once per
//! budget revision, period, kind and threshold (a unique row), and its notice and webhook event
//! are queued in the same transaction, so neither a restart nor a second instance tells anyone
//! twice. Only the current period is evaluated: late usage of a period already over alerts
//! nothing stale.
use std::collections::HashMap;

use crate::accounts::db::namespaces::list_namespaces;
use crate::error::Error;
use crate::notifications::outbox::notify;
use crate::spend::alerts::{crossing_event, crossing_notice};
use crate::spend::db::{
    NewCrossing, budgets_of_locked, organizations_having_budgets, organizations_with_budgets, record_crossing,
};
use crate::spend::domain::budget::{Thresholds, crossed};
use crate::spend::measure::measured;
use crate::store::Db;
use crate::webhooks::events::announce;

/// Evaluates the budgets of those organizations (whose rollups just changed) that have any, or
/// of every organization with a budget (a sweep now and then: an evaluation that failed, or one
/// a crash cut off, is done again). Answers the organizations with new crossings.
pub async fn evaluate_budgets(db: &Db, organization_ids: Option<&[String]>) -> Vec<String> {
    let with_budgets = match db.pool.acquire().await {
        Ok(mut conn) => match organization_ids {
            Some(ids) => organizations_with_budgets(&mut conn, ids).await,
            None => organizations_having_budgets(&mut conn).await,
        },
        Err(error) => Err(error.into()),
    };
    let with_budgets = match with_budgets {
        Ok(found) => found,
        Err(error) => {
            tracing::warn!(%error, "finding budgets to evaluate failed; the next sweep tries again");
            return Vec::new();
        }
    };
    let mut crossed = Vec::new();
    for organization_id in with_budgets {
        match evaluate_organization(db, &organization_id).await {
            Ok(0) => {}
            Ok(_) => crossed.push(organization_id),
            Err(error) => {
                tracing::warn!(%error, %organization_id, "evaluating budgets failed; the next sweep tries again");
            }
        }
    }
    crossed
}

/// Records what the organization's budgets crossed that was not recorded yet; answers how many.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn evaluate_organization(db: &Db, organization_id: &str) -> Result<usize, Error> {
    let Some(measured) = measured(db, organization_id).await? else { return Ok(0) };
    let now = db.clock.now_ms();
    let period = measured.spend.period;
    if now >= period.1 {
        // The invoice run is about to roll the period: its figures alert nothing any more.
        return Ok(0);
    }
    let mut tx = db.begin().await?;
    let budgets = budgets_of_locked(&mut tx, organization_id).await?;
    let names: HashMap<String, String> =
        list_namespaces(&mut tx, organization_id).await?.into_iter().map(|n| (n.id, n.name)).collect();
    let mut recorded = 0;
    for budget in &budgets {
        let thresholds = Thresholds::parse(&budget.thresholds)
            .map_err(|invalid| Error::Corrupt(format!("budget {}: {invalid}", budget.id)))?;
        let amount = measured.of(budget);
        for crossing in crossed(budget.limit_amount, &thresholds, budget.hard_cap == 1, amount) {
            let new = NewCrossing {
                budget,
                period,
                kind: crossing.kind.as_str(),
                threshold: i64::from(crossing.percent),
                measured: amount,
            };
            let Some(id) = record_crossing(&mut tx, &new, now).await? else { continue };
            let notice = crossing_notice(budget, crossing.kind, crossing.percent, amount, period, &names, &measured);
            notify(&mut tx, organization_id, notice.kind, &id, &notice.subject, &notice.body, now).await?;
            let event = crossing_event(&id, budget, crossing.kind, crossing.percent, amount, period, &measured);
            announce(&mut tx, event, now).await?;
            recorded += 1;
        }
    }
    tx.commit().await?;
    Ok(recorded)
}
