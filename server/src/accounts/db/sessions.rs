//! tower-sessions records in the portal's own database, through the same pool as everything else.
use async_trait::async_trait;
use sqlx::AnyPool;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use crate::store::is_unique_violation;

#[derive(Debug, Clone)]
pub struct DbSessionStore {
    pool: AnyPool,
}

impl DbSessionStore {
    pub fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    pub async fn delete_expired(&self, now_ms: i64) -> Result<u64, sqlx::Error> {
        Ok(sqlx::query("delete from sessions where expires_at < $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}

fn backend(error: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

fn encode(record: &Record) -> session_store::Result<(String, String, i64)> {
    let data = serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))?;
    let expires_ms = (record.expiry_date.unix_timestamp_nanos() / 1_000_000) as i64;
    Ok((record.id.to_string(), data, expires_ms))
}

#[async_trait]
impl SessionStore for DbSessionStore {
    /// Ids are random 128-bit values; on the rare collision a new one is drawn.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            let (id, data, expires_ms) = encode(record)?;
            let inserted = sqlx::query("insert into sessions (id, data, expires_at) values ($1, $2, $3)")
                .bind(id)
                .bind(data)
                .bind(expires_ms)
                .execute(&self.pool)
                .await;
            match inserted {
                Ok(_) => return Ok(()),
                Err(e) if is_unique_violation(&e) => record.id = Id::default(),
                Err(e) => return Err(backend(e)),
            }
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let (id, data, expires_ms) = encode(record)?;
        sqlx::query(
            "insert into sessions (id, data, expires_at) values ($1, $2, $3)
             on conflict (id) do update set data = excluded.data, expires_at = excluded.expires_at",
        )
        .bind(id)
        .bind(data)
        .bind(expires_ms)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let row: Option<(String, i64)> =
            sqlx::query_as("select data, expires_at from sessions where id = $1 and expires_at > $2")
                .bind(session_id.to_string())
                .bind(crate::shared::time::now_ms())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        let Some((data, expires_ms)) = row else {
            return Ok(None);
        };
        let data = serde_json::from_str(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date = time::OffsetDateTime::from_unix_timestamp_nanos(expires_ms as i128 * 1_000_000)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record { id: *session_id, data, expiry_date }))
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        sqlx::query("delete from sessions where id = $1")
            .bind(session_id.to_string())
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
