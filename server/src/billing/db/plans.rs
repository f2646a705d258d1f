//! The plan catalog and subscriptions.
use sqlx::{AnyConnection, FromRow};

use crate::error::Error;
use crate::shared::ids::{IdKind, new_id};

/// Creates the plan and its version when missing; never changes an existing version.
pub async fn ensure_plan_version(
    conn: &mut AnyConnection,
    name: &str,
    version: i64,
    currency: &str,
    base_fee_minor: i64,
    prices_json: &str,
    now_ms: i64,
) -> Result<String, Error> {
    let plan_id: Option<String> =
        sqlx::query_scalar("select id from plans where name = $1").bind(name).fetch_optional(&mut *conn).await?;
    let plan_id = match plan_id {
        Some(id) => id,
        None => {
            let id = new_id(IdKind::Plan, now_ms);
            sqlx::query("insert into plans (id, name, created_at) values ($1, $2, $3)")
                .bind(&id)
                .bind(name)
                .bind(now_ms)
                .execute(&mut *conn)
                .await?;
            id
        }
    };
    let existing: Option<String> =
        sqlx::query_scalar("select id from plan_versions where plan_id = $1 and version = $2")
            .bind(&plan_id)
            .bind(version)
            .fetch_optional(&mut *conn)
            .await?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let id = new_id(IdKind::PlanVersion, now_ms);
    sqlx::query(
        "insert into plan_versions (id, plan_id, version, currency, base_fee_minor, prices_json, created_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(&plan_id)
    .bind(version)
    .bind(currency)
    .bind(base_fee_minor)
    .bind(prices_json)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(id)
}

#[derive(Debug, Clone, FromRow)]
pub struct PlanVersionRow {
    pub id: String,
    pub plan_name: String,
    pub version: i64,
    pub currency: String,
    pub base_fee_minor: i64,
    pub prices_json: String,
}

const VERSION_COLUMNS: &str = "v.id, p.name as plan_name, v.version, v.currency, v.base_fee_minor, v.prices_json";

pub async fn plan_version(conn: &mut AnyConnection, version_id: &str) -> Result<PlanVersionRow, Error> {
    sqlx::query_as(&format!(
        "select {VERSION_COLUMNS} from plan_versions v join plans p on p.id = v.plan_id where v.id = $1"
    ))
    .bind(version_id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| Error::Corrupt(format!("plan version {version_id} is missing")))
}

/// The newest version of every plan: what can be subscribed to now, cheapest first.
pub async fn current_versions(conn: &mut AnyConnection) -> Result<Vec<PlanVersionRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select {VERSION_COLUMNS} from plan_versions v join plans p on p.id = v.plan_id
         where v.version = (select max(w.version) from plan_versions w where w.plan_id = v.plan_id)
         order by v.base_fee_minor, p.name"
    ))
    .fetch_all(conn)
    .await?)
}
