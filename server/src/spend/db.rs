//! Budgets and their crossings.
use sqlx::{AnyConnection, FromRow};

use crate::error::Error;
use crate::shared::ids::{IdKind, new_id};
use crate::store::Dialect;
use crate::store::bulk::{bind_all_scalar, list_placeholders, texts};

/// The scope of a budget for the whole organization.
pub const WHOLE_ORGANIZATION: &str = "";

#[derive(Debug, Clone, FromRow)]
pub struct BudgetRow {
    pub id: String,
    pub organization_id: String,
    /// A namespace's id, or [`WHOLE_ORGANIZATION`].
    pub scope: String,
    /// `cost` or a metric's key.
    pub measure: String,
    pub limit_amount: i64,
    pub thresholds: String,
    pub hard_cap: i64,
    pub revision: i64,
    pub updated_at: i64,
    pub updated_by: String,
}

const BUDGET_COLUMNS: &str =
    "id, organization_id, scope, measure, limit_amount, thresholds, hard_cap, revision, updated_at, updated_by";

pub async fn budgets_of(conn: &mut AnyConnection, organization_id: &str) -> Result<Vec<BudgetRow>, Error> {
    Ok(sqlx::query_as(&format!("select {BUDGET_COLUMNS} from budgets where organization_id = $1 order by scope, id"))
        .bind(organization_id)
        .fetch_all(conn)
        .await?)
}

/// [`budgets_of`] locked until the transaction ends (PostgreSQL; SQLite's write transaction
/// already excludes other writers): an edit or removal waits for the evaluation that read them.
pub async fn budgets_of_locked(conn: &mut AnyConnection, organization_id: &str) -> Result<Vec<BudgetRow>, Error> {
    let lock = if Dialect::of(conn) == Dialect::Postgres { " for update" } else { "" };
    Ok(sqlx::query_as(&format!(
        "select {BUDGET_COLUMNS} from budgets where organization_id = $1 order by scope, id{lock}"
    ))
    .bind(organization_id)
    .fetch_all(conn)
    .await?)
}

/// Every organization with a budget: swept now and then, in case an evaluation failed.
pub async fn organizations_having_budgets(conn: &mut AnyConnection) -> Result<Vec<String>, Error> {
    Ok(sqlx::query_scalar("select distinct organization_id from budgets").fetch_all(conn).await?)
}

/// Those of `organization_ids` that have a budget: the only ones worth evaluating.
pub async fn organizations_with_budgets(
    conn: &mut AnyConnection,
    organization_ids: &[String],
) -> Result<Vec<String>, Error> {
    if organization_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "select distinct organization_id from budgets where organization_id in ({})",
        list_placeholders(conn, 1, organization_ids.len())
    );
    let values = texts(organization_ids);
    Ok(bind_all_scalar(sqlx::query_scalar(&sql), &values).fetch_all(conn).await?)
}

pub struct NewBudget<'a> {
    pub organization_id: &'a str,
    pub scope: &'a str,
    pub measure: &'a str,
    pub limit_amount: i64,
    pub thresholds: &'a str,
    pub hard_cap: bool,
    pub updated_by: &'a str,
}

/// Sets the scope's budget, replacing the one it had under a new revision when anything changed
/// (a revision alerts afresh; saving the same budget again does not).
pub async fn save_budget(conn: &mut AnyConnection, budget: &NewBudget<'_>, now: i64) -> Result<BudgetRow, Error> {
    Ok(sqlx::query_as(&format!(
        "insert into budgets ({BUDGET_COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9)
         on conflict (organization_id, scope) do update set measure = excluded.measure,
             limit_amount = excluded.limit_amount, thresholds = excluded.thresholds, hard_cap = excluded.hard_cap,
             revision = case when budgets.measure = excluded.measure and budgets.limit_amount = excluded.limit_amount
                 and budgets.thresholds = excluded.thresholds and budgets.hard_cap = excluded.hard_cap
                 then budgets.revision else budgets.revision + 1 end,
             updated_at = excluded.updated_at, updated_by = excluded.updated_by
         returning {BUDGET_COLUMNS}"
    ))
    .bind(new_id(IdKind::Budget, now))
    .bind(budget.organization_id)
    .bind(budget.scope)
    .bind(budget.measure)
    .bind(budget.limit_amount)
    .bind(budget.thresholds)
    .bind(i64::from(budget.hard_cap))
    .bind(now)
    .bind(budget.updated_by)
    .fetch_one(conn)
    .await?)
}

/// Removes the budget and what it crossed; `None` when the organization has no such budget.
pub async fn delete_budget(
    conn: &mut AnyConnection,
    organization_id: &str,
    budget_id: &str,
) -> Result<Option<BudgetRow>, Error> {
    let budget: Option<BudgetRow> =
        sqlx::query_as(&format!("select {BUDGET_COLUMNS} from budgets where id = $1 and organization_id = $2"))
            .bind(budget_id)
            .bind(organization_id)
            .fetch_optional(&mut *conn)
            .await?;
    if budget.is_some() {
        sqlx::query("delete from budget_crossings where budget_id = $1").bind(budget_id).execute(&mut *conn).await?;
        sqlx::query("delete from budgets where id = $1").bind(budget_id).execute(&mut *conn).await?;
    }
    Ok(budget)
}

pub struct NewCrossing<'a> {
    pub budget: &'a BudgetRow,
    pub period: (i64, i64),
    pub kind: &'a str,
    pub threshold: i64,
    pub measured: i64,
}

/// Records a crossing unless it was recorded already (by a pass before a restart, or by another
/// instance); answers its id when this call recorded it.
pub async fn record_crossing(
    conn: &mut AnyConnection,
    crossing: &NewCrossing<'_>,
    now: i64,
) -> Result<Option<String>, Error> {
    let id = new_id(IdKind::BudgetCrossing, now);
    // Only for the budget as it still stands: an edit or removal committed since it was read
    // (by the owner, while this evaluation measured) leaves nothing to record.
    let recorded = sqlx::query(
        "insert into budget_crossings (id, budget_id, revision, period_start, period_end, kind, threshold,
             organization_id, measured, crossed_at)
         select $1, $2, $3, $4, $5, $6, $7, $8, $9, $10
         where exists (select 1 from budgets where id = $11 and revision = $12)
         on conflict do nothing",
    )
    .bind(&id)
    .bind(&crossing.budget.id)
    .bind(crossing.budget.revision)
    .bind(crossing.period.0)
    .bind(crossing.period.1)
    .bind(crossing.kind)
    .bind(crossing.threshold)
    .bind(&crossing.budget.organization_id)
    .bind(crossing.measured)
    .bind(now)
    .bind(&crossing.budget.id)
    .bind(crossing.budget.revision)
    .execute(conn)
    .await?
    .rows_affected();
    Ok((recorded == 1).then_some(id))
}

#[derive(Debug, Clone, FromRow)]
pub struct CrossingRow {
    pub id: String,
    pub budget_id: String,
    pub kind: String,
    pub threshold: i64,
    pub measured: i64,
    pub crossed_at: i64,
    pub dismissed_at: Option<i64>,
    /// The budget's, as of the crossing's revision (its current one).
    pub scope: String,
    pub hard_cap: i64,
}

/// The crossings of the organization's budgets as they stand in the period starting at
/// `period_start` (the current one): of their current revisions. Oldest first.
pub async fn standing_crossings(
    conn: &mut AnyConnection,
    organization_id: &str,
    period_start: i64,
) -> Result<Vec<CrossingRow>, Error> {
    Ok(sqlx::query_as(
        "select c.id, c.budget_id, c.kind, c.threshold, c.measured, c.crossed_at, c.dismissed_at, b.scope, b.hard_cap
         from budget_crossings c join budgets b on b.id = c.budget_id and b.revision = c.revision
         where c.organization_id = $1 and c.period_start = $2 order by c.crossed_at, c.threshold, c.id",
    )
    .bind(organization_id)
    .bind(period_start)
    .fetch_all(conn)
    .await?)
}

/// Hides an alert from the dashboard, with the same budget's lower thresholds of the period;
/// `false` when the organization has no such alert showing.
pub async fn dismiss_crossing(
    conn: &mut AnyConnection,
    organization_id: &str,
    crossing_id: &str,
    now: i64,
) -> Result<bool, Error> {
    let dismissed = sqlx::query(
        "update budget_crossings set dismissed_at = $1
         where organization_id = $2 and kind = 'alert' and dismissed_at is null and exists (
             select 1 from budget_crossings d where d.id = $3 and d.organization_id = $2 and d.kind = 'alert'
                 and d.budget_id = budget_crossings.budget_id and d.revision = budget_crossings.revision
                 and d.period_start = budget_crossings.period_start and d.threshold >= budget_crossings.threshold)",
    )
    .bind(now)
    .bind(organization_id)
    .bind(crossing_id)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(dismissed > 0)
}
