//! SQLite: the write-ahead log is copied into the database file by a connection of its own, beside
//! the writer. Left to SQLite, the commit that grows the log past 1,000 pages copies it, and syncs
//! the file, while this process's one writer waits: a quarter of the invoice run's time went there.
use std::sync::Weak;
use std::time::Duration;

use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, Connection, Executor};
use tokio::time::MissedTickBehavior;

/// How often committed pages are copied.
const EVERY: Duration = Duration::from_millis(100);

/// The longest wait after failures in a row: a database that cannot be opened (its folder gone, a
/// full disk) is tried, and logged, every few seconds rather than ten times a second.
const MOST_AFTER_FAILURES: Duration = Duration::from_secs(10);

/// A log this long is copied to its end and emptied, the writer waiting for the moment it takes
/// (most pages are copied by then). Copies alone never empty it while a writer never pauses: the
/// log grew to 1.5 GB over an invoice run of 100,000 subscriptions.
const TRUNCATE_AFTER_PAGES: i64 = 16_384;

/// What every SQLite connection of the pools sets, so no commit copies the log itself.
pub const NO_CHECKPOINT_ON_COMMIT: &str = "pragma wal_autocheckpoint = 0";

/// Copies the log every [`EVERY`] until `alive` has no strong handle left (the last clone of the
/// store was dropped). A copy that meets a reader of older pages copies what it can; the next one
/// copies the rest.
pub fn spawn(options: AnyConnectOptions, alive: Weak<impl Send + Sync + 'static>) {
    tokio::spawn(async move {
        let mut conn: Option<AnyConnection> = None;
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut failures: u32 = 0;
        while alive.strong_count() > 0 {
            tick.tick().await;
            let result = match conn.as_mut() {
                Some(open) => checkpoint(open, TRUNCATE_AFTER_PAGES).await.map(drop),
                None => connect(&options).await.map(|open| conn = Some(open)),
            };
            match result {
                Ok(()) => failures = 0,
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let wait = wait_after_failures(failures);
                    tracing::warn!(%error, wait_ms = wait.as_millis() as u64, "checkpoint failed; trying again later");
                    conn = None;
                    tokio::time::sleep(wait).await;
                }
            }
        }
        if let Some(open) = conn {
            let _ = open.close().await;
        }
    });
}

/// Doubles from one tick with each failure in a row, up to [`MOST_AFTER_FAILURES`].
fn wait_after_failures(failures: u32) -> Duration {
    EVERY.saturating_mul(1 << failures.saturating_sub(1).min(16)).min(MOST_AFTER_FAILURES)
}

async fn connect(options: &AnyConnectOptions) -> Result<AnyConnection, sqlx::Error> {
    let mut conn = AnyConnection::connect_with(options).await?;
    // Emptying the log waits for the writer's transaction and for readers still in the log, and
    // new writers wait meanwhile: at most this long, then a later tick tries again.
    conn.execute("pragma busy_timeout = 100").await?;
    Ok(conn)
}

#[derive(Debug, PartialEq, Eq)]
enum Checkpoint {
    Copied,
    Emptied,
}

/// Copies what it can; a long log is emptied only when the copy reached its end, so no reader
/// held older pages: emptying it while one does would keep writers waiting on that reader. A
/// reader that started since still makes it wait, for the busy timeout at most.
async fn checkpoint(conn: &mut AnyConnection, truncate_after_pages: i64) -> Result<Checkpoint, sqlx::Error> {
    let (busy, log_pages, copied): (i64, i64, i64) =
        sqlx::query_as("pragma wal_checkpoint(passive)").fetch_one(&mut *conn).await?;
    if busy == 0 && log_pages >= truncate_after_pages && copied == log_pages {
        let (busy, _, _): (i64, i64, i64) =
            sqlx::query_as("pragma wal_checkpoint(truncate)").fetch_one(&mut *conn).await?;
        if busy == 0 {
            return Ok(Checkpoint::Emptied);
        }
    }
    Ok(Checkpoint::Copied)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    async fn write(conn: &mut AnyConnection) {
        for _ in 0..50 {
            conn.execute("insert into pages values (randomblob(16000))").await.unwrap();
        }
    }

    #[test]
    fn failures_in_a_row_wait_longer_each_time_up_to_ten_seconds() {
        assert_eq!(wait_after_failures(1), Duration::from_millis(100));
        assert_eq!(wait_after_failures(2), Duration::from_millis(200));
        assert_eq!(wait_after_failures(7), Duration::from_millis(6_400));
        assert_eq!(wait_after_failures(8), Duration::from_secs(10));
        assert_eq!(wait_after_failures(u32::MAX), Duration::from_secs(10));
    }

    #[tokio::test]
    async fn a_long_log_is_emptied_unless_a_reader_holds_older_pages() {
        sqlx::any::install_default_drivers();
        let file = std::env::temp_dir().join(format!("checkpointer-{}.db", std::process::id()));
        let options = AnyConnectOptions::from_str(&format!("sqlite:{}?mode=rwc", file.display())).unwrap();
        let mut writer = connect(&options).await.unwrap();
        writer.execute("pragma journal_mode = wal").await.unwrap();
        writer.execute(NO_CHECKPOINT_ON_COMMIT).await.unwrap();
        writer.execute("create table pages (content blob)").await.unwrap();
        write(&mut writer).await;
        let log = || std::fs::metadata(file.with_extension("db-wal")).map(|m| m.len()).unwrap_or(0);
        let written = log();
        assert!(written > 800_000, "the commits left their pages in the log: {written} bytes");

        let mut checkpointer = connect(&options).await.unwrap();
        assert_eq!(checkpoint(&mut checkpointer, 1_000).await.unwrap(), Checkpoint::Copied);
        assert_eq!(log(), written, "a copy leaves the log as long as it was");

        // A reader in the middle of a read holds the pages it started with.
        let mut reader = connect(&options).await.unwrap();
        reader.execute("begin").await.unwrap();
        let _: i64 = sqlx::query_scalar("select count(*) from pages").fetch_one(&mut reader).await.unwrap();
        write(&mut writer).await;
        assert_eq!(
            checkpoint(&mut checkpointer, 100).await.unwrap(),
            Checkpoint::Copied,
            "not while a reader holds pages"
        );
        reader.execute("commit").await.unwrap();

        assert_eq!(checkpoint(&mut checkpointer, 100).await.unwrap(), Checkpoint::Emptied);
        assert_eq!(log(), 0, "a log past the limit is emptied");
        let kept: i64 = sqlx::query_scalar("select count(*) from pages").fetch_one(&mut writer).await.unwrap();
        assert_eq!(kept, 100, "every page is in the database file");
        drop((writer, checkpointer, reader));
        for suffix in ["db", "db-wal", "db-shm"] {
            let _ = std::fs::remove_file(file.with_extension(suffix));
        }
    }
}
