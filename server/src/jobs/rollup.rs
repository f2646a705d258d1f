//! The rollup worker: recomputes dirty hours as soon as ingestion marks them, and at least every
//! second (marks written by another instance, or left by a crash). Each recomputation is announced
//! to the live views of every instance: on PostgreSQL through NOTIFY, which all instances LISTEN
//! to; on SQLite (one instance) directly. Budgets are evaluated between the two.
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, broadcast, watch};

use sqlx::postgres::PgListener;

use crate::error::Error;
use crate::jobs::ingest_writer::IngestWriter;
use crate::metering::db::usage;
use crate::metering::usage::{last_commit_id, read_dirty_parts, set_aside_unsummable_hours, store_rollup};
use crate::spend::evaluation::evaluate_budgets;
use crate::store::Db;
use crate::store::Dialect;
use crate::store::rollup_derived::{EVERY_ORGANIZATION, RollupDerived};

/// A pass is four statements whatever its size; a large one lets a backlog drain in few passes.
const MARKS_PER_PASS: i64 = 2_000;
const GATHER: Duration = Duration::from_millis(200);
/// Every budget is evaluated this often besides after its rollups: an evaluation that failed, or
/// that a crash cut off between a rollup and its evaluation, is done again.
const BUDGET_SWEEP: Duration = Duration::from_secs(60);

/// Shared by ingestion (which wakes the worker) and live views (which hear about new totals).
pub struct Metering {
    pub max_event_age_ms: i64,
    pub writer: IngestWriter,
    pub ingested: Notify,
    /// Organization ids whose rollups just changed.
    pub rolled_up: broadcast::Sender<String>,
    derived: Arc<RollupDerived>,
}

impl Metering {
    pub fn new(db: &Db, max_event_age_ms: i64) -> Arc<Self> {
        Arc::new(Self {
            max_event_age_ms,
            writer: IngestWriter::start(db.clone()),
            ingested: Notify::new(),
            rolled_up: broadcast::channel(1024).0,
            derived: db.rollup_derived.clone(),
        })
    }

    /// Tells this instance that the organization's rollups changed: what was derived from them
    /// is dropped first, so the live views that reload on the notice read new figures.
    fn rolled_up(&self, organization_id: String) {
        self.derived.rolled_up(&organization_id);
        // Nobody listening is fine: the pages read the rollups on their next load.
        let _ = self.rolled_up.send(organization_id);
    }
}

/// How long after a commit number is handed out its transaction is taken to have ended. It only
/// matters for speed: a PostgreSQL commit that ends later, inside a fold, has the fold recomputed.
const COMMITS_END_WITHIN: Duration = Duration::from_secs(1);

/// The newest commit number begun, as seen by the passes of the last moments: what a pass saw
/// `COMMITS_END_WITHIN` ago is settled now.
#[derive(Default)]
struct FoldHorizon {
    seen: VecDeque<(Instant, i64)>,
    settled: Option<i64>,
}

impl FoldHorizon {
    /// Records the newest commit begun at `now`; returns the newest commit settled by then.
    fn observe(&mut self, now: Instant, last_commit: i64) -> Option<i64> {
        self.seen.push_back((now, last_commit));
        while let Some(&(seen_at, commit)) = self.seen.front() {
            if now.duration_since(seen_at) < COMMITS_END_WITHIN {
                break;
            }
            self.settled = Some(commit);
            self.seen.pop_front();
        }
        self.settled
    }
}

#[tracing::instrument(skip_all)]
pub async fn run_rollup_worker(db: Db, metering: Arc<Metering>, mut stop: watch::Receiver<bool>) {
    let mut horizon = FoldHorizon::default();
    let mut last_sweep = Instant::now();
    loop {
        let pass = roll_up_once(&db, &metering, &mut horizon).await;
        match pass {
            Ok((marks, organizations)) => {
                // This instance's figures go at once; its notice may reach its relay later.
                for organization in &organizations {
                    db.rollup_derived.rolled_up(organization);
                }
                announce(&db, &metering, organizations.clone()).await;
                // Budgets after the notices, so a slow evaluation holds up no live view; those
                // with new crossings are announced again, and their open dashboards show them.
                let crossed = evaluate_budgets(&db, Some(&organizations)).await;
                announce(&db, &metering, crossed).await;
                if marks as i64 == MARKS_PER_PASS && !*stop.borrow() {
                    continue;
                }
            }
            Err(error) if error.is_out_of_range() => {
                // Without a horizon nothing is folded, which is always safe.
                let fold_through = fold_horizon(&db, &mut horizon).await.unwrap_or(None);
                let _writers_wait = metering.writer.hold_off().await;
                match set_aside_unsummable_hours(&db, MARKS_PER_PASS, fold_through).await {
                    Ok(count) => tracing::warn!(count, "rollup marks set aside"),
                    Err(error) => tracing::warn!(%error, "setting rollup marks aside failed; retrying"),
                }
                continue;
            }
            Err(error) => tracing::warn!(%error, "rollup pass failed; retrying"),
        }
        if last_sweep.elapsed() >= BUDGET_SWEEP {
            last_sweep = Instant::now();
            let crossed = evaluate_budgets(&db, None).await;
            announce(&db, &metering, crossed).await;
        }
        tokio::select! {
            // A moment's batches are gathered into one pass: a pass sums whole hours again, so
            // one per batch would make recomputation compete with ingestion for the writer.
            _ = metering.ingested.notified() => tokio::time::sleep(GATHER).await,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// One pass; PostgreSQL's ingestion writers wait while it writes.
async fn roll_up_once(db: &Db, metering: &Metering, horizon: &mut FoldHorizon) -> Result<(usize, Vec<String>), Error> {
    let fold_through = fold_horizon(db, horizon).await?;
    let reading = read_dirty_parts(db, MARKS_PER_PASS).await?;
    let _writers_wait = metering.writer.hold_off().await;
    store_rollup(db, reading, fold_through).await
}

/// The newest commit whose parts may be folded. SQLite's counter shows only committed commits;
/// PostgreSQL's sequence also numbers those in flight.
async fn fold_horizon(db: &Db, horizon: &mut FoldHorizon) -> Result<Option<i64>, Error> {
    let last_commit = last_commit_id(db).await?;
    Ok(match db.dialect {
        Dialect::Sqlite => Some(last_commit),
        Dialect::Postgres => horizon.observe(Instant::now(), last_commit),
    })
}

/// The NOTIFY channel that carries organization ids whose rollups changed.
const ROLLUP_CHANNEL: &str = "usage_rolled_up";

async fn announce(db: &Db, metering: &Metering, organizations: Vec<String>) {
    for organization in organizations {
        if db.dialect == Dialect::Postgres {
            let notified = usage::notify_rolled_up(&db.pool, ROLLUP_CHANNEL, &organization).await;
            match notified {
                Ok(_) => continue,
                Err(error) => tracing::warn!(%error, "NOTIFY failed; telling this instance's live views only"),
            }
        }
        metering.rolled_up(organization);
    }
}

/// PostgreSQL only: hands every instance's rollup notices to this instance's live views.
#[tracing::instrument(skip_all)]
pub async fn relay_rollup_notices(database_url: String, metering: Arc<Metering>, mut stop: watch::Receiver<bool>) {
    loop {
        let listened = async {
            let mut listener = PgListener::connect(&database_url).await?;
            listener.listen(ROLLUP_CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let mut listener = tokio::select! {
            listened = listened => match listened {
                Ok(listener) => listener,
                Err(error) => {
                    tracing::warn!(%error, "listening for rollup notices failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        _ = stop.changed() => return,
                    }
                }
            },
            _ = stop.changed() => return,
        };
        // Notices sent before this listener started were missed by it.
        metering.rolled_up(EVERY_ORGANIZATION.to_owned());
        loop {
            tokio::select! {
                notice = listener.try_recv() => match notice {
                    Ok(Some(notice)) => {
                        metering.rolled_up(notice.payload().to_owned());
                    }
                    // The connection dropped and comes back on the next call: notices may be lost.
                    Ok(None) => {
                        metering.rolled_up(EVERY_ORGANIZATION.to_owned());
                    }
                    Err(error) => {
                        tracing::warn!(%error, "rollup notices interrupted; listening again");
                        metering.rolled_up(EVERY_ORGANIZATION.to_owned());
                        break;
                    }
                },
                _ = stop.changed() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_number_is_settled_once_it_was_seen_long_enough_ago() {
        let start = Instant::now();
        let mut horizon = FoldHorizon::default();
        assert_eq!(horizon.observe(start, 5), None);
        assert_eq!(horizon.observe(start + Duration::from_millis(600), 9), None);
        assert_eq!(horizon.observe(start + Duration::from_millis(1_000), 12), Some(5));
        assert_eq!(horizon.observe(start + Duration::from_millis(1_200), 14), Some(5));
        assert_eq!(horizon.observe(start + Duration::from_millis(1_700), 20), Some(9));
        // Quiet for a while: everything seen until then is settled, and stays so.
        assert_eq!(horizon.observe(start + Duration::from_millis(9_000), 20), Some(20));
        assert_eq!(horizon.observe(start + Duration::from_millis(9_100), 23), Some(20));
    }
}
