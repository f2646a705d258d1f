//! Load for the usage ingestion API, and the raw-insert baseline it is measured against.
//!
//! ```text
//! loadgen setup    --database-url URL --organizations 4 --namespaces 5 --keys-file keys.json
//! loadgen http     --url http://127.0.0.1:3000 --keys-file keys.json --events 1000000 --connections 8
//! loadgen baseline --database-url URL --events 1000000
//! loadgen alert-latency --url http://127.0.0.1:3000 --database-url URL --samples 200
//! loadgen webhooks --url http://127.0.0.1:3000 --secret whsec_… --events 20000 --connections 8
//! loadgen rating   --lines 10000000
//! loadgen invoice-run --database-url URL --subscriptions 100000 --namespaces 10
//! ```
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use clap::{Parser, Subcommand};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use server::shared::time::now_ms;
use server::store::Db;
use tokio::sync::Mutex;

// The invoice run benchmark runs the billing code in this process: with the server's allocator, so
// it measures what the server's billing job does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod alert_latency;
mod baseline;
mod billing_bench;
mod closed_loop;
mod noisy_neighbour;
mod page_bench;
mod rollup_lag;
mod setup;
mod webhook_bench;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create organizations, namespaces and API keys for a load run; write the keys to a file.
    Setup {
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        #[arg(long, default_value_t = 4)]
        organizations: usize,
        #[arg(long, default_value_t = 5)]
        namespaces: usize,
        #[arg(long, default_value = "loadgen-keys.json")]
        keys_file: String,
    },
    /// Send batches of events over HTTP and report events/s and batch latency.
    Http {
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        url: String,
        #[arg(long, default_value = "loadgen-keys.json")]
        keys_file: String,
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        #[arg(long, default_value_t = 8)]
        connections: usize,
        #[arg(long, default_value_t = 1_000)]
        batch: usize,
        /// Share of events that repeat an id already sent (answered `duplicate`).
        #[arg(long, default_value_t = 0.05)]
        duplicate_share: f64,
        /// Duplicates repeat ids of the batch another connection last sent for the same
        /// organization, often still in flight (a client retrying a batch that timed out),
        /// instead of any id the connection sent before. Needs more connections than
        /// organizations.
        #[arg(long)]
        recent_duplicates: bool,
        /// Share of events dated inside the closed period (stored and flagged `late`).
        #[arg(long, default_value_t = 0.01)]
        late_share: f64,
        /// Share of `actions` events that carry an `action_type` dimension.
        #[arg(long, default_value_t = 0.0)]
        typed_share: f64,
        /// The server's database: when given, rollup lag is sampled during the run.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// One organization floods ingestion over many connections while the first sends paced batches;
    /// report the quiet one's batch latency alone and under the flood.
    NoisyNeighbour {
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        url: String,
        #[arg(long, default_value = "loadgen-keys.json")]
        keys_file: String,
        #[arg(long, default_value_t = 500)]
        quiet_batches: usize,
        #[arg(long, default_value_t = 7)]
        flood_connections: usize,
    },
    /// A budget one batch short of its limit, the batch that reaches it, and the time until its
    /// alert's webhook arrives; other organizations may flood ingestion meanwhile. The server must
    /// allow private webhook targets (the receiver listens on loopback).
    AlertLatency {
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        url: String,
        #[arg(long, default_value = "loadgen-keys.json")]
        keys_file: String,
        /// The server's database, to register the receiver as the organization's owner.
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        #[arg(long, default_value_t = 200)]
        samples: usize,
        /// Connections flooding another organization's ingestion while measuring (0: none).
        #[arg(long, default_value_t = 0)]
        background_connections: usize,
    },
    /// Post signed Stripe events with distinct ids to the webhook endpoint; report deliveries/s and ack latency.
    Webhooks {
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        url: String,
        #[arg(long, env = "STRIPE_WEBHOOK_SECRET")]
        secret: String,
        #[arg(long, default_value_t = 20_000)]
        events: u64,
        #[arg(long, default_value_t = 8)]
        connections: usize,
    },
    /// Fetch the demo owner's dashboard, usage and invoice pages with many concurrent users.
    Pages {
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        url: String,
        /// The demo database the server runs on (for the organization and invoice ids).
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        #[arg(long, default_value_t = 50)]
        users: usize,
        #[arg(long, default_value_t = 5_000)]
        requests: u64,
        /// Which pages, in order: dashboard, usage, invoice, and login (the framework's floor: a
        /// page with no data behind it, fetched without a session).
        #[arg(long, value_delimiter = ',', default_value = "dashboard,usage,invoice")]
        pages: Vec<String>,
    },
    /// Rate the Business plan repeatedly on one core and report invoice lines per second.
    Rating {
        #[arg(long, default_value_t = 10_000_000)]
        lines: u64,
        #[arg(long, default_value_t = 10)]
        namespaces: usize,
    },
    /// Create subscriptions with rollups in a fresh database, then time drafting and finalizing their invoices.
    InvoiceRun {
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        #[arg(long, default_value_t = 100_000)]
        subscriptions: usize,
        #[arg(long, default_value_t = 10)]
        namespaces: usize,
    },
    /// Insert the same number of event rows straight into the database with its best bulk method.
    Baseline {
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        #[arg(long, default_value_t = 10_000)]
        rows_per_transaction: usize,
    },
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    match Cli::parse().command {
        Command::Setup { database_url, organizations, namespaces, keys_file } => {
            let db = Db::connect(&database_url).await?;
            db.migrate().await?;
            let targets = setup::create_targets(&db, organizations, namespaces).await?;
            std::fs::write(&keys_file, serde_json::to_string_pretty(&targets)?)?;
            println!("{organizations} organizations with {namespaces} namespaces each; keys in {keys_file}");
        }
        Command::Http {
            url,
            keys_file,
            events,
            connections,
            batch,
            duplicate_share,
            recent_duplicates,
            late_share,
            typed_share,
            database_url,
        } => {
            let targets: Vec<setup::Target> = serde_json::from_str(&std::fs::read_to_string(&keys_file)?)?;
            if recent_duplicates && connections <= targets.len() {
                return Err(format!(
                    "--recent-duplicates needs more connections than organizations ({})",
                    targets.len()
                )
                .into());
            }
            let shape = Shape { duplicate_share, recent_duplicates, late_share, typed_share, batch };
            let lag = match database_url {
                Some(url) => Some(rollup_lag::Sampler::start(Db::connect(&url).await?)),
                None => None,
            };
            run_http(&url, targets, events, connections, shape).await?;
            if let Some(lag) = lag {
                lag.report().await?;
            }
        }
        Command::NoisyNeighbour { url, keys_file, quiet_batches, flood_connections } => {
            let targets: Vec<setup::Target> = serde_json::from_str(&std::fs::read_to_string(&keys_file)?)?;
            noisy_neighbour::run(&url, &targets, quiet_batches, flood_connections).await?;
        }
        Command::AlertLatency { url, keys_file, database_url, samples, background_connections } => {
            let targets: Vec<setup::Target> = serde_json::from_str(&std::fs::read_to_string(&keys_file)?)?;
            let db = Db::connect(&database_url).await?;
            alert_latency::run(&url, &db, &targets, samples, background_connections).await?;
        }
        Command::Webhooks { url, secret, events, connections } => {
            webhook_bench::run(&url, &secret, events, connections).await?
        }
        Command::Pages { url, database_url, users, requests, pages } => {
            page_bench::run(&url, &Db::connect(&database_url).await?, users, requests, &pages).await?
        }
        Command::Rating { lines, namespaces } => billing_bench::rating(lines, namespaces),
        Command::InvoiceRun { database_url, subscriptions, namespaces } => {
            let db = Db::connect(&database_url).await?;
            db.migrate().await?;
            billing_bench::invoice_run(&db, subscriptions, namespaces).await?;
        }
        Command::Baseline { database_url, events, rows_per_transaction } => {
            let db = Db::connect(&database_url).await?;
            let started = Instant::now();
            baseline::insert_rows(&db, &database_url, events, rows_per_transaction).await?;
            let secs = started.elapsed().as_secs_f64();
            println!(
                "baseline {:?}: {events} rows in {secs:.1} s = {:.0} rows/s ({rows_per_transaction} rows per transaction)",
                db.dialect,
                events as f64 / secs
            );
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
struct Shape {
    duplicate_share: f64,
    recent_duplicates: bool,
    late_share: f64,
    typed_share: f64,
    batch: usize,
}

/// The values the portal declares for `actions`' `action_type`.
const ACTION_TYPES: [&str; 6] = ["workflow_start", "activity", "signal", "query", "timer", "other"];

struct Totals {
    latencies_us: Mutex<Vec<u64>>,
    accepted: AtomicU64,
    duplicates: AtomicU64,
    rejected: AtomicU64,
    failed_batches: AtomicU64,
}

/// The `q` quantile of sorted microsecond latencies, in milliseconds.
fn percentile_ms(sorted_us: &[u64], q: f64) -> f64 {
    sorted_us.get(((sorted_us.len() as f64 - 1.0) * q) as usize).copied().unwrap_or(0) as f64 / 1000.0
}

async fn run_http(
    url: &str,
    targets: Vec<setup::Target>,
    events: u64,
    connections: usize,
    shape: Shape,
) -> Result<(), Box<dyn std::error::Error>> {
    let run = Arc::new(HttpRun {
        endpoint: format!("{url}/v1/usage/events"),
        last_sent: targets.iter().map(|_| LastSent::default()).collect(),
        targets,
        remaining: AtomicU64::new(events),
        totals: Totals {
            latencies_us: Mutex::new(Vec::new()),
            accepted: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            failed_batches: AtomicU64::new(0),
        },
        shape,
        base_ms: now_ms(),
    });
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..connections {
        let run = run.clone();
        workers.push(tokio::spawn(async move { send_batches(worker, &run).await }));
    }
    for worker in workers {
        worker.await?;
    }
    let totals = &run.totals;
    let secs = started.elapsed().as_secs_f64();
    let mut latencies = totals.latencies_us.lock().await.clone();
    latencies.sort_unstable();
    let pick = |q: f64| percentile_ms(&latencies, q);
    let sent = totals.accepted.load(Ordering::Relaxed)
        + totals.duplicates.load(Ordering::Relaxed)
        + totals.rejected.load(Ordering::Relaxed);
    println!(
        "http: {sent} events in {secs:.1} s = {:.0} events/s over {connections} connections, batches of {}; \
         batch latency p50 {:.1} ms, p99 {:.1} ms; accepted {}, duplicates {}, rejected {}, failed batches {}",
        sent as f64 / secs,
        shape.batch,
        pick(0.5),
        pick(0.99),
        totals.accepted.load(Ordering::Relaxed),
        totals.duplicates.load(Ordering::Relaxed),
        totals.rejected.load(Ordering::Relaxed),
        totals.failed_batches.load(Ordering::Relaxed),
    );
    Ok(())
}

/// What the connections of one `http` run share.
struct HttpRun {
    endpoint: String,
    targets: Vec<setup::Target>,
    /// Per target, the batch last sent for it.
    last_sent: Vec<LastSent>,
    /// Events still to send.
    remaining: AtomicU64,
    totals: Totals,
    shape: Shape,
    /// One instant for every connection, so an id resent by another connection is the same event.
    base_ms: i64,
}

/// (the connection that sent the batch, its sequence numbers).
type LastSent = std::sync::Mutex<Option<(usize, std::ops::Range<u64>)>>;

async fn send_batches(worker: usize, run: &HttpRun) {
    let HttpRun { endpoint, targets, remaining, totals, shape, base_ms, .. } = run;
    let (shape, base_ms) = (*shape, *base_ms);
    let client = reqwest::Client::new();
    let mut rng = StdRng::seed_from_u64(worker as u64 ^ now_ms() as u64);
    // One organization per connection, so a resent id reaches the organization that has it.
    let target = &targets[worker % targets.len()];
    let last_sent = &run.last_sent[worker % targets.len()];
    let mut next_sequence: u64 = 0;
    let mut latencies = Vec::new();
    loop {
        let want = shape.batch as u64;
        let Ok(previous) =
            remaining.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| (r > 0).then(|| r.saturating_sub(want)))
        else {
            break;
        };
        let size = previous.min(want) as usize;
        // Another connection's batch: this connection's own last one has been answered already.
        let recent = match shape.recent_duplicates.then(|| last_sent.lock().unwrap().clone()).flatten() {
            Some((sender, sent)) if sender != worker => Some((sender, sent)),
            _ => None,
        };
        let first_sequence = next_sequence;
        let batch: Vec<Value> = (0..size)
            .map(|_| {
                let (sender, sequence) = match &recent {
                    Some((sender, sent)) if rng.gen_bool(shape.duplicate_share) => {
                        (*sender, rng.gen_range(sent.clone()))
                    }
                    None if next_sequence > 0 && rng.gen_bool(shape.duplicate_share) => {
                        (worker, rng.gen_range(0..next_sequence))
                    }
                    _ => {
                        next_sequence += 1;
                        (worker, next_sequence - 1)
                    }
                };
                event(sender, sequence, target, base_ms, shape)
            })
            .collect();
        if shape.recent_duplicates && next_sequence > first_sequence {
            *last_sent.lock().unwrap() = Some((worker, first_sequence..next_sequence));
        }
        let sent = Instant::now();
        let reply = client.post(endpoint).bearer_auth(&target.key).json(&batch).send().await;
        latencies.push(sent.elapsed().as_micros() as u64);
        match reply {
            Ok(response) if response.status().is_success() => {
                if let Ok(body) = response.json::<Value>().await {
                    for (field, counter) in [
                        ("accepted", &totals.accepted),
                        ("duplicates", &totals.duplicates),
                        ("rejected", &totals.rejected),
                    ] {
                        counter.fetch_add(body[field].as_u64().unwrap_or(0), Ordering::Relaxed);
                    }
                }
            }
            _ => {
                totals.failed_batches.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    totals.latencies_us.lock().await.extend(latencies);
}

/// The event with this sequence number; the same number always gives the same event, so a resend
/// is a true duplicate.
fn event(worker: usize, sequence: u64, target: &setup::Target, base_ms: i64, shape: Shape) -> Value {
    let mut rng = StdRng::seed_from_u64(((worker as u64) << 40) ^ sequence);
    let minutes_ago = if rng.gen_bool(shape.late_share) { rng.gen_range(70..110) } else { rng.gen_range(0..50) };
    let at_ms = base_ms - minutes_ago * 60_000 - rng.gen_range(0..60_000);
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(at_ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let namespace = &target.namespaces[rng.gen_range(0..target.namespaces.len())];
    let (metric, quantity) = if rng.gen_bool(0.8) {
        ("actions", rng.gen_range(1..500))
    } else {
        ("active_storage_gbh", rng.gen_range(1..5_000))
    };
    let mut event = json!({
        "id": format!("w{worker}-{sequence}"),
        "namespace": namespace,
        "metric": metric,
        "quantity": quantity,
        "timestamp": at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
    });
    if metric == "actions" && shape.typed_share > 0.0 && rng.gen_bool(shape.typed_share) {
        event["dimensions"] = json!({ "action_type": ACTION_TYPES[rng.gen_range(0..ACTION_TYPES.len())] });
    }
    event
}
