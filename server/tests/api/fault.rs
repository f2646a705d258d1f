//! The fault run: the real binary is killed with SIGKILL at random moments while usage streams in,
//! an invoice run closes hundreds of periods, their cards are charged and Stripe events arrive;
//! it is restarted each time. Afterwards nothing acknowledged is lost, nothing happened twice and
//! `server reconcile` exits 0. `FAULT_SEED` replays a run and `FAULT_KILLS` sets how many kills
//! it makes (`scripts/soak.sh` runs many); the seed and the kills survived are printed, and
//! appended to the file `FAULT_REPORT` names.
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use server::accounts::db::organizations::{OrganizationRow, insert_organization};
use server::billing::subscriptions::subscribe;
use server::payments::collection::Collector;
use server::payments::domain::dunning::DunningPolicy;
use server::payments::domain::stripe_signature::sign;
use server::payments::methods::{CardForm, add_test_card};
use server::store::Db;

use crate::crash::{acme_api_key, free_port, start_server_with, wait_ready};
use crate::helpers::{fresh_database_url, minutes_ago, new_client};

/// Kills per run unless `FAULT_KILLS` says otherwise.
const KILLS: usize = 8;
const CUSTOMERS: usize = 120;
const SECRET: &str = "whsec_fault_run";
const DAY_MS: i64 = 86_400_000;

#[tokio::test]
async fn random_sigkills_during_ingestion_an_invoice_run_charges_and_webhooks_lose_and_repeat_nothing() {
    let seed: u64 = std::env::var("FAULT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    let kills: usize = std::env::var("FAULT_KILLS").ok().and_then(|k| k.parse().ok()).unwrap_or(KILLS);
    let mut rng = StdRng::seed_from_u64(seed);
    let database_url = fresh_database_url().await;
    let db = Db::connect(&database_url).await.unwrap();
    db.migrate().await.unwrap();
    server::demo::seed_demo(&db, None).await.unwrap();
    customers_with_ended_periods_and_cards(&db).await;

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    // Charges take a moment at the processor, so kills land between charging and recording.
    let flags = [
        "--invoice-grace-hours",
        "0",
        "--billing-interval-seconds",
        "1",
        "--payments-interval-seconds",
        "1",
        "--test-mode-charge-latency-ms",
        "20",
        "--stripe-webhook-secret",
        SECRET,
    ];
    let mut server = Server(start_server_with(&database_url, port, &flags));
    wait_ready(port).await;
    let key = acme_api_key(&base, &db).await;

    let stop = Arc::new(AtomicBool::new(false));
    let usage = tokio::spawn(send_usage(base.clone(), key, stop.clone()));
    let webhooks = tokio::spawn(send_webhooks(base.clone(), stop.clone()));
    for kill in 1..=kills {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(200..1_500))).await;
        println!("kill {kill} of {kills}, with {}", progress(&db).await);
        server.kill();
        lapse_leases(&db).await;
        server = Server(start_server_with(&database_url, port, &flags));
        wait_ready(port).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let accepted_events = usage.await.unwrap();
    let acknowledged_webhooks = webhooks.await.unwrap();

    let settled = [
        "select count(*) from usage_dirty_hours",
        "select count(*) from stripe_events where status not in ('processed', 'ignored')",
        "select count(*) from invoices where status <> 'paid' and organization_id like 'org_fault%'",
    ];
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut waiting = Vec::new();
        for sql in settled {
            waiting.push(count(&db, sql).await);
        }
        if waiting.iter().all(|&n| n == 0) {
            break;
        }
        assert!(Instant::now() < deadline, "not settled after the last restart: {waiting:?} for {settled:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.kill();

    // Every acknowledged event is stored once (the key makes twice impossible), and rolled up.
    let stored: HashSet<String> = sqlx::query_scalar::<_, String>("select event_id from usage_events")
        .fetch_all(&db.pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let lost: Vec<&String> = accepted_events.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(lost.is_empty(), "{} acknowledged events lost, e.g. {:?}", lost.len(), lost.first());
    assert!(accepted_events.len() > 1_000, "the load ran ({} accepted)", accepted_events.len());

    // One invoice per period, numbered without gaps, each charged once and paid once.
    assert_eq!(
        count(&db, "select count(*) from invoices where organization_id like 'org_fault%'").await,
        CUSTOMERS as i64
    );
    let numbers: Vec<(String, String)> =
        sqlx::query_as("select organization_id, number from invoices where number is not null order by number")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let mut per_organization: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (organization, number) in numbers {
        per_organization.entry(organization).or_default().push(number);
    }
    for (organization, numbers) in &per_organization {
        let expected: Vec<String> = (1..=numbers.len()).map(|n| format!("INV-{}-{n:06}", &numbers[0][4..8])).collect();
        assert_eq!(numbers, &expected, "{organization}: gapless");
    }
    let charges = "select count(*) from test_mode_charges t join payments p on p.idempotency_key = t.idempotency_key
                   where p.organization_id like 'org_fault%'";
    assert_eq!(count(&db, charges).await, CUSTOMERS as i64, "one charge per invoice");
    assert_eq!(
        count(&db, "select count(*) from ledger_transactions where kind = 'payment.received'").await,
        CUSTOMERS as i64
    );

    // Every acknowledged webhook stored once and settled; redeliveries changed nothing.
    for id in &acknowledged_webhooks {
        let status: Vec<String> = sqlx::query_scalar("select status from stripe_events where id = $1")
            .bind(id)
            .fetch_all(&db.pool)
            .await
            .unwrap();
        assert_eq!(status, ["ignored"], "{id}");
    }
    assert!(acknowledged_webhooks.len() > 20, "webhooks arrived ({})", acknowledged_webhooks.len());

    let reconcile = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--database-url", &database_url, "reconcile"])
        .output()
        .expect("run server reconcile");
    let report = String::from_utf8_lossy(&reconcile.stdout);
    assert!(reconcile.status.success(), "{report}{}", String::from_utf8_lossy(&reconcile.stderr));
    let backend = database_url.split(':').next().unwrap_or_default();
    let report = format!(
        "fault run on {backend} (FAULT_SEED={seed} FAULT_KILLS={kills}): {kills} kills survived; {} events and {} webhooks acknowledged, \
         {CUSTOMERS} invoices charged once; reconcile clean",
        accepted_events.len(),
        acknowledged_webhooks.len()
    );
    println!("{report}");
    // The test command prints these at the end of its run.
    if let Ok(path) = std::env::var("FAULT_REPORT") {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).expect("the fault report");
        writeln!(file, "{report}").expect("write the fault report");
    }
}

/// The server process, killed with SIGKILL when the run ends, however it ends.
struct Server(std::process::Child);

impl Server {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A dead server's leases on collections and webhook events lapse after minutes; the run does not
/// wait for that.
async fn lapse_leases(db: &Db) {
    sqlx::query("update collections set lease_until = null").execute(&db.pool).await.unwrap();
    sqlx::query("update stripe_events set next_attempt_at = 0 where status in ('pending', 'failed')")
        .execute(&db.pool)
        .await
        .unwrap();
}

/// Where the work stood when a kill landed.
async fn progress(db: &Db) -> String {
    format!(
        "{} events stored, {} of {CUSTOMERS} invoices finalized, {} charged, {} paid, {} webhooks settled",
        count(db, "select count(*) from usage_events").await,
        count(db, "select count(*) from invoices where number is not null and organization_id like 'org_fault%'").await,
        count(db, "select count(*) from test_mode_charges t join payments p on p.idempotency_key = t.idempotency_key where p.organization_id like 'org_fault%'").await,
        count(db, "select count(*) from invoices where status = 'paid' and organization_id like 'org_fault%'").await,
        count(db, "select count(*) from stripe_events where status in ('processed', 'ignored') and id like 'evt_fault%'").await,
    )
}

async fn count(db: &Db, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&db.pool).await.expect(sql)
}

/// Customers a month into their first period, each with a working test card: the first billing
/// cycle after the start closes, invoices and charges them all.
async fn customers_with_ended_periods_and_cards(db: &Db) {
    let collector = Collector::test_mode(db, DunningPolicy::default(), Duration::ZERO, "http://portal.test");
    let started = db.clock.now_ms() - 32 * DAY_MS;
    for n in 0..CUSTOMERS {
        let id = format!("org_fault{n:04}");
        let mut conn = db.pool.acquire().await.unwrap();
        let org = OrganizationRow {
            id: id.clone(),
            name: format!("Fault {n}"),
            billing_email: format!("billing{n}@fault.test"),
            currency: "USD".into(),
            created_at: started,
            onboarded_at: None,
        };
        insert_organization(&mut conn, &org).await.unwrap();
        subscribe(&mut conn, &id, "Essentials", None, started).await.unwrap();
        drop(conn);
        let card = CardForm { number: "4242424242424242", exp_month: "12", exp_year: "2035" };
        add_test_card(db, &collector, "fault-run", &id, &card).await.unwrap();
    }
}

/// Batches of usage, through kills and restarts; answers the ids answered `accepted`.
async fn send_usage(base: String, key: String, stop: Arc<AtomicBool>) -> Vec<String> {
    let client = new_client();
    let mut accepted = Vec::new();
    for batch in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let events: Vec<Value> = (0..100)
            .map(|i| {
                let namespace = ["payments-prod", "payments-staging"][i % 2];
                json!({ "id": format!("f{batch}-{i}"), "namespace": namespace,
                        "metric": "actions", "quantity": 1 + i, "timestamp": minutes_ago((i % 60) as i64) })
            })
            .collect();
        let sent = client.post(format!("{base}/v1/usage/events")).bearer_auth(&key).json(&events).send().await;
        let Ok(reply) = (match sent {
            Ok(response) => response.json::<Value>().await,
            Err(error) => Err(error),
        }) else {
            // Down: the batch may or may not be stored; only acknowledgements count.
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        for result in reply["results"].as_array().into_iter().flatten() {
            if result["status"] == "accepted" {
                accepted.push(format!("f{batch}-{}", result["index"]));
            }
        }
    }
    accepted
}

/// Signed Stripe events, each delivered twice (as Stripe redelivers); answers the ids answered 2xx.
async fn send_webhooks(base: String, stop: Arc<AtomicBool>) -> Vec<String> {
    let client = new_client();
    let mut acknowledged = Vec::new();
    for n in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let id = format!("evt_fault_{n}");
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let body = json!({ "id": id, "object": "event", "type": "customer.updated", "created": now,
                           "livemode": false, "data": { "object": { "id": format!("cus_elsewhere_{n}"), "object": "customer" } } })
        .to_string();
        let signature = format!("t={now},v1={}", sign(SECRET, now, body.as_bytes()));
        for _ in 0..2 {
            let delivered = client
                .post(format!("{base}/stripe/webhook"))
                .header("stripe-signature", &signature)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            if delivered.is_ok_and(|r| r.status().is_success()) && !acknowledged.contains(&id) {
                acknowledged.push(id.clone());
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    acknowledged
}
