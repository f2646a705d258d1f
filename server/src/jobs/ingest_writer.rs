//! Group commit for usage ingestion. Requests hand their checked batches to one writer task,
//! which stores every batch waiting at that moment in a single transaction and answers each
//! request after the commit. Commits, not rows, limit insert rates (see the README's figures),
//! so merging concurrent batches multiplies throughput while "accepted" still means durable.
//!
//! SQLite has one writer at a time, so it gets one task. PostgreSQL gets several: while one
//! group's transaction waits on the server, the next group is already being inserted.
use std::sync::Arc;

use tokio::sync::{Mutex, OwnedRwLockWriteGuard, RwLock, mpsc, oneshot};

use crate::error::Error;
use crate::metering::id_claims::IdClaims;
use crate::metering::usage::{CheckedBatch, EventOutcome, store_batches};
use crate::store::Db;
use crate::store::Dialect;

/// Events per transaction, at most; one request's batch is never split.
const MAX_EVENTS_PER_COMMIT: usize = 20_000;
const QUEUE_DEPTH: usize = 256;
const POSTGRES_WRITERS: usize = 3;
/// A group that copies an id another instance is copying too (or stored before a restart, when
/// the filter of seen ids took it as new) is refused by the unique index, or aborted by
/// PostgreSQL to end a deadlock. It is stored again, looking every id up. This instance's own
/// writers never meet that way: they claim their ids first (see `id_claims`).
const ATTEMPTS: usize = 5;
/// Ids remembered as stored, per generation of the filter (two generations: 24 MB in all).
const IDS_PER_GENERATION: usize = 8_000_000;

type Reply = oneshot::Sender<Result<Vec<EventOutcome>, String>>;
type Queue = Arc<Mutex<mpsc::Receiver<(CheckedBatch, Reply)>>>;

#[derive(Clone)]
pub struct IngestWriter {
    queue: mpsc::Sender<(CheckedBatch, Reply)>,
    /// PostgreSQL only: writers share it while they store a group; `hold_off` takes it alone.
    gate: Option<Arc<RwLock<()>>>,
}

impl IngestWriter {
    /// Starts the writer tasks; they end when every `IngestWriter` handle is dropped.
    pub fn start(db: Db) -> Self {
        let (queue, waiting) = mpsc::channel(QUEUE_DEPTH);
        let waiting: Queue = Arc::new(Mutex::new(waiting));
        let claims = Arc::new(IdClaims::new(IDS_PER_GENERATION));
        let gate = match db.dialect {
            Dialect::Sqlite => {
                spawn_on_own_thread(write_batches(db, waiting, None, claims));
                None
            }
            Dialect::Postgres => {
                let gate = Arc::new(RwLock::new(()));
                for _ in 0..POSTGRES_WRITERS {
                    tokio::spawn(write_batches(db.clone(), waiting.clone(), Some(gate.clone()), claims.clone()));
                }
                Some(gate)
            }
        };
        Self { queue, gate }
    }

    /// Waits for the groups being stored and keeps new ones from starting until the guard drops.
    /// The rollup worker holds it while a pass writes: under full load, three PostgreSQL writers
    /// left a pass a quarter of the CPU, and late in a 10-million-event run its lag passed a
    /// second. Holding them off for the pass's read too cost a quarter of the ingestion rate.
    /// SQLite needs none: its one writer and the pass already take turns at the write lock.
    pub async fn hold_off(&self) -> Option<OwnedRwLockWriteGuard<()>> {
        match &self.gate {
            Some(gate) => Some(gate.clone().write_owned().await),
            None => None,
        }
    }

    pub async fn store(&self, batch: CheckedBatch) -> Result<Vec<EventOutcome>, Error> {
        let (reply, answer) = oneshot::channel();
        self.queue.send((batch, reply)).await.map_err(|_| Error::Corrupt("the ingest writer stopped".into()))?;
        answer
            .await
            .map_err(|_| Error::Corrupt("the ingest writer dropped a batch".into()))?
            .map_err(|cause| Error::Corrupt(format!("storing usage failed: {cause}")))
    }
}

/// SQLite's one writer limits its ingestion, and it sends a statement at a time to the
/// connection's thread. On its own thread it goes on as soon as each answer comes, instead of
/// queueing behind request handlers on the shared runtime's workers (1M events over 8 connections:
/// 146,000–154,500 events/s before, 159,600–160,000 after).
fn spawn_on_own_thread(writer: impl Future<Output = ()> + Send + 'static) {
    let started = std::thread::Builder::new().name("ingest-writer".into()).spawn(move || {
        match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime.block_on(writer),
            Err(error) => tracing::error!(%error, "the ingest writer's runtime did not start"),
        }
    });
    if let Err(error) = started {
        tracing::error!(%error, "the ingest writer's thread did not start");
    }
}

async fn write_batches(db: Db, waiting: Queue, gate: Option<Arc<RwLock<()>>>, claims: Arc<IdClaims>) {
    while let Some(group) = next_group(&waiting).await {
        for commit in light_first(group) {
            store_group(&db, gate.as_deref(), &claims, commit).await;
        }
    }
}

/// An organization with at most this many events in a group is light: a quiet customer's batch.
const LIGHT_EVENTS: usize = 250;

/// The group as commits: the batches of light organizations first, in their own commit, when heavy
/// ones share the group; otherwise the whole group at once. A quiet customer's batch then waits
/// for its own small commit, not for another's flood of large batches (the noisy-neighbour
/// benchmark), and a group of equals is still one commit.
fn light_first<T: Weighed>(group: Vec<T>) -> Vec<Vec<T>> {
    let mut per_organization: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for item in &group {
        *per_organization.entry(item.organization_id()).or_insert(0) += item.event_count();
    }
    let light: std::collections::HashSet<String> = per_organization
        .iter()
        .filter(|(_, events)| **events <= LIGHT_EVENTS)
        .map(|(organization, _)| (*organization).to_owned())
        .collect();
    if light.is_empty() || light.len() == per_organization.len() {
        return vec![group];
    }
    let (light, heavy): (Vec<T>, Vec<T>) = group.into_iter().partition(|item| light.contains(item.organization_id()));
    vec![light, heavy]
}

/// What `light_first` reads of a waiting batch.
trait Weighed {
    fn organization_id(&self) -> &str;
    fn event_count(&self) -> usize;
}

impl Weighed for (CheckedBatch, Reply) {
    fn organization_id(&self) -> &str {
        &self.0.organization_id
    }

    fn event_count(&self) -> usize {
        self.0.event_count()
    }
}

/// Stores one commit's batches, again after another writer's refusal, and answers each request.
async fn store_group(db: &Db, gate: Option<&RwLock<()>>, claims: &IdClaims, group: Vec<(CheckedBatch, Reply)>) {
    let (batches, replies): (Vec<CheckedBatch>, Vec<Reply>) = group.into_iter().unzip();
    let storing = match gate {
        Some(gate) => Some(gate.read().await),
        None => None,
    };
    // Claimed once the gate is passed: a group may wait for one that claimed before it, and that
    // one must not be queued at the gate behind a rollup pass that waits for this one.
    let mut claim = claims.claim(batches.iter().map(|batch| (batch.organization_id.as_str(), batch.event_ids())));
    let mut attempt = 1;
    let stored = loop {
        match store_batches(db, &batches, Some(&claim)).await {
            Err(error) if attempt < ATTEMPTS && is_worth_storing_again(&error) => {
                tracing::info!(attempt, %error, "a usage group met another instance's transaction; storing it again");
                claim.look_up_all();
                attempt += 1;
            }
            stored => break stored,
        }
    };
    claim.release().await;
    drop(storing);
    match stored {
        Ok(answers) => {
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send(Ok(answer));
            }
        }
        Err(error) => {
            tracing::error!(%error, "storing a group of usage batches failed");
            for reply in replies {
                let _ = reply.send(Err(error.to_string()));
            }
        }
    }
}

/// Every batch waiting at this moment, up to the group limit; `None` once the queue is closed.
async fn next_group(waiting: &Queue) -> Option<Vec<(CheckedBatch, Reply)>> {
    let mut waiting = waiting.lock().await;
    let first = waiting.recv().await?;
    let mut events = first.0.event_count();
    let mut group = vec![first];
    while events < MAX_EVENTS_PER_COMMIT {
        match waiting.try_recv() {
            Ok(next) => {
                events += next.0.event_count();
                group.push(next);
            }
            Err(_) => break,
        }
    }
    Some(group)
}

/// A deadlock, a unique violation (an id another instance stored after this group's lookup), or
/// a wait for another group given up while another instance's transaction waited for this one
/// (see `store_in!`).
fn is_worth_storing_again(error: &Error) -> bool {
    match error {
        Error::WaitGivenUp(_) => true,
        Error::Database(sqlx::Error::Database(db)) => db.code().as_deref() == Some("40P01") || db.is_unique_violation(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Weighed for (&'static str, usize) {
        fn organization_id(&self) -> &str {
            self.0
        }

        fn event_count(&self) -> usize {
            self.1
        }
    }

    #[test]
    fn a_quiet_organizations_batches_get_their_own_commit_ahead_of_a_flood() {
        let group = vec![("flood", 1_000), ("quiet", 100), ("flood", 1_000), ("other", 250)];
        assert_eq!(
            light_first(group),
            [vec![("quiet", 100), ("other", 250)], vec![("flood", 1_000), ("flood", 1_000)]]
        );
    }

    #[test]
    fn a_group_of_equals_stays_one_commit() {
        let heavy = vec![("a", 1_000), ("b", 990), ("a", 1_000)];
        assert_eq!(light_first(heavy.clone()), [heavy]);
        let light = vec![("a", 100), ("b", 100), ("a", 100)];
        assert_eq!(light_first(light.clone()), [light], "three light batches");
        let split_by_total = vec![("a", 200), ("a", 200), ("b", 100)];
        assert_eq!(
            light_first(split_by_total),
            [vec![("b", 100)], vec![("a", 200), ("a", 200)]],
            "a's 400 events together are heavy"
        );
    }
}
