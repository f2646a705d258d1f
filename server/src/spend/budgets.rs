//! The organization's budgets: owners set and remove them, every member reads them. Saving a
//! budget evaluates it at once, so a limit below what is spent already caps now, and a raised
//! one lifts its cap now (its crossings belong to the revision before).
use app::api::backend::BudgetForm;
use app::api::dto::SessionUser;
use app::api::dto::spend::{Budget, BudgetsPage, Choice};
use app::api::error::AppError;

use crate::accounts::db::namespaces::list_namespaces;
use crate::accounts::db::organizations::find_organization;
use crate::error::Error;
use crate::metering::catalog::metric_catalog;
use crate::metering::db::usage::MetricRow;
use crate::reader::display_time;
use crate::shared::money::{format_minor, parse_minor};
use crate::shared::numbers::{exact_decimal, parse_decimal};
use crate::shared::time::duration_words;
use crate::spend::alerts::scope_words;
use crate::spend::db::{self, BudgetRow, WHOLE_ORGANIZATION};
use crate::spend::domain::budget::{Thresholds, percent_of};
use crate::spend::measure::{COST, amount_words};
use crate::spend::settings::{Fields, Setting, evaluate_afresh, remove_budget, store_setting};
use crate::spend::standing::{BudgetStanding, Standing, standing};
use crate::store::Db;

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn budgets_page(db: &Db, organization_id: &str, viewer: &SessionUser) -> Result<BudgetsPage, Error> {
    viewer.role_in(organization_id)?;
    let can_edit = viewer.require_owner(organization_id).is_ok();
    let mut standing = standing(db, organization_id).await?;
    let currency = currency_of(db, &standing, organization_id).await?;
    let budgets = worded(std::mem::take(&mut standing.budgets), &standing, &currency, db.clock.now_ms());
    let names = standing.names();
    let metrics = &standing.metrics;
    let mut scopes = vec![Choice { value: WHOLE_ORGANIZATION.to_owned(), label: scope_words("", &names) }];
    scopes.extend(standing.namespaces.iter().map(|n| Choice { value: n.id.clone(), label: n.name.clone() }));
    let mut measures = vec![Choice { value: COST.to_owned(), label: measure_label(COST, metrics, &currency) }];
    measures.extend(
        metrics.iter().map(|m| Choice { value: m.key.clone(), label: measure_label(&m.key, metrics, &currency) }),
    );
    let period = standing.measured.map(|m| m.spend.period);
    Ok(BudgetsPage {
        organization_id: organization_id.to_owned(),
        can_edit,
        period: period.map(|(from, to)| format!("{} to {}", display_time(from), display_time(to))),
        budgets,
        scopes,
        measures,
    })
}

/// Where each budget stands, worded as on the budgets page, for the dashboard and the Usage page
/// (their forecasts say when the pace so far reaches each one). Its callers have checked the
/// viewer's membership.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn budget_outlook(db: &Db, organization_id: &str) -> Result<Vec<Budget>, Error> {
    let budgets = db::budgets_of(&mut *db.pool.acquire().await?, organization_id).await?;
    outlook_of(db, organization_id, &budgets).await
}

/// [`budget_outlook`] of the organization's budgets as the caller read them ([`db::budgets_of`]).
pub async fn outlook_of(db: &Db, organization_id: &str, budgets: &[BudgetRow]) -> Result<Vec<Budget>, Error> {
    // Most organizations have none: one indexed read instead of rating the period.
    if budgets.is_empty() {
        return Ok(Vec::new());
    }
    let mut standing = standing(db, organization_id).await?;
    let currency = currency_of(db, &standing, organization_id).await?;
    Ok(worded(std::mem::take(&mut standing.budgets), &standing, &currency, db.clock.now_ms()))
}

async fn currency_of(db: &Db, standing: &Standing, organization_id: &str) -> Result<String, Error> {
    Ok(match &standing.measured {
        Some(measured) => measured.spend.currency.clone(),
        None => {
            let mut conn = db.pool.acquire().await?;
            find_organization(&mut conn, organization_id).await?.ok_or(AppError::NotFound)?.currency
        }
    })
}

fn worded(budgets: Vec<BudgetStanding>, standing: &Standing, currency: &str, now: i64) -> Vec<Budget> {
    let names = standing.names();
    let metrics = &standing.metrics;
    budgets
        .into_iter()
        .map(|BudgetStanding { budget, used, crossed, capped, reaches_at }| {
            let words = |amount: i64| amount_words(metrics, currency, &budget.measure, amount);
            Budget {
                id: budget.id.clone(),
                scope_label: scope_words(&budget.scope, &names),
                measure_label: measure_label(&budget.measure, metrics, currency),
                limit: words(budget.limit_amount),
                limit_input: limit_input(&budget, metrics),
                thresholds: budget.thresholds.replace(',', ", "),
                hard_cap: budget.hard_cap == 1,
                used: used.map(words),
                used_percent: used.map(|amount| percent_of(budget.limit_amount, amount)),
                crossed,
                capped,
                reaches: reaches_at.map(|at| format!("on {} ({})", display_time(at), duration_words(now, at))),
                scope: budget.scope,
                measure: budget.measure,
            }
        })
        .collect()
}

fn measure_label(measure: &str, metrics: &[MetricRow], currency: &str) -> String {
    match metrics.iter().find(|m| m.key == measure) {
        Some(metric) => format!("{} ({})", metric.display_name, metric.display_unit),
        None => format!("Cost ({currency})"),
    }
}

/// The limit as the form shows it for editing: `250.00`, `5000000`.
fn limit_input(budget: &BudgetRow, metrics: &[MetricRow]) -> String {
    match metrics.iter().find(|m| m.key == budget.measure) {
        Some(metric) => exact_decimal(budget.limit_amount, metric.units_per_display).replace(',', ""),
        None => format_minor(budget.limit_amount),
    }
}

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn save_budget(
    db: &Db,
    actor: &SessionUser,
    organization_id: &str,
    form: &BudgetForm,
) -> Result<BudgetsPage, Error> {
    actor.require_owner(organization_id)?;
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    let namespaces = list_namespaces(&mut tx, organization_id).await?;
    if form.scope != WHOLE_ORGANIZATION && !namespaces.iter().any(|n| n.id == form.scope) {
        return Err(AppError::invalid("scope", "is not a namespace of this organization").into());
    }
    let metrics = metric_catalog(&mut tx).await?;
    let limit_amount = match (form.measure.as_str(), metrics.metrics.iter().find(|m| m.key == form.measure.as_str())) {
        (COST, _) => parse_minor(form.limit.as_str()).map_err(|reason| AppError::invalid("limit", reason))?,
        (_, Some(metric)) => parse_decimal(form.limit.as_str(), metric.units_per_display)
            .map_err(|reason| AppError::invalid("limit", reason))?,
        (_, None) => return Err(AppError::invalid("measure", "is neither cost nor a metric").into()),
    };
    let thresholds =
        Thresholds::parse(form.thresholds.as_str()).map_err(|reason| AppError::invalid("thresholds", reason))?;
    let setting = Setting {
        scope: &form.scope,
        measure: &form.measure,
        limit_amount,
        thresholds,
        hard_cap: form.hard_cap,
        fields: Fields::form(),
    };
    store_setting(&mut tx, organization_id, &actor.email, &setting, now).await?;
    tx.commit().await?;
    evaluate_afresh(db, organization_id).await;
    budgets_page(db, organization_id, actor).await
}

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn delete_budget(
    db: &Db,
    actor: &SessionUser,
    organization_id: &str,
    budget_id: &str,
) -> Result<BudgetsPage, Error> {
    actor.require_owner(organization_id)?;
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    remove_budget(&mut tx, organization_id, &actor.email, budget_id, now).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    budgets_page(db, organization_id, actor).await
}

/// Hides a threshold's alert from the dashboard for everyone in the organization.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn dismiss_alert(db: &Db, actor: &SessionUser, organization_id: &str, alert_id: &str) -> Result<(), Error> {
    actor.role_in(organization_id)?;
    let mut tx = db.begin().await?;
    if !db::dismiss_crossing(&mut tx, organization_id, alert_id, db.clock.now_ms()).await? {
        return Err(AppError::NotFound.into());
    }
    tx.commit().await?;
    Ok(())
}
