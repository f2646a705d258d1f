//! One organization floods ingestion while another sends at its usual pace: the quiet one's batch
//! latency is measured alone first, then under the flood, so the quota's effect shows as a ratio.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::percentile_ms;
use crate::setup::Target;

/// The quiet organization's batches: small and paced, as a service reporting its usage.
const QUIET_BATCH: usize = 100;
const QUIET_PACE: Duration = Duration::from_millis(20);
/// Distinct batches each flooding connection sends in turn (later rounds are duplicates).
const FLOOD_BODIES: usize = 50;

pub async fn run(
    url: &str,
    targets: &[Target],
    quiet_batches: usize,
    flood_connections: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let [quiet, noisy, ..] = targets else { return Err("the keys file needs two organizations".into()) };
    let endpoint = format!("{url}/v1/usage/events");
    let alone = quiet_latencies(&endpoint, quiet, "alone", quiet_batches).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let flooding = flood(url, noisy, flood_connections, stop.clone())?;
    // Let the flood reach its pace before measuring under it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let flooded = quiet_latencies(&endpoint, quiet, "flooded", quiet_batches).await?;
    stop.store(true, Ordering::Relaxed);
    let (sent, refused) = flooding.finish().await?;
    let p99 = |latencies: &[u64]| percentile_ms(latencies, 0.99);
    println!(
        "noisy neighbour: quiet organization's batches of {QUIET_BATCH}, p50 {:.1} ms p99 {:.1} ms alone; \
         p50 {:.1} ms p99 {:.1} ms while another floods over {flood_connections} connections \
         ({} batches of 1,000 accepted, {} answered 429); p99 ratio {:.2}",
        percentile_ms(&alone, 0.5),
        p99(&alone),
        percentile_ms(&flooded, 0.5),
        p99(&flooded),
        sent,
        refused,
        p99(&flooded) / p99(&alone).max(0.001),
    );
    Ok(())
}

/// Connections sending one organization's batches of 1,000 as fast as they are answered.
pub struct Flooding {
    connections: Vec<tokio::task::JoinHandle<()>>,
    sent: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
}

impl Flooding {
    /// Waits for the connections to see `stop`; answers how many batches were accepted and
    /// how many refused with 429.
    pub async fn finish(self) -> Result<(u64, u64), Box<dyn std::error::Error>> {
        for connection in self.connections {
            connection.await?;
        }
        Ok((self.sent.load(Ordering::Relaxed), self.refused.load(Ordering::Relaxed)))
    }
}

pub fn flood(
    url: &str,
    noisy: &Target,
    connections: usize,
    stop: Arc<AtomicBool>,
) -> Result<Flooding, Box<dyn std::error::Error>> {
    let endpoint = format!("{url}/v1/usage/events");
    let (sent, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut handles = Vec::new();
    for connection in 0..connections {
        let (stop, sent, refused) = (stop.clone(), sent.clone(), refused.clone());
        let (endpoint, noisy) = (endpoint.clone(), noisy.clone());
        // Bodies made up front and sent in turn: building one per request would spend the
        // shared cores on the client, not on the server under test.
        let mut sequence = 0u64;
        let bodies: Vec<Vec<u8>> = (0..FLOOD_BODIES)
            .map(|_| serde_json::to_vec(&events(&noisy, &format!("flood{connection}"), &mut sequence, 1_000)))
            .collect::<Result<_, _>>()?;
        handles.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for body in bodies.iter().cycle() {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let request = client.post(&endpoint).bearer_auth(&noisy.key).header("content-type", "application/json");
                match request.body(body.clone()).send().await {
                    Ok(response) if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS => {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(response) if response.status().is_success() => {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
        }));
    }
    Ok(Flooding { connections: handles, sent, refused })
}

/// Sorted latencies of `batches` paced batches of the quiet organization, in microseconds.
async fn quiet_latencies(
    endpoint: &str,
    quiet: &Target,
    phase: &str,
    batches: usize,
) -> Result<Vec<u64>, Box<dyn std::error::Error>> {
    let client = reqwest::Client::new();
    let mut sequence = 0u64;
    let mut latencies = Vec::with_capacity(batches);
    for _ in 0..batches {
        let batch = events(quiet, &format!("quiet-{phase}"), &mut sequence, QUIET_BATCH);
        let sent = Instant::now();
        let response = client.post(endpoint).bearer_auth(&quiet.key).json(&batch).send().await?;
        if !response.status().is_success() {
            return Err(format!("the quiet organization's batch was answered {}", response.status()).into());
        }
        latencies.push(sent.elapsed().as_micros() as u64);
        tokio::time::sleep(QUIET_PACE).await;
    }
    latencies.sort_unstable();
    Ok(latencies)
}

fn events(target: &Target, prefix: &str, sequence: &mut u64, count: usize) -> Vec<Value> {
    let run = crate::now_ms();
    let at = crate::alert_latency::now_rfc3339();
    (0..count)
        .map(|_| {
            *sequence += 1;
            json!({
                "id": format!("{prefix}-{run}-{sequence}"),
                "namespace": target.namespaces[*sequence as usize % target.namespaces.len()],
                "metric": "actions",
                "quantity": 1,
                "timestamp": at,
            })
        })
        .collect()
}
