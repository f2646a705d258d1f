//! Rollup lag under load: how long the oldest marked hour has waited for its recomputation,
//! sampled every 100 ms while events stream in, and how long the backlog takes to drain after.
use std::time::{Duration, Instant};

use server::shared::time::now_ms;
use server::store::Db;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct Sampler {
    db: Db,
    stop: watch::Sender<bool>,
    samples: JoinHandle<Vec<u64>>,
}

impl Sampler {
    pub fn start(db: Db) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let pool = db.pool.clone();
        let samples = tokio::spawn(async move {
            let mut lags_ms = Vec::new();
            loop {
                let oldest: Option<i64> = sqlx::query_scalar("select min(marked_at) from usage_dirty_hours")
                    .fetch_one(&pool)
                    .await
                    .unwrap_or(None);
                lags_ms.push(oldest.map_or(0, |at| (now_ms() - at).max(0) as u64));
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    _ = stopped.changed() => return lags_ms,
                }
            }
        });
        Self { db, stop, samples }
    }

    pub async fn report(self) -> Result<(), Box<dyn std::error::Error>> {
        let load_ended = Instant::now();
        loop {
            let waiting: i64 =
                sqlx::query_scalar("select count(*) from usage_dirty_hours").fetch_one(&self.db.pool).await?;
            if waiting == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let drained = load_ended.elapsed().as_secs_f64();
        let _ = self.stop.send(true);
        let mut lags = self.samples.await?;
        lags.sort_unstable();
        let pick = |q: f64| lags.get(((lags.len() as f64 - 1.0) * q) as usize).copied().unwrap_or(0);
        println!(
            "rollup lag during the load ({} samples): p50 {} ms, p99 {} ms, max {} ms; backlog drained {drained:.1} s after the last batch",
            lags.len(),
            pick(0.5),
            pick(0.99),
            lags.last().copied().unwrap_or(0)
        );
        Ok(())
    }
}
