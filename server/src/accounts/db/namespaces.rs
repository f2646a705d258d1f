//! Namespaces of an organization.
use sqlx::{AnyConnection, FromRow};

use crate::error::Error;

#[derive(Debug, Clone, FromRow)]
pub struct NamespaceRow {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub created_at: i64,
}

/// A second namespace of the same name in one organization breaks the unique index.
pub async fn insert_namespace(conn: &mut AnyConnection, ns: &NamespaceRow) -> Result<(), Error> {
    sqlx::query("insert into namespaces (id, organization_id, name, created_at) values ($1, $2, $3, $4)")
        .bind(&ns.id)
        .bind(&ns.organization_id)
        .bind(&ns.name)
        .bind(ns.created_at)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn list_namespaces(conn: &mut AnyConnection, organization_id: &str) -> Result<Vec<NamespaceRow>, Error> {
    Ok(sqlx::query_as(
        "select id, organization_id, name, created_at from namespaces where organization_id = $1 order by name",
    )
    .bind(organization_id)
    .fetch_all(conn)
    .await?)
}

/// Marks every namespace of an organization suspended (`Some(at)`) or serving again (`None`).
/// Usage is still recorded while suspended: suspension pauses service, never metering.
pub async fn set_suspended(conn: &mut AnyConnection, organization_id: &str, at: Option<i64>) -> Result<(), Error> {
    sqlx::query("update namespaces set suspended_at = $1 where organization_id = $2")
        .bind(at)
        .bind(organization_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// (id, name, suspended since) of every namespace of the organization.
pub async fn namespace_states(
    conn: &mut AnyConnection,
    organization_id: &str,
) -> Result<Vec<(String, String, Option<i64>)>, Error> {
    Ok(sqlx::query_as("select id, name, suspended_at from namespaces where organization_id = $1 order by name")
        .bind(organization_id)
        .fetch_all(conn)
        .await?)
}
