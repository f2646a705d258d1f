//! Requests for mail anyone can ask for, per address: what the mail throttle counts.
use sqlx::AnyConnection;

use crate::error::Error;
use crate::store::Dialect;

/// PostgreSQL: holds a transaction-scoped lock on the address until commit. SQLite needs none: its
/// write transactions already take turns.
pub async fn lock_address(conn: &mut AnyConnection, address: &str) -> Result<(), Error> {
    if Dialect::of(conn) == Dialect::Postgres {
        sqlx::query("select pg_advisory_xact_lock(hashtext($1))::text").bind(address).execute(conn).await?;
    }
    Ok(())
}

/// How many requests since `since`, and when the oldest of them was.
pub async fn recent_mail_requests(
    conn: &mut AnyConnection,
    address: &str,
    since: i64,
) -> Result<(i64, Option<i64>), Error> {
    Ok(sqlx::query_as("select count(*), min(at) from account_mail_requests where address = $1 and at >= $2")
        .bind(address)
        .bind(since)
        .fetch_one(conn)
        .await?)
}

pub async fn record_mail_request(conn: &mut AnyConnection, address: &str, now: i64) -> Result<(), Error> {
    sqlx::query("insert into account_mail_requests (address, at) values ($1, $2)")
        .bind(address)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}
