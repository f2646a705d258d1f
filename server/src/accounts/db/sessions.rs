//! tower-sessions records in the portal's own database, through the same pool as everything else.
use app::api::backend::{SESSION_GENERATION_KEY, SESSION_USER_KEY};
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

/// A record as stored: its user and generation also in columns of their own, so that a request
/// reads the session with its user in one statement (`users::find_user_of_session`).
struct Stored {
    id: String,
    data: String,
    expires_ms: i64,
    user_id: Option<String>,
    generation: i64,
}

impl Stored {
    /// `on_conflict`: what an id stored already does, if not refuse.
    async fn insert(self, pool: &AnyPool, on_conflict: &str) -> Result<(), sqlx::Error> {
        sqlx::query(&format!(
            "insert into sessions (id, data, expires_at, user_id, generation) values ($1, $2, $3, $4, $5) {on_conflict}"
        ))
        .bind(self.id)
        .bind(self.data)
        .bind(self.expires_ms)
        .bind(self.user_id)
        .bind(self.generation)
        .execute(pool)
        .await?;
        Ok(())
    }
}

fn encode(record: &Record) -> session_store::Result<Stored> {
    let data = serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))?;
    Ok(Stored {
        id: record.id.to_string(),
        data,
        expires_ms: (record.expiry_date.unix_timestamp_nanos() / 1_000_000) as i64,
        user_id: record.data.get(SESSION_USER_KEY).and_then(|v| v.as_str()).map(str::to_owned),
        generation: record.data.get(SESSION_GENERATION_KEY).and_then(|v| v.as_i64()).unwrap_or_default(),
    })
}

#[async_trait]
impl SessionStore for DbSessionStore {
    /// Ids are random 128-bit values; on the rare collision a new one is drawn.
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            match encode(record)?.insert(&self.pool, "").await {
                Ok(_) => return Ok(()),
                Err(e) if is_unique_violation(&e) => record.id = Id::default(),
                Err(e) => return Err(backend(e)),
            }
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let replace = "on conflict (id) do update set data = excluded.data, expires_at = excluded.expires_at,
            user_id = excluded.user_id, generation = excluded.generation";
        encode(record)?.insert(&self.pool, replace).await.map_err(backend)
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
