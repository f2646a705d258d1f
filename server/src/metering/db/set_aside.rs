//! Rollup marks set aside: hours that cannot be summed, kept with their error for staff instead of
//! being retried ahead of every other mark.
use sqlx::{AnyConnection, FromRow};

use crate::error::Error;
use crate::metering::db::usage::DirtyPart;

/// Moves the marks out of the rollup queue, with the reason.
pub async fn set_aside(conn: &mut AnyConnection, marks: &[DirtyPart], error: &str, now: i64) -> Result<(), Error> {
    for mark in marks {
        let key = "organization_id = $1 and namespace_id = $2 and metric = $3 and hour = $4 and commit_id = $5";
        sqlx::query(&format!(
            "insert into usage_rollups_set_aside
                 (organization_id, namespace_id, metric, hour, commit_id, marked_at, set_aside_at, error)
             select organization_id, namespace_id, metric, hour, commit_id, marked_at, $6, $7
             from usage_dirty_hours where {key}
             on conflict (organization_id, namespace_id, metric, hour, commit_id) do nothing"
        ))
        .bind(&mark.organization_id)
        .bind(&mark.namespace_id)
        .bind(&mark.metric)
        .bind(mark.hour)
        .bind(mark.commit_id)
        .bind(now)
        .bind(error)
        .execute(&mut *conn)
        .await?;
        sqlx::query(&format!("delete from usage_dirty_hours where {key}"))
            .bind(&mark.organization_id)
            .bind(&mark.namespace_id)
            .bind(&mark.metric)
            .bind(mark.hour)
            .bind(mark.commit_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

#[derive(Debug, Clone, FromRow)]
pub struct SetAsideRow {
    pub organization_name: String,
    pub namespace_name: String,
    pub metric: String,
    pub hour: i64,
    pub set_aside_at: i64,
    pub error: String,
}

/// The most recently set aside, newest first, with names for people.
pub async fn recent(conn: &mut AnyConnection, limit: i64) -> Result<Vec<SetAsideRow>, Error> {
    Ok(sqlx::query_as(
        "select o.name as organization_name, n.name as namespace_name, s.metric, s.hour, s.set_aside_at, s.error
         from usage_rollups_set_aside s
         join organizations o on o.id = s.organization_id join namespaces n on n.id = s.namespace_id
         order by s.set_aside_at desc, s.hour desc limit $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?)
}
