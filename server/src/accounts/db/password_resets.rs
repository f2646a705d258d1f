//! One-time links that set a new password.
use sqlx::{AnyConnection, FromRow};

use crate::error::Error;

#[derive(Debug, Clone, FromRow)]
pub struct PasswordResetRow {
    pub id: String,
    pub user_id: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub async fn insert_password_reset(
    conn: &mut AnyConnection,
    id: &str,
    user_id: &str,
    token_hash: &str,
    expires_at: i64,
    now: i64,
) -> Result<(), Error> {
    sqlx::query(
        "insert into password_resets (id, user_id, token_hash, created_at, expires_at) values ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(user_id)
    .bind(token_hash)
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn reset_by_token(conn: &mut AnyConnection, token_hash: &str) -> Result<Option<PasswordResetRow>, Error> {
    Ok(sqlx::query_as("select id, user_id, expires_at, used_at from password_resets where token_hash = $1")
        .bind(token_hash)
        .fetch_optional(conn)
        .await?)
}

/// Uses up every open link of the user (the one followed and any older ones): `false` when the
/// followed one was used already, so a link sets a password once.
pub async fn use_resets_of(conn: &mut AnyConnection, reset_id: &str, user_id: &str, now: i64) -> Result<bool, Error> {
    let followed = sqlx::query("update password_resets set used_at = $1 where id = $2 and used_at is null")
        .bind(now)
        .bind(reset_id)
        .execute(&mut *conn)
        .await?;
    if followed.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query("update password_resets set used_at = $1 where user_id = $2 and used_at is null")
        .bind(now)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(true)
}
