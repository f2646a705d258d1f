//! The rollup worker: recomputes dirty hours as soon as ingestion marks them, and at least every
//! second (marks written by another instance, or left by a crash).
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, broadcast, watch};

use crate::db::{Db, operations};
use crate::jobs::ingest_writer::IngestWriter;
use crate::services::usage::roll_up_dirty_hours;

const HOURS_PER_PASS: i64 = 500;
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Shared by ingestion (which wakes the worker) and live views (which hear about new totals).
pub struct Metering {
    pub max_event_age_ms: i64,
    pub writer: IngestWriter,
    pub ingested: Notify,
    /// Organization ids whose rollups just changed.
    pub rolled_up: broadcast::Sender<String>,
}

impl Metering {
    pub fn new(db: &Db, max_event_age_ms: i64) -> Arc<Self> {
        Arc::new(Self {
            max_event_age_ms,
            writer: IngestWriter::start(db.clone()),
            ingested: Notify::new(),
            rolled_up: broadcast::channel(1024).0,
        })
    }
}

pub async fn run_rollup_worker(db: Db, metering: Arc<Metering>, mut stop: watch::Receiver<bool>) {
    let mut next_prune = Instant::now();
    loop {
        if Instant::now() >= next_prune {
            next_prune = Instant::now() + PRUNE_EVERY;
            if let Err(error) = prune(&db).await {
                tracing::warn!(%error, "pruning ingestion commits failed");
            }
        }
        match roll_up_dirty_hours(&db, HOURS_PER_PASS).await {
            Ok((hours, organizations)) => {
                for organization in organizations {
                    // Nobody listening is fine: the pages read the rollups on their next load.
                    let _ = metering.rolled_up.send(organization);
                }
                if hours as i64 == HOURS_PER_PASS && !*stop.borrow() {
                    continue;
                }
            }
            Err(error) => tracing::warn!(%error, "rollup pass failed; retrying"),
        }
        tokio::select! {
            _ = metering.ingested.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn prune(db: &Db) -> Result<(), crate::error::Error> {
    operations::prune_ingest_commits(&mut *db.pool.acquire().await?, db.clock.now_ms()).await?;
    Ok(())
}
