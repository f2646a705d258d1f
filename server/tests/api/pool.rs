//! The connection pool after the database dropped its connections (a restart or a failover).
use std::time::Duration;

use server::store::{Db, Dialect, IDLE_BEFORE_PING};
use sqlx::Connection;

use crate::helpers::fresh_database_url;

#[tokio::test]
async fn a_connection_the_database_dropped_while_it_was_idle_is_replaced_not_handed_out() {
    let url = fresh_database_url().await;
    let db = Db::connect(&url).await.expect("connect");
    db.migrate().await.expect("migrate");
    assert!(db.is_ready().await.expect("ready"));
    if db.dialect == Dialect::Postgres {
        let mut admin = sqlx::AnyConnection::connect(&url).await.expect("a connection of its own");
        let dropped: Vec<bool> = sqlx::query_scalar(
            "select pg_terminate_backend(pid) from pg_stat_activity
             where datname = current_database() and pid <> pg_backend_pid()",
        )
        .fetch_all(&mut admin)
        .await
        .expect("terminate the pool's connections");
        assert!(!dropped.is_empty(), "the pool had connections to drop");
    }
    tokio::time::sleep(IDLE_BEFORE_PING + Duration::from_millis(200)).await;
    for _ in 0..4 {
        assert!(db.is_ready().await.expect("a live connection, not a dropped one"));
    }
}
