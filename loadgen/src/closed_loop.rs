//! Request loads with a fixed number of concurrent clients: each sends its next request as soon
//! as the previous one is answered, until the total is reached.
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::sync::Mutex;

pub struct Run {
    pub seconds: f64,
    /// Microseconds per request, sorted.
    pub latencies_us: Vec<u64>,
    pub failed: u64,
}

impl Run {
    pub fn per_second(&self, total: u64) -> f64 {
        total as f64 / self.seconds
    }

    pub fn percentile_ms(&self, q: f64) -> f64 {
        crate::percentile_ms(&self.latencies_us, q)
    }
}

/// Sends `total` requests over `clients` concurrent clients; `request(n)` sends the n-th and
/// answers whether it succeeded.
pub async fn run<F, Fut>(clients: usize, total: u64, request: F) -> Result<Run, tokio::task::JoinError>
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let latencies_us = Arc::new(Mutex::new(Vec::with_capacity(total as usize)));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..clients {
        let (next, failed, latencies_us, request) =
            (next.clone(), failed.clone(), latencies_us.clone(), request.clone());
        workers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    break;
                }
                let sent = Instant::now();
                let ok = request(n).await;
                mine.push(sent.elapsed().as_micros() as u64);
                if !ok {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies_us.lock().await.extend(mine);
        }));
    }
    for worker in workers {
        worker.await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut latencies_us = std::mem::take(&mut *latencies_us.lock().await);
    latencies_us.sort_unstable();
    Ok(Run { seconds, latencies_us, failed: failed.load(Ordering::Relaxed) })
}
