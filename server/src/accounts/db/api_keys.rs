//! API keys: only hashes are stored.
use sqlx::{AnyConnection, FromRow};

use crate::error::Error;

#[derive(Debug, Clone, FromRow)]
pub struct ApiKeyRow {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub prefix: String,
    pub created_by: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str =
    "k.id, k.organization_id, k.name, k.prefix, u.email as created_by, k.created_at, k.last_used_at, k.revoked_at";

pub async fn insert_api_key(
    conn: &mut AnyConnection,
    key: &ApiKeyRow,
    created_by_user_id: &str,
    secret_hash: &str,
) -> Result<(), Error> {
    sqlx::query(
        "insert into api_keys (id, organization_id, name, prefix, secret_hash, created_by, created_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&key.id)
    .bind(&key.organization_id)
    .bind(&key.name)
    .bind(&key.prefix)
    .bind(secret_hash)
    .bind(created_by_user_id)
    .bind(key.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn list_api_keys(conn: &mut AnyConnection, organization_id: &str) -> Result<Vec<ApiKeyRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select {COLUMNS} from api_keys k join users u on u.id = k.created_by where k.organization_id = $1 order by k.created_at desc, k.id"
    ))
    .bind(organization_id)
    .fetch_all(conn)
    .await?)
}

pub async fn find_api_key(
    conn: &mut AnyConnection,
    organization_id: &str,
    key_id: &str,
) -> Result<Option<ApiKeyRow>, Error> {
    Ok(sqlx::query_as(&format!(
        "select {COLUMNS} from api_keys k join users u on u.id = k.created_by where k.organization_id = $1 and k.id = $2"
    ))
    .bind(organization_id)
    .bind(key_id)
    .fetch_optional(conn)
    .await?)
}

/// What an API request needs of its key: whose it is, and its organization's own ingestion rate.
#[derive(sqlx::FromRow)]
pub struct ApiKeyCaller {
    pub id: String,
    pub organization_id: String,
    pub last_used_at: Option<i64>,
    /// Set by staff for this organization (events a second, 0 for none); `None`: the portal's.
    pub ingest_events_per_second: Option<i64>,
}

/// The key a bearer secret belongs to, if it exists and is not revoked.
pub async fn find_active_key_by_hash(
    conn: &mut AnyConnection,
    secret_hash: &str,
) -> Result<Option<ApiKeyCaller>, Error> {
    Ok(sqlx::query_as(
        "select k.id, k.organization_id, k.last_used_at, o.ingest_events_per_second from api_keys k \
         join organizations o on o.id = k.organization_id where k.secret_hash = $1 and k.revoked_at is null",
    )
    .bind(secret_hash)
    .fetch_optional(conn)
    .await?)
}

/// Returns whether this call revoked it (false when it was already revoked).
pub async fn revoke_api_key(conn: &mut AnyConnection, key_id: &str, now_ms: i64) -> Result<bool, Error> {
    let done = sqlx::query("update api_keys set revoked_at = $1 where id = $2 and revoked_at is null")
        .bind(now_ms)
        .bind(key_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn touch_api_key(conn: &mut AnyConnection, key_id: &str, now_ms: i64) -> Result<(), Error> {
    sqlx::query("update api_keys set last_used_at = $1 where id = $2 and (last_used_at is null or last_used_at < $3)")
        .bind(now_ms)
        .bind(key_id)
        .bind(now_ms - 60_000)
        .execute(conn)
        .await?;
    Ok(())
}
