//! Group commit for usage ingestion. Requests hand their checked batches to one writer task,
//! which stores every batch waiting at that moment in a single transaction and answers each
//! request after the commit. Commits, not rows, limit insert rates (see the README's figures),
//! so merging concurrent batches multiplies throughput while "accepted" still means durable.
use tokio::sync::{mpsc, oneshot};

use crate::db::Db;
use crate::error::Error;
use crate::services::usage::{CheckedBatch, EventOutcome, store_batches};

/// Events per transaction, at most; one request's batch is never split.
const MAX_EVENTS_PER_COMMIT: usize = 20_000;
const QUEUE_DEPTH: usize = 256;

type Reply = oneshot::Sender<Result<Vec<EventOutcome>, String>>;

#[derive(Clone)]
pub struct IngestWriter {
    queue: mpsc::Sender<(CheckedBatch, Reply)>,
}

impl IngestWriter {
    /// Starts the writer task; it ends when every `IngestWriter` handle is dropped.
    pub fn start(db: Db) -> Self {
        let (queue, waiting) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(write_batches(db, waiting));
        Self { queue }
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

async fn write_batches(db: Db, mut waiting: mpsc::Receiver<(CheckedBatch, Reply)>) {
    while let Some(first) = waiting.recv().await {
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
        let (batches, replies): (Vec<CheckedBatch>, Vec<Reply>) = group.into_iter().unzip();
        match store_batches(&db, batches).await {
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
}
