//! The database plumbing: one pool for SQLite or PostgreSQL (chosen by the URL), migrations per
//! dialect, transactions and multi-row statement helpers. Each context's SQL lives in its own `db`.
pub mod bulk;
pub mod c_allocator;
mod checkpointer;
pub mod rollup_derived;

use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Any, AnyConnection, AnyPool, ConnectOptions, Connection, Executor, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::Error;
use crate::shared::time::Clock;
use crate::store::rollup_derived::RollupDerived;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }

    /// The dialect a connection speaks: the one way code holding a connection, not a `Db`, asks.
    pub fn of(conn: &AnyConnection) -> Self {
        if conn.backend_name() == "SQLite" { Self::Sqlite } else { Self::Postgres }
    }

    fn migrator(self) -> &'static Migrator {
        match self {
            Self::Sqlite => &SQLITE_MIGRATIONS,
            Self::Postgres => &POSTGRES_MIGRATIONS,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    pub dialect: Dialect,
    /// What "now" is for everything that reads or writes this store on a timer or a deadline.
    pub clock: Clock,
    /// SQLite only: this process's write transactions take turns here, first come first served.
    /// Left to SQLite, a waiting writer sleeps in growing steps (up to 100 ms) and loses the lock
    /// to the ingestion writer again and again, so rollups lagged seconds behind under load.
    write_turn: Arc<Mutex<()>>,
    /// SQLite only: the one connection write transactions use. An SQLite connection drops its
    /// page cache whenever another connection has written, so writes spread over the pool read
    /// the events' unique index back into each connection's cache again and again.
    writer: Option<AnyPool>,
    /// PostgreSQL only: native connections for the ingestion commit, which `COPY`s its events.
    pub copying: Option<PgPool>,
    /// This process's figures derived from rollups, until the rollups change.
    pub rollup_derived: Arc<RollupDerived>,
    /// PostgreSQL only: a streaming replica (`DATABASE_READ_URL`) for reads that may lag a moment.
    replica: Option<AnyPool>,
    /// Set on the view [`Db::may_lag`] gives when it reads a replica: what it reads may be a moment
    /// old, so no figure read through it is kept (a rollup notice may already have passed it).
    pub lagging: bool,
}

/// A write transaction; on SQLite it holds this process's write turn until it ends.
pub struct WriteTx {
    tx: Transaction<'static, Any>,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

impl Db {
    /// A write transaction. On SQLite it takes the write lock at BEGIN (IMMEDIATE): a deferred
    /// transaction that reads first cannot upgrade once another connection has committed, and
    /// SQLite then answers BUSY at once, without the busy timeout's wait.
    pub async fn begin(&self) -> Result<WriteTx, sqlx::Error> {
        match self.dialect {
            Dialect::Sqlite => {
                let turn = self.write_turn.clone().lock_owned().await;
                let tx = self.writer.as_ref().unwrap_or(&self.pool).begin_with("BEGIN IMMEDIATE").await?;
                Ok(WriteTx { tx, _turn: Some(turn) })
            }
            Dialect::Postgres => Ok(WriteTx { tx: self.pool.begin().await?, _turn: None }),
        }
    }

    /// Opens the pool; an SQLite file and its folder are created when missing.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        Self::connect_with_replica(url, None).await
    }

    /// As [`Db::connect`], with a PostgreSQL streaming replica of the same database for reads that
    /// may lag a moment ([`Db::may_lag`]).
    pub async fn connect_with_replica(url: &str, replica_url: Option<&str>) -> Result<Self, Error> {
        let postgres = |url| Dialect::from_url(url) == Some(Dialect::Postgres);
        if replica_url.is_some_and(|replica_url| !postgres(url) || !postgres(replica_url)) {
            return Err(Error::Config("DATABASE_READ_URL: a replica is for PostgreSQL only".to_owned()));
        }
        let mut db = Self::connect_primary(url).await?;
        if let Some(replica_url) = replica_url {
            let options = AnyConnectOptions::from_str(&prepare_postgres_url(replica_url))?
                .log_statements(tracing::log::LevelFilter::Trace);
            db.replica = Some(open_pool(&options, Dialect::Postgres, 16, PageCache::Reader).await?);
        }
        Ok(db)
    }

    /// Where a read that may be a moment old goes: the replica when there is one, this database
    /// otherwise. Ingestion, billing, payments and anything a page must see right after its own
    /// write read the primary.
    pub fn may_lag(&self) -> Db {
        match &self.replica {
            Some(replica) => Db { pool: replica.clone(), replica: None, lagging: true, ..self.clone() },
            None => self.clone(),
        }
    }

    /// Keeps a figure derived from the organization's rollups ([`RollupDerived::keep`]), unless it
    /// was read on a replica: the replica may not yet have the rollups of a notice already heard.
    pub fn keep_derived<T: std::any::Any + Send + Sync>(
        &self,
        organization_id: &str,
        kind: &'static str,
        read_at: rollup_derived::RollupGeneration,
        figure: Arc<T>,
    ) {
        if !self.lagging {
            self.rollup_derived.keep(organization_id, kind, read_at, figure);
        }
    }

    pub fn has_replica(&self) -> bool {
        self.replica.is_some()
    }

    async fn connect_primary(url: &str) -> Result<Self, Error> {
        sqlx::any::install_default_drivers();
        let dialect = Dialect::from_url(url)
            .ok_or_else(|| Error::Config(format!("DATABASE_URL: unsupported scheme in {url:?}")))?;
        let url = match dialect {
            Dialect::Sqlite => prepare_sqlite_url(url)?,
            Dialect::Postgres => prepare_postgres_url(url),
        };
        let options = AnyConnectOptions::from_str(&url)?.log_statements(tracing::log::LevelFilter::Trace);
        let (pool, writer, copying) = match dialect {
            // SQLite has one writer at a time; a few connections serve concurrent reads in WAL mode.
            Dialect::Sqlite => (
                open_pool(&options, dialect, 4, PageCache::Reader).await?,
                Some(open_pool(&options, dialect, 1, PageCache::Writer).await?),
                None,
            ),
            Dialect::Postgres => {
                // One connection per ingestion writer task, and one to spare.
                let native = PgConnectOptions::from_str(&url)?.log_statements(tracing::log::LevelFilter::Trace);
                let copying = PgPoolOptions::new()
                    .max_connections(4)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute(WITHOUT_JIT).await?;
                            Ok(())
                        })
                    })
                    .connect_with(native)
                    .await?;
                (open_pool(&options, dialect, 16, PageCache::Reader).await?, None, Some(copying))
            }
        };
        let write_turn = Arc::new(Mutex::new(()));
        if dialect == Dialect::Sqlite {
            checkpointer::spawn(options, Arc::downgrade(&write_turn));
        }
        Ok(Self {
            pool,
            dialect,
            clock: Clock::system(),
            write_turn,
            writer,
            copying,
            rollup_derived: Arc::default(),
            replica: None,
            lagging: false,
        })
    }

    pub async fn migrate(&self) -> Result<(), Error> {
        self.dialect.migrator().run(&self.pool).await?;
        Ok(())
    }

    /// Ready means reachable and every migration this binary knows is applied.
    pub async fn is_ready(&self) -> Result<bool, Error> {
        let applied: i64 = sqlx::query_scalar("select count(*) from _sqlx_migrations where success = true")
            .fetch_one(&self.pool)
            .await?;
        Ok(applied as usize >= self.dialect.migrator().iter().count())
    }
}

/// PostgreSQL compiles a statement it estimates as costly to machine code first. A rollup pass's
/// sum over a few commits' events, estimated before the table had statistics, spent 300–950 ms
/// compiling for 600 ms of work; none of this server's statements gains from it.
const WITHOUT_JIT: &str = "set jit = off";

/// How long a pooled connection may sit unused before it is pinged on its way out of the pool.
pub const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// SQLite's page cache for each connection of a pool. PostgreSQL keeps one cache for all its
/// connections, its own, and its pools ignore this.
#[derive(Debug, Clone, Copy)]
enum PageCache {
    Reader,
    Writer,
}

impl PageCache {
    /// The writer's holds the pages of the events' unique index that a group commit touches; the
    /// index outgrows any cache within the first million events, and the operating system keeps
    /// the file's pages anyway. Over 10 million events, 64 MiB for each of the five connections
    /// took 359 MB of peak RSS at 145,260 events/s; 16 MiB for the writer and 8 MiB for each
    /// reader, with two glibc arenas (`c_allocator`), 280 MB at 154,724 in the next run. Halving
    /// both again changed neither the rate nor the peak (270–287 MB against 281–284).
    fn pragma(self) -> &'static str {
        match self {
            PageCache::Reader => "pragma cache_size = -8192",
            PageCache::Writer => "pragma cache_size = -16384",
        }
    }
}

async fn open_pool(
    options: &AnyConnectOptions,
    dialect: Dialect,
    connections: u32,
    page_cache: PageCache,
) -> Result<AnyPool, sqlx::Error> {
    AnyPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_secs(10))
        // A ping before every acquire was one more round trip per statement run on the pool (a
        // worker thread's turn on SQLite); only a connection idle long enough for the database to
        // have dropped it (a restart, a failover) is pinged, and replaced when it does not answer.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= IDLE_BEFORE_PING {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if dialect == Dialect::Sqlite {
                    conn.execute("pragma journal_mode = wal").await?;
                    conn.execute("pragma synchronous = normal").await?;
                    conn.execute("pragma busy_timeout = 10000").await?;
                    conn.execute("pragma foreign_keys = on").await?;
                    conn.execute(page_cache.pragma()).await?;
                    conn.execute(checkpointer::NO_CHECKPOINT_ON_COMMIT).await?;
                } else {
                    conn.execute(WITHOUT_JIT).await?;
                }
                Ok(())
            })
        })
        .connect_with(options.clone())
        .await
}

/// `sqlite:data/portal.db` → create `data/` and open read-write-create.
fn prepare_sqlite_url(url: &str) -> Result<String, Error> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let file = path.split('?').next().unwrap_or_default();
    if file.is_empty() || file == ":memory:" {
        return Err(Error::Config("DATABASE_URL: an SQLite URL needs a file path".into()));
    }
    if let Some(parent) = std::path::Path::new(file).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::Config(format!("DATABASE_URL: cannot create {}: {e}", parent.display())))?;
    }
    Ok(if path.contains("mode=") {
        format!("sqlite:{path}")
    } else if path.contains('?') {
        format!("sqlite:{path}&mode=rwc")
    } else {
        format!("sqlite:{path}?mode=rwc")
    })
}

/// How many prepared statements each PostgreSQL connection keeps, unless the URL says. Statements
/// over lists (`row_placeholders`, `list_placeholders`) differ with each list's length, so the
/// connections' caches filled with one-off statements of thousands of parameters: with sqlx's
/// default of 100, the server's peak RSS over 10 million events was 219–287 MB, with 32 it was
/// 152 MB, at the same rate; a page runs 5 to 7 statements. SQLite's connections keep sqlx's 100,
/// which the `Any` driver cannot change there; its statements over lists stay few instead
/// (`bulk::recurring_chunks`, `bulk::kept_prepared`).
const POSTGRES_STATEMENTS_KEPT: usize = 32;

/// A URL that does not parse is left as it is, for sqlx to refuse with its own message.
fn prepare_postgres_url(url: &str) -> String {
    const CAPACITY: &str = "statement-cache-capacity";
    let Ok(mut parsed) = url::Url::parse(url) else { return url.to_owned() };
    if !parsed.query_pairs().any(|(key, _)| key == CAPACITY) {
        parsed.query_pairs_mut().append_pair(CAPACITY, &POSTGRES_STATEMENTS_KEPT.to_string());
    }
    parsed.into()
}

/// A unique-constraint violation is the caller's conflict, named by the field it protects.
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_are_opened_read_write_create() {
        assert_eq!(prepare_sqlite_url("sqlite:/tmp/x.db").unwrap(), "sqlite:/tmp/x.db?mode=rwc");
        assert_eq!(
            prepare_sqlite_url("sqlite:/tmp/x.db?cache=shared").unwrap(),
            "sqlite:/tmp/x.db?cache=shared&mode=rwc"
        );
        assert_eq!(prepare_sqlite_url("sqlite:/tmp/x.db?mode=ro").unwrap(), "sqlite:/tmp/x.db?mode=ro");
        assert!(prepare_sqlite_url("sqlite::memory:").is_err());
    }

    #[test]
    fn postgres_connections_keep_fewer_prepared_statements_unless_the_url_says() {
        assert_eq!(prepare_postgres_url("postgres://h/db"), "postgres://h/db?statement-cache-capacity=32");
        assert_eq!(
            prepare_postgres_url("postgres://h/db?sslmode=require"),
            "postgres://h/db?sslmode=require&statement-cache-capacity=32"
        );
        let chosen = "postgres://h/db?statement-cache-capacity=200";
        assert_eq!(prepare_postgres_url(chosen), chosen);
        let encoded = "postgres://h/db?statement%2Dcache%2Dcapacity=200";
        assert_eq!(prepare_postgres_url(encoded), encoded);
        // Where sqlx reads it: in the query, not after a fragment; around the spaces it ignores.
        assert_eq!(prepare_postgres_url("postgres://h/db#x"), "postgres://h/db?statement-cache-capacity=32#x");
        assert_eq!(prepare_postgres_url(" postgres://h/db "), "postgres://h/db?statement-cache-capacity=32");
    }

    #[tokio::test]
    async fn figures_read_on_a_replica_are_not_kept() {
        let file = std::env::temp_dir().join(format!("keep-derived-{}.db", std::process::id()));
        let mut db = Db::connect(&format!("sqlite:{}", file.display())).await.unwrap();
        let read_at = db.rollup_derived.generation("org_1");
        db.lagging = true;
        db.keep_derived("org_1", "figure", read_at, Arc::new(1_u8));
        assert!(db.rollup_derived.get::<u8>("org_1", "figure").is_none());
        db.lagging = false;
        db.keep_derived("org_1", "figure", read_at, Arc::new(2_u8));
        assert_eq!(db.rollup_derived.get::<u8>("org_1", "figure").as_deref(), Some(&2));
        let _ = std::fs::remove_file(file);
    }

    #[test]
    fn the_dialect_follows_the_url_scheme() {
        assert_eq!(Dialect::from_url("sqlite:data/portal.db"), Some(Dialect::Sqlite));
        assert_eq!(Dialect::from_url("postgres://u@h/db"), Some(Dialect::Postgres));
        assert_eq!(Dialect::from_url("postgresql://u@h/db"), Some(Dialect::Postgres));
        assert_eq!(Dialect::from_url("mysql://u@h/db"), None);
    }

    /// Migrations whose SQLite and PostgreSQL texts differ on purpose (indexes and storage that
    /// only one dialect has). Every other migration is the same file in both folders.
    const WRITTEN_PER_DIALECT: [&str; 14] = [
        "20261201000009_admin_console.sql",
        "20261201000011_rollup_covering_index.sql",
        "20261201000012_rollup_parts.sql",
        "20261201000013_events_by_commit_only.sql",
        "20261201000014_parts_clustered.sql",
        "20261202000016_overpayments.sql",
        "20261202000020_disputes.sql",
        "20261203000025_sign_up.sql",
        "20261204000028_coupons.sql",
        "20261204000032_billing_role.sql",
        "20261204000033_resubscribe.sql",
        "20261207000042_usage_event_partitions.sql",
        "20261207000044_session_user.sql",
        "20261207000045_invoice_lines_unchecked_key.sql",
    ];

    #[test]
    fn every_migration_exists_in_both_dialects_and_only_the_listed_ones_differ() {
        let folder =
            |dialect: &str| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations").join(dialect);
        let names = |dialect: &str| -> std::collections::BTreeSet<String> {
            std::fs::read_dir(folder(dialect))
                .expect("migrations folder")
                .map(|entry| entry.expect("migration file").file_name().to_string_lossy().into_owned())
                .collect()
        };
        let (sqlite, postgres) = (names("sqlite"), names("postgres"));
        let one_dialect_only: Vec<_> = sqlite.symmetric_difference(&postgres).collect();
        assert!(one_dialect_only.is_empty(), "migrations in one dialect only: {one_dialect_only:?}");
        let read = |dialect: &str, name: &str| std::fs::read_to_string(folder(dialect).join(name)).expect("migration");
        let differing: Vec<&str> =
            sqlite.iter().filter(|name| read("sqlite", name) != read("postgres", name)).map(String::as_str).collect();
        println!("migrations written per dialect: {differing:?}");
        assert_eq!(differing, WRITTEN_PER_DIALECT, "a migration's dialects diverged (or converged): update the list");
    }
}
