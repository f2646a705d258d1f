//! Sign-ups waiting for their email's confirmation.
use sqlx::{AnyConnection, FromRow};

use crate::error::Error;

#[derive(Debug, Clone, FromRow)]
pub struct SignupRow {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub organization_name: String,
    pub expires_at: i64,
    pub confirmed_at: Option<i64>,
}

pub struct NewSignup<'a> {
    pub id: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub organization_name: &'a str,
    pub token_hash: &'a str,
    pub expires_at: i64,
}

pub async fn insert_signup(conn: &mut AnyConnection, signup: &NewSignup<'_>, now: i64) -> Result<(), Error> {
    sqlx::query(
        "insert into signups (id, email, password_hash, organization_name, token_hash, created_at, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(signup.id)
    .bind(signup.email)
    .bind(signup.password_hash)
    .bind(signup.organization_name)
    .bind(signup.token_hash)
    .bind(now)
    .bind(signup.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn signup_by_token(conn: &mut AnyConnection, token_hash: &str) -> Result<Option<SignupRow>, Error> {
    Ok(sqlx::query_as(
        "select id, email, password_hash, organization_name, expires_at, confirmed_at
         from signups where token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(conn)
    .await?)
}

/// Marks the sign-up confirmed unless it already was: `false` when another request confirmed it
/// first (a double click, a link opened twice), so only one organization is ever made from it.
pub async fn confirm_signup(conn: &mut AnyConnection, id: &str, now: i64) -> Result<bool, Error> {
    let updated = sqlx::query("update signups set confirmed_at = $1 where id = $2 and confirmed_at is null")
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(updated.rows_affected() == 1)
}
