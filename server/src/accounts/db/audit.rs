//! The audit log: append-only, written in the same transaction as the change it records.
use sqlx::AnyConnection;

use crate::error::Error;
use crate::shared::ids::{IdKind, new_id};

pub struct AuditEntry<'a> {
    pub organization_id: Option<&'a str>,
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub reason: Option<&'a str>,
}

pub async fn append_audit(conn: &mut AnyConnection, entry: AuditEntry<'_>, now_ms: i64) -> Result<(), Error> {
    sqlx::query(
        "insert into audit_log (id, organization_id, actor, action, target, before_json, after_json, reason, at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(new_id(IdKind::Audit, now_ms))
    .bind(entry.organization_id)
    .bind(entry.actor)
    .bind(entry.action)
    .bind(entry.target)
    .bind(entry.before.map(|v| v.to_string()))
    .bind(entry.after.map(|v| v.to_string()))
    .bind(entry.reason)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, sqlx::FromRow)]
pub struct AuditRow {
    pub actor: String,
    pub action: String,
    pub target: String,
    pub before_json: Option<String>,
    pub after_json: Option<String>,
    pub reason: Option<String>,
    pub at: i64,
}

/// The organization's newest `limit` audit entries, newest first.
pub async fn list_audit(conn: &mut AnyConnection, organization_id: &str, limit: i64) -> Result<Vec<AuditRow>, Error> {
    Ok(sqlx::query_as(
        "select actor, action, target, before_json, after_json, reason, at from audit_log
         where organization_id = $1 order by at desc, id desc limit $2",
    )
    .bind(organization_id)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}
