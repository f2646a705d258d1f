//! Two server instances on one database, as behind a load balancer: ingestion, the invoice run,
//! dunning timers and webhook processing run against both at once, and every piece of work
//! happens once. In CI this runs on SQLite and on PostgreSQL (`FOR UPDATE SKIP LOCKED` there).
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use server::billing::invoicing::run_billing_cycle;
use server::payments::domain::dunning::DAY_MS;
use server::payments::domain::stripe_signature::sign;
use server::shared::time::{display_rfc3339, parse_rfc3339_or_date};

use crate::helpers::*;

const SECRET: &str = "whsec_two_instances";

fn at(text: &str) -> i64 {
    parse_rfc3339_or_date(text).expect("an RFC 3339 instant")
}

#[tokio::test]
async fn two_instances_on_one_database_do_every_piece_of_work_once() {
    let start = at("2027-03-01T00:00:00Z");
    let extra = ["--payments-interval-seconds", "1", "--stripe-webhook-secret", SECRET];
    let a = spawn_app_at(Some(start), &extra).await;
    let b = spawn_instance(&a.database_url, Some(start), &extra).await;
    let set_clock = |now: i64| {
        a.db.clock.set(now);
        b.db.clock.set(now);
    };
    set_clock(start + 3_600_000);

    // The same batch through both instances at once: every event stored once, rolled up once.
    let key = a.api_key(&ACME_OWNER, "Acme Corp").await;
    let events: Vec<Value> = (0..500)
        .map(|i| {
            json!({ "id": format!("e{i}"), "namespace": "payments-prod", "metric": "actions", "quantity": 10,
                    "timestamp": display_rfc3339(start + i * 1_000) })
        })
        .collect();
    let batch = Value::Array(events);
    let (first, second) = tokio::join!(a.send_events(&key, &batch), b.send_events(&key, &batch));
    assert_eq!((first.status(), second.status()), (StatusCode::OK, StatusCode::OK));
    assert_eq!(a.count("select count(*) from usage_events").await, 500);
    a.wait_for_rollups().await;
    let total: i64 = a.rollups("actions").await.iter().map(|r| r.2).sum();
    assert_eq!(total, 5_000);

    // A declined card saved through one instance; the invoice run on both at once.
    let acme = a.organization_id("Acme Corp").await;
    let owner = b.client_for(&ACME_OWNER).await;
    let card =
        [("organization_id", acme.as_str()), ("number", "4000000000000341"), ("exp_month", "12"), ("exp_year", "2031")];
    assert_eq!(b.call_with(&owner, "save_test_card", &card).await.status(), StatusCode::OK);
    for instant in ["2027-04-01T00:00:00Z", "2027-04-03T01:00:00Z"] {
        set_clock(at(instant));
        let (x, y) = tokio::join!(
            run_billing_cycle(&a.db, &a.rules, at(instant)),
            run_billing_cycle(&b.db, &b.rules, at(instant))
        );
        x.expect("cycle on a");
        y.expect("cycle on b");
    }
    assert_eq!(a.count("select count(*) from invoices").await, 1);
    assert_eq!(a.count("select count(*) from ledger_transactions where kind = 'invoice.finalized'").await, 1);

    // Both payments jobs race for each collection timer: one charge per step.
    let day0 = at("2027-04-03T01:00:00Z");
    a.wait_for_count("select count(*) from payments", 1).await;
    set_clock(day0 + 3 * DAY_MS);
    a.wait_for_count("select count(*) from payments", 2).await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(a.count("select count(*) from payments").await, 2, "no step ran twice");
    assert_eq!(a.count("select count(*) from test_mode_charges").await, 2);
    assert_eq!(a.count("select count(*) from notifications where kind = 'payment_failed'").await, 1);

    // A new card through the other instance pays at once; the events are processed once in all.
    let owner_a = a.client_for(&ACME_OWNER).await;
    let card =
        [("organization_id", acme.as_str()), ("number", "4242424242424242"), ("exp_month", "12"), ("exp_year", "2031")];
    assert_eq!(a.call_with(&owner_a, "save_test_card", &card).await.status(), StatusCode::OK);
    assert_eq!(a.count("select count(*) from invoices where status = 'paid'").await, 1);
    a.wait_for_count("select count(*) from stripe_events where status not in ('processed', 'ignored')", 0).await;
    assert_eq!(a.count("select count(*) from ledger_transactions where kind = 'payment.received'").await, 1);

    // One Stripe event delivered to both instances at once: stored once, processed once.
    let event = include_str!("../fixtures/payment_intent.succeeded.json");
    let now = a.db.clock.now_ms() / 1000;
    let deliver = |app: &TestApp| {
        let signature = format!("t={now},v1={}", sign(SECRET, now, event.as_bytes()));
        new_client().post(app.url("/stripe/webhook")).header("stripe-signature", signature).body(event).send()
    };
    let (x, y) = tokio::join!(deliver(&a), deliver(&b));
    assert_eq!((x.unwrap().status(), y.unwrap().status()), (StatusCode::OK, StatusCode::OK));
    a.wait_for_count("select count(*) from stripe_events where status = 'pending'", 0).await;
    assert_eq!(a.count("select count(*) from stripe_events where id = 'evt_3QdTjpLkdIwHu7ix0KQb5bPN'").await, 1);
    let attempts: i64 =
        sqlx::query_scalar("select attempts from stripe_events where id = 'evt_3QdTjpLkdIwHu7ix0KQb5bPN'")
            .fetch_one(&a.db.pool)
            .await
            .unwrap();
    assert_eq!(attempts, 1, "claimed by one instance");
}

/// On PostgreSQL every instance hears every rollup (LISTEN/NOTIFY), so a chart open on one
/// instance moves when usage arrives through the other. (An embedded SQLite portal is one instance.)
#[tokio::test]
async fn a_live_chart_on_one_instance_hears_usage_ingested_through_the_other() {
    let a = spawn_app().await;
    if !a.database_url.starts_with("postgres") {
        return;
    }
    let b = spawn_instance(&a.database_url, None, &[]).await;
    let acme = a.organization_id("Acme Corp").await;
    let key = a.api_key(&ACME_OWNER, "Acme Corp").await;
    let owner = b.client_for(&ACME_OWNER).await;
    let mut stream = owner.get(b.url(&format!("/orgs/{acme}/usage/live"))).send().await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    // Give B's listener its connection before the event: LISTEN only hears what comes after it.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let event = json!([{ "id": "cross", "namespace": "payments-prod", "metric": "actions", "quantity": 1,
                         "timestamp": minutes_ago(3) }]);
    assert_eq!(a.send_events(&key, &event).await.status(), StatusCode::OK);
    let chunk = tokio::time::timeout(Duration::from_secs(3), stream.chunk())
        .await
        .expect("a notice within 3 s")
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&chunk).contains("event: rollup"));
}

/// Each instance keeps an organization's rated period until a rollup notice for it arrives, and on
/// PostgreSQL notices from every instance reach every instance: the estimate read on one moves
/// once usage arrives through the other.
#[tokio::test]
async fn an_estimate_kept_by_one_instance_moves_when_usage_arrives_through_the_other() {
    let a = spawn_app().await;
    if !a.database_url.starts_with("postgres") {
        return;
    }
    let b = spawn_instance(&a.database_url, None, &[]).await;
    let acme = a.organization_id("Acme Corp").await;
    let key = a.api_key(&ACME_OWNER, "Acme Corp").await;
    let owner = b.client_for(&ACME_OWNER).await;
    let estimate = || async {
        let dashboard = json(b.call_with(&owner, "dashboard", &[("organization_id", &acme)]).await).await;
        dashboard["estimate"]["total_minor"].as_i64().expect("an estimate")
    };
    let before = estimate().await;
    assert_eq!(estimate().await, before, "read twice, kept once");
    // Both instances listen for notices before the usage is sent: one that started listening
    // later would have missed none (it drops what it kept when it starts), but the test would
    // wait on its start instead of on the notice.
    let listening = "select count(*) from pg_stat_activity
                     where datname = current_database() and query ilike 'listen%usage_rolled_up%'";
    a.wait_for_count(listening, 2).await;

    // 50,000,000 actions go beyond any plan's included ones; sent at the current minute, since the
    // period began at the hour the app started.
    let event = json!([{ "id": "kept", "namespace": "payments-prod", "metric": "actions", "quantity": 50_000_000,
                         "timestamp": minutes_ago(0) }]);
    assert_eq!(a.send_events(&key, &event).await.status(), StatusCode::OK);
    a.wait_for_rollups().await;
    for _ in 0..30 {
        if estimate().await > before {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("instance b still estimates {before} minor units after usage arrived through a");
}

#[tokio::test]
async fn an_id_stored_through_another_instance_is_answered_duplicate_or_conflict() {
    let a = spawn_app().await;
    let b = spawn_instance(&a.database_url, None, &[]).await;
    let key = a.api_key(&ACME_OWNER, "Acme Corp").await;
    let at = minutes_ago(5);
    let event = |id: &str, quantity: i64| json!({"id": id, "namespace": "payments-prod", "metric": "actions", "quantity": quantity, "timestamp": at});
    let first = json(a.send_events(&key, &json!([event("x1", 1), event("x2", 2)])).await).await;
    assert_eq!(first["accepted"], 2);

    // Instance b has never seen these ids; the database still knows them.
    let again = json(b.send_events(&key, &json!([event("x1", 1), event("x2", 3), event("x3", 4)])).await).await;
    let statuses: Vec<&str> =
        again["results"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["duplicate", "rejected", "accepted"]);
    assert_eq!(b.count("select count(*) from usage_events").await, 3);
    b.wait_for_rollups().await;
    assert_eq!(b.rollups("actions").await.iter().map(|r| r.2).sum::<i64>(), 1 + 2 + 4);
}
