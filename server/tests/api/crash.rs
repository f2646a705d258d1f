//! SIGKILL of the real binary: during ingestion every event answered `accepted` survives exactly
//! once and the rollups catch up; during a charge and its webhook processing, the restarted server
//! finishes the same charge with the same idempotency key and loses no event.
use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{ACME_OWNER, fresh_database_url, minutes_ago, new_client};

fn start_server(database_url: &str, port: u16) -> Child {
    start_server_with(database_url, port, &[])
}

pub fn start_server_with(database_url: &str, port: u16, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--database-url", database_url, "--listen-addr", &format!("127.0.0.1:{port}"), "--log-level", "error"])
        .args(extra)
        .stdout(Stdio::null())
        .spawn()
        .expect("start the server binary")
}

pub async fn wait_ready(port: u16) {
    let client = new_client();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(format!("http://127.0.0.1:{port}/readyz")).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server on port {port} did not become ready");
}

/// A new API key of Acme, made by its owner through the portal of the server at `base`.
pub async fn acme_api_key(base: &str, db: &server::store::Db) -> String {
    let client = new_client();
    let login = client
        .post(format!("{base}/api/login"))
        .form(&[("email", ACME_OWNER.email), ("password", ACME_OWNER.password)]);
    assert!(login.send().await.unwrap().status().is_success());
    let acme: String =
        sqlx::query_scalar("select id from organizations where name = 'Acme Corp'").fetch_one(&db.pool).await.unwrap();
    let created: Value = client
        .post(format!("{base}/api/create_api_key"))
        .form(&[("organization_id", acme.as_str()), ("name", "test run")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    created["secret"].as_str().unwrap().to_owned()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

#[tokio::test]
async fn a_server_killed_during_ingestion_loses_no_accepted_event_and_its_rollups_catch_up() {
    let database_url = fresh_database_url().await;
    let db = server::store::Db::connect(&database_url).await.unwrap();
    db.migrate().await.unwrap();
    server::demo::seed_demo(&db, None).await.unwrap();
    let port = free_port();
    let mut child = start_server(&database_url, port);
    wait_ready(port).await;

    let base = format!("http://127.0.0.1:{port}");
    let key = acme_api_key(&base, &db).await;

    // Send batches until the kill makes requests fail; remember what was answered `accepted`.
    let sender = {
        let (key, base) = (key.clone(), base.clone());
        tokio::spawn(async move {
            let client = new_client();
            let mut accepted: Vec<String> = Vec::new();
            for batch in 0.. {
                let events: Vec<Value> = (0..200)
                    .map(|i| {
                        let namespace = ["payments-prod", "payments-staging"][i % 2];
                        json!({"id": format!("c{batch}-{i}"), "namespace": namespace,
                               "metric": "actions", "quantity": 1 + i, "timestamp": minutes_ago((i % 90) as i64)})
                    })
                    .collect();
                let Ok(response) =
                    client.post(format!("{base}/v1/usage/events")).bearer_auth(&key).json(&events).send().await
                else {
                    break;
                };
                let Ok(reply) = response.json::<Value>().await else { break };
                for result in reply["results"].as_array().into_iter().flatten() {
                    if result["status"] == "accepted" {
                        accepted.push(format!("c{batch}-{}", result["index"]));
                    }
                }
            }
            accepted
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().expect("SIGKILL the server");
    child.wait().unwrap();
    let accepted = sender.await.unwrap();
    assert!(accepted.len() >= 200, "the load ran before the kill ({} accepted)", accepted.len());

    let mut restarted = start_server(&database_url, port);
    wait_ready(port).await;
    let stored: Vec<String> =
        sqlx::query_scalar("select event_id from usage_events").fetch_all(&db.pool).await.unwrap();
    let stored: HashSet<String> = stored.into_iter().collect();
    let missing: Vec<&String> = accepted.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(missing.is_empty(), "{} accepted events lost, e.g. {:?}", missing.len(), missing.first());

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (mismatches, pending) = server::metering::usage::reconcile(&db, i64::MIN / 2, i64::MAX / 2).await.unwrap();
        if pending == 0 {
            assert_eq!(mismatches, vec![]);
            break;
        }
        assert!(Instant::now() < deadline, "rollups did not catch up after the restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    restarted.kill().unwrap();
    restarted.wait().unwrap();
}

async fn count(db: &server::store::Db, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&db.pool).await.expect(sql)
}

#[tokio::test]
async fn a_server_killed_while_charging_a_new_card_charges_it_once_after_the_restart() {
    use server::billing::domain::subscription::DowngradeTiming;
    use server::billing::period_rating::BillingRules;
    use server::payments::collection::Collector;
    use server::payments::domain::dunning::DunningPolicy;

    let database_url = fresh_database_url().await;
    let db = server::store::Db::connect(&database_url).await.unwrap();
    db.migrate().await.unwrap();
    let day = 86_400_000;
    let rules = BillingRules {
        grace_ms: 2 * day,
        payment_terms_ms: 14 * day,
        late_usage_window_ms: 35 * day,
        downgrade_timing: DowngradeTiming::PeriodEnd,
        credit_max_minor: 1_000_000,
    };
    let collector = Collector::test_mode(&db, DunningPolicy::default(), Duration::ZERO, "http://portal.test");
    // Initech's card is declined: it is past due when the server starts.
    let outbox = server::notifications::delivery::Outbox::default();
    server::demo::seed_demo(&db, Some((&rules, &collector, &outbox))).await.unwrap();
    let demo_code = "select count(*) from promotion_codes where code = 'WELCOME20'";
    assert_eq!(sqlx::query_scalar::<_, i64>(demo_code).fetch_one(&db.pool).await.unwrap(), 1, "a coupon ready to use");
    let waiting = "select count(*) from payments where failure_code = 'authentication_required'";
    assert_eq!(sqlx::query_scalar::<_, i64>(waiting).fetch_one(&db.pool).await.unwrap(), 1, "Vandelay's payment waits");
    // Customers with a history send their usage with a key, so their dashboards show no first steps.
    let without_key = "select count(*) from organizations o join subscriptions s on s.organization_id = o.id
        where o.name in ('Acme Corp', 'Initech') and not exists (select 1 from api_keys k where k.organization_id = o.id)";
    assert_eq!(sqlx::query_scalar::<_, i64>(without_key).fetch_one(&db.pool).await.unwrap(), 0, "every key in place");
    let initech: String =
        sqlx::query_scalar("select id from organizations where name = 'Initech'").fetch_one(&db.pool).await.unwrap();
    let port = free_port();
    // The processor answers a charge 5 s after making it: the kill lands in between.
    let slow = ["--test-mode-charge-latency-ms", "5000", "--payments-interval-seconds", "1"];
    let mut child = start_server_with(&database_url, port, &slow);
    wait_ready(port).await;

    let client = new_client();
    let base = format!("http://127.0.0.1:{port}");
    let login = client
        .post(format!("{base}/api/login"))
        .form(&[("email", "owner@initech.test"), ("password", "initech-owner-pass")])
        .send()
        .await
        .unwrap();
    assert!(login.status().is_success());
    let form = [
        ("organization_id", initech.as_str()),
        ("number", "4242424242424242"),
        ("exp_month", "12"),
        ("exp_year", "2035"),
    ];
    let request = client.post(format!("{base}/api/save_test_card")).form(&form).send();
    let pending = tokio::spawn(request);
    let charged = "select count(*) from test_mode_charges where idempotency_key like '%:method-%'";
    let deadline = Instant::now() + Duration::from_secs(20);
    while count(&db, charged).await == 0 {
        assert!(Instant::now() < deadline, "the new card was never charged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().expect("SIGKILL the server");
    child.wait().unwrap();
    assert!(pending.await.unwrap().is_err(), "the request died with the server");
    let recorded = "select status from payments where idempotency_key like '%:method-%'";
    let status: String = sqlx::query_scalar(recorded).fetch_one(&db.pool).await.unwrap();
    assert_eq!(status, "pending", "charged by the processor, not yet recorded by us");

    let mut restarted = start_server_with(&database_url, port, &["--payments-interval-seconds", "1"]);
    wait_ready(port).await;
    // The dead server's leases lapse (they would after a few minutes).
    sqlx::query("update collections set lease_until = null").execute(&db.pool).await.unwrap();
    sqlx::query("update stripe_events set next_attempt_at = 0 where status in ('pending', 'failed')")
        .execute(&db.pool)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let unsettled =
            count(&db, "select count(*) from stripe_events where status not in ('processed', 'ignored')").await;
        let paid = count(&db, "select count(*) from invoices where status = 'paid'").await;
        if unsettled == 0 && paid == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "not settled after the restart: {unsettled} events, {paid} paid");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count(&db, charged).await, 1, "the same idempotency key: one charge");
    let status: String = sqlx::query_scalar(recorded).fetch_one(&db.pool).await.unwrap();
    assert_eq!(status, "succeeded");
    assert_eq!(count(&db, "select count(*) from ledger_transactions where kind = 'payment.received'").await, 1);
    let subscription: String = sqlx::query_scalar("select status from subscriptions where organization_id = $1")
        .bind(&initech)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(subscription, "active");
    restarted.kill().unwrap();
    restarted.wait().unwrap();
}
