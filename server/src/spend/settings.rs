//! Setting a budget, whichever way it arrives (the page's form, `PUT /v1/budgets`): the rules a
//! budget must keep, its row and audit entry, and its evaluation right after.
use crate::accounts::db::audit::{AuditEntry, append_audit};
use crate::error::Error;
use crate::spend::db::{self, BudgetRow, NewBudget};
use crate::spend::domain::budget::{Thresholds, validate_limit};
use crate::spend::evaluation::evaluate_organization;
use crate::store::Db;
use app::api::error::AppError;
use sqlx::AnyConnection;

/// The names a refusal gives the fields: the form's (`limit`), or the API body's
/// (`budgets[2].limit`).
pub struct Fields {
    pub prefix: String,
}

impl Fields {
    pub fn form() -> Self {
        Self { prefix: String::new() }
    }

    pub fn name(&self, field: &str) -> String {
        format!("{}{field}", self.prefix)
    }
}

/// A budget whose scope and measure are known to exist.
pub struct Setting<'a> {
    pub scope: &'a str,
    pub measure: &'a str,
    pub limit_amount: i64,
    pub thresholds: Thresholds,
    pub hard_cap: bool,
    pub fields: Fields,
}

/// Checks the budget's own rules, then stores it and its audit entry in the caller's transaction.
pub async fn store_setting(
    conn: &mut AnyConnection,
    organization_id: &str,
    actor: &str,
    setting: &Setting<'_>,
    now: i64,
) -> Result<BudgetRow, Error> {
    let limit_amount = validate_limit(setting.limit_amount)
        .map_err(|reason| AppError::invalid(&setting.fields.name("limit"), reason))?;
    if setting.thresholds.percents().is_empty() && !setting.hard_cap {
        let reason = "name at least one threshold, or set a hard cap";
        return Err(AppError::invalid(&setting.fields.name("thresholds"), reason).into());
    }
    let budget = NewBudget {
        organization_id,
        scope: setting.scope,
        measure: setting.measure,
        limit_amount,
        thresholds: &setting.thresholds.stored(),
        hard_cap: setting.hard_cap,
        updated_by: actor,
    };
    let saved = db::save_budget(&mut *conn, &budget, now).await?;
    let after = serde_json::json!({
        "scope": saved.scope, "measure": saved.measure, "limit": saved.limit_amount,
        "thresholds": saved.thresholds, "hard_cap": setting.hard_cap, "revision": saved.revision,
    });
    let entry = AuditEntry {
        organization_id: Some(organization_id),
        actor,
        action: "budget.save",
        target: &saved.id,
        before: None,
        after: Some(after),
        reason: None,
    };
    append_audit(conn, entry, now).await?;
    Ok(saved)
}

/// Removes a budget with its audit entry; `None` when the organization has no such budget.
pub async fn remove_budget(
    conn: &mut AnyConnection,
    organization_id: &str,
    actor: &str,
    budget_id: &str,
    now: i64,
) -> Result<Option<BudgetRow>, Error> {
    let Some(deleted) = db::delete_budget(&mut *conn, organization_id, budget_id).await? else { return Ok(None) };
    let before =
        serde_json::json!({ "scope": deleted.scope, "measure": deleted.measure, "limit": deleted.limit_amount });
    let entry = AuditEntry {
        organization_id: Some(organization_id),
        actor,
        action: "budget.delete",
        target: &deleted.id,
        before: Some(before),
        after: None,
        reason: None,
    };
    append_audit(conn, entry, now).await?;
    Ok(Some(deleted))
}

/// Evaluates the organization's budgets as they now stand, from fresh figures: another instance's
/// rollup may not have reached this one as a notice yet. The change is committed already, so a
/// failure here is the rollup worker's sweep to redo, not the caller's error.
pub async fn evaluate_afresh(db: &Db, organization_id: &str) {
    db.rollup_derived.rolled_up(organization_id);
    if let Err(error) = evaluate_organization(db, organization_id).await {
        tracing::warn!(%error, %organization_id, "evaluating saved budgets failed; the next sweep tries again");
    }
}
