//! What the JSON API for machines answers about budgets and caps: figures, not words. The
//! platform's data plane reads `capped` before starting work in a namespace; machines set the
//! organization's budgets with one `PUT`.
use app::api::dto::machine::{BudgetFigures, BudgetSetting, NamespaceStatus};
use app::api::error::AppError;

use crate::accounts::db::namespaces::list_namespaces;
use crate::accounts::db::organizations::lock_organizations;
use crate::error::Error;
use crate::metering::catalog::metric_catalog;
use crate::shared::time::display_rfc3339;
use crate::spend::caps::caps;
use crate::spend::db::{WHOLE_ORGANIZATION, budgets_of};
use crate::spend::domain::budget::Thresholds;
use crate::spend::measure::COST;
use crate::spend::settings::{Fields, Setting, evaluate_afresh, remove_budget, store_setting};
use crate::spend::standing::standing;
use crate::store::Db;

/// `namespace` is its name or its id.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn namespace_status(db: &Db, organization_id: &str, namespace: &str) -> Result<NamespaceStatus, Error> {
    let mut conn = db.pool.acquire().await?;
    let found = list_namespaces(&mut conn, organization_id)
        .await?
        .into_iter()
        .find(|n| n.name == namespace || n.id == namespace)
        .ok_or(AppError::NotFound)?;
    let caps = caps(&mut conn, organization_id, db.clock.now_ms()).await?;
    Ok(NamespaceStatus {
        capped: caps.is_capped(&found.id),
        created_at: display_rfc3339(found.created_at),
        id: found.id,
        name: found.name,
    })
}

#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn budget_figures(db: &Db, organization_id: &str) -> Result<Vec<BudgetFigures>, Error> {
    let standing = standing(db, organization_id).await?;
    let names = standing.names();
    Ok(standing
        .budgets
        .into_iter()
        .map(|b| BudgetFigures {
            namespace: (b.budget.scope != WHOLE_ORGANIZATION)
                .then(|| names.get(&b.budget.scope).cloned().unwrap_or_else(|| b.budget.scope.clone())),
            thresholds: b.budget.thresholds.split(',').filter_map(|t| t.parse().ok()).collect(),
            hard_cap: b.budget.hard_cap == 1,
            id: b.budget.id,
            measure: b.budget.measure,
            limit: b.budget.limit_amount,
            used: b.used,
            crossed: b.crossed,
            capped: b.capped,
            reaches_at: b.reaches_at.map(display_rfc3339),
        })
        .collect())
}

/// At most this many budgets in one `PUT /v1/budgets`: one per namespace and one for all.
pub const MAX_BUDGETS: usize = 100;

/// `PUT /v1/budgets`: the organization's budgets become the list, in one transaction. A refusal
/// names the entry's field (`budgets[1].limit`) and changes nothing.
#[tracing::instrument(skip_all, fields(organization_id))]
pub async fn replace_budgets(
    db: &Db,
    organization_id: &str,
    actor: &str,
    settings: &[BudgetSetting],
) -> Result<Vec<BudgetFigures>, Error> {
    if settings.len() > MAX_BUDGETS {
        return Err(AppError::invalid("budgets", format!("at most {MAX_BUDGETS}")).into());
    }
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    // Two lists put at once: the second waits, then replaces the first whole.
    lock_organizations(&mut tx, &[organization_id.to_owned()]).await?;
    let namespaces = list_namespaces(&mut tx, organization_id).await?;
    let metrics = metric_catalog(&mut tx).await?;
    let mut checked = Vec::new();
    for (index, setting) in settings.iter().enumerate() {
        let fields = Fields { prefix: format!("budgets[{index}].") };
        let scope = match &setting.namespace {
            None => WHOLE_ORGANIZATION,
            Some(name) => namespaces.iter().find(|n| &n.name == name).map(|n| n.id.as_str()).ok_or_else(|| {
                AppError::invalid(&fields.name("namespace"), "is not a namespace of this organization")
            })?,
        };
        if checked.iter().any(|s: &Setting<'_>| s.scope == scope) {
            return Err(AppError::invalid(&fields.name("namespace"), "has a budget earlier in the list").into());
        }
        if setting.measure != COST && !metrics.metrics.iter().any(|m| m.key == setting.measure) {
            return Err(AppError::invalid(&fields.name("measure"), "is neither cost nor a metric").into());
        }
        let thresholds = Thresholds::from_percents(&setting.thresholds)
            .map_err(|reason| AppError::invalid(&fields.name("thresholds"), reason))?;
        checked.push(Setting {
            scope,
            measure: &setting.measure,
            limit_amount: setting.limit,
            thresholds,
            hard_cap: setting.hard_cap,
            fields,
        });
    }
    for setting in &checked {
        store_setting(&mut tx, organization_id, actor, setting, now).await?;
    }
    for budget in budgets_of(&mut tx, organization_id).await? {
        if !checked.iter().any(|s| s.scope == budget.scope) {
            remove_budget(&mut tx, organization_id, actor, &budget.id, now).await?;
        }
    }
    tx.commit().await?;
    evaluate_afresh(db, organization_id).await;
    budget_figures(db, organization_id).await
}
