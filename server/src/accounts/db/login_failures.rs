//! Failed logins, counted per account and per client address over a sliding window.
use sqlx::AnyConnection;

use crate::error::Error;
use crate::shared::ids::{IdKind, new_id};

pub async fn record_login_failure(
    conn: &mut AnyConnection,
    email: &str,
    client: &str,
    now_ms: i64,
) -> Result<(), Error> {
    sqlx::query("insert into login_failures (id, email, client, at) values ($1, $2, $3, $4)")
        .bind(new_id(IdKind::LoginFailure, now_ms))
        .bind(email)
        .bind(client)
        .bind(now_ms)
        .execute(conn)
        .await?;
    Ok(())
}

/// (count, oldest time) of failures for this account or this client since `since_ms`, the larger count.
pub async fn recent_failures(
    conn: &mut AnyConnection,
    email: &str,
    client: &str,
    since_ms: i64,
) -> Result<(i64, Option<i64>), Error> {
    let by_email: (i64, Option<i64>) =
        sqlx::query_as("select count(*), min(at) from login_failures where email = $1 and at >= $2")
            .bind(email)
            .bind(since_ms)
            .fetch_one(&mut *conn)
            .await?;
    let by_client: (i64, Option<i64>) =
        sqlx::query_as("select count(*), min(at) from login_failures where client = $1 and at >= $2")
            .bind(client)
            .bind(since_ms)
            .fetch_one(&mut *conn)
            .await?;
    Ok(if by_email.0 >= by_client.0 { by_email } else { by_client })
}

pub async fn clear_login_failures(conn: &mut AnyConnection, email: &str) -> Result<(), Error> {
    sqlx::query("delete from login_failures where email = $1").bind(email).execute(conn).await?;
    Ok(())
}

pub async fn delete_login_failures_before(conn: &mut AnyConnection, before_ms: i64) -> Result<u64, Error> {
    Ok(sqlx::query("delete from login_failures where at < $1").bind(before_ms).execute(conn).await?.rows_affected())
}
