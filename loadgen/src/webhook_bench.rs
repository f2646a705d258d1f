//! Webhook acknowledgement load: realistic Stripe events with distinct ids, signed the way Stripe
//! signs them, posted over several connections; reports deliveries per second and latency.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use server::domain::stripe_signature::sign;
use server::domain::time::now_ms;
use tokio::sync::Mutex;

const FIXTURE: &str = include_str!("../../server/tests/fixtures/payment_intent.succeeded.json");
const FIXTURE_ID: &str = "evt_3QdTjpLkdIwHu7ix0KQb5bPN";

pub async fn run(url: &str, secret: &str, events: u64, connections: usize) -> Result<(), Box<dyn std::error::Error>> {
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let latencies_us = Arc::new(Mutex::new(Vec::with_capacity(events as usize)));
    let run_id = now_ms();
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..connections {
        let (next, failed, latencies_us) = (next.clone(), failed.clone(), latencies_us.clone());
        let (endpoint, secret) = (format!("{url}/stripe/webhook"), secret.to_owned());
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut mine = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= events {
                    break;
                }
                let body = FIXTURE.replace(FIXTURE_ID, &format!("evt_bench_{run_id}_{n}"));
                let at = now_ms() / 1000;
                let signature = format!("t={at},v1={}", sign(&secret, at, body.as_bytes()));
                let sent = Instant::now();
                let answer = client.post(&endpoint).header("stripe-signature", signature).body(body).send().await;
                mine.push(sent.elapsed().as_micros() as u64);
                if !answer.is_ok_and(|a| a.status().is_success()) {
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
    let mut latencies = latencies_us.lock().await.clone();
    latencies.sort_unstable();
    println!(
        "webhooks: {events} deliveries in {seconds:.1} s = {:.0} deliveries/s over {connections} connections; \
         ack latency p50 {:.1} ms, p99 {:.1} ms; failed {}",
        events as f64 / seconds,
        crate::percentile_ms(&latencies, 0.5),
        crate::percentile_ms(&latencies, 0.99),
        failed.load(Ordering::Relaxed)
    );
    Ok(())
}
