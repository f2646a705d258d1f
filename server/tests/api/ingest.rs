use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use server::metering::id_claims::IdClaims;
use server::metering::usage::{CheckedBatch, EventOutcome, check_batch, store_batches};
use server::store::Dialect;

use crate::helpers::{ACME_OWNER, GLOBEX_OWNER, TestApp, json, minutes_ago, spawn_app};

fn event(id: &str, namespace: &str, quantity: i64, at: &str) -> Value {
    json!({"id": id, "namespace": namespace, "metric": "actions", "quantity": quantity, "timestamp": at})
}

#[tokio::test]
async fn a_batch_answers_accepted_duplicate_and_rejected_per_event_and_stores_the_valid_ones() {
    let app = spawn_app().await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let at = minutes_ago(90);
    app.send_events(&key, &json!([event("e1", "payments-prod", 5, &at)])).await;

    let batch = json!([
        event("e2", "payments-prod", 7, &at),
        event("e1", "payments-prod", 5, &at),
        event("e1", "payments-prod", 6, &at),
        event("e3", "logistics", 1, &at),
        {"id": "e4", "namespace": "payments-prod", "metric": "cpu", "quantity": 1, "timestamp": at},
        event("e5", "payments-prod", -1, &at),
        event("e6", "payments-prod", 1, "2020-01-01T00:00:00Z"),
        event("e2", "payments-prod", 7, &at),
    ]);
    let response = app.send_events(&key, &batch).await;

    assert_eq!(response.status(), StatusCode::OK);
    let reply = json(response).await;
    let statuses: Vec<(&str, Option<&str>)> = reply["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["status"].as_str().unwrap(), r["field"].as_str()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("accepted", None),
            ("duplicate", None),
            ("rejected", Some("id")),
            ("rejected", Some("namespace")),
            ("rejected", Some("metric")),
            ("rejected", Some("quantity")),
            ("rejected", Some("timestamp")),
            ("duplicate", None),
        ]
    );
    assert_eq!(
        (reply["accepted"].as_i64(), reply["duplicates"].as_i64(), reply["rejected"].as_i64()),
        (Some(1), Some(2), Some(5))
    );
    assert_eq!(reply["results"][3]["reason"], "unknown namespace");
    assert_eq!(app.count("select count(*) from usage_events").await, 2);

    app.wait_for_rollups().await;
    let rollups = app.rollups("actions").await;
    assert_eq!(rollups.len(), 1);
    assert_eq!((rollups[0].0.as_str(), rollups[0].2), ("payments-prod", 12));
}

#[tokio::test]
async fn ndjson_and_the_events_wrapper_are_accepted_too() {
    let app = spawn_app().await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let at = minutes_ago(5);
    let ndjson = format!("{}\n{}\n", event("n1", "payments-prod", 1, &at), event("n2", "payments-staging", 2, &at));

    let response = app
        .api(Method::POST, "/v1/usage/events", &key)
        .header("content-type", "application/x-ndjson")
        .body(ndjson)
        .send()
        .await
        .unwrap();
    assert_eq!(json(response).await["accepted"], 2);

    let wrapped = app.send_events(&key, &json!({"events": [event("n3", "payments-prod", 3, &at)]})).await;
    assert_eq!(json(wrapped).await["accepted"], 1);
}

#[tokio::test]
async fn bad_bodies_and_bad_keys_are_refused_and_write_nothing() {
    let app = spawn_app().await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let at = minutes_ago(5);

    let malformed = app
        .api(Method::POST, "/v1/usage/events", &key)
        .header("content-type", "application/json")
        .body("[{\"id\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(malformed).await["error"]["field"], "body");
    for (shape, field) in [(r#"{"events": 5}"#, "events"), (r#"{"batch": []}"#, "events"), ("7", "body")] {
        let refused = app
            .api(Method::POST, "/v1/usage/events", &key)
            .header("content-type", "application/json")
            .body(shape)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{shape}");
        assert_eq!(json(refused).await["error"]["field"], field, "{shape}");
    }

    let too_many: Vec<Value> = (0..1001).map(|i| event(&format!("b{i}"), "payments-prod", 1, &at)).collect();
    let oversized = app.send_events(&key, &Value::Array(too_many)).await;
    assert_eq!(oversized.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let huge = app
        .api(Method::POST, "/v1/usage/events", &key)
        .header("content-type", "application/json")
        .body(format!("[\"{}\"]", "x".repeat(3 * 1024 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let no_key = app.send_events("bpk_not_a_key", &json!([event("k1", "payments-prod", 1, &at)])).await;
    assert_eq!(no_key.status(), StatusCode::UNAUTHORIZED);
    let anonymous = app.client.post(app.url("/v1/usage/events")).json(&json!([])).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    assert_eq!(app.count("select count(*) from usage_events").await, 0);
}

#[tokio::test]
async fn a_revoked_key_cannot_send_usage() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    let created =
        json(app.call_with(&owner, "create_api_key", &[("organization_id", &acme), ("name", "k")]).await).await;
    let key = created["secret"].as_str().unwrap();
    let key_id = created["key"]["id"].as_str().unwrap();
    app.call_with(&owner, "revoke_api_key", &[("organization_id", &acme), ("key_id", key_id)]).await;

    let response = app.send_events(key, &json!([event("r1", "payments-prod", 1, &minutes_ago(1))])).await;

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn one_organization_cannot_write_to_another_organizations_namespace() {
    let app = spawn_app().await;
    let globex_key = app.api_key(&GLOBEX_OWNER, "Globex").await;
    let acme_namespace: String = sqlx::query_scalar("select id from namespaces where name = 'payments-prod'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let at = minutes_ago(1);

    let by_name = json(app.send_events(&globex_key, &json!([event("x1", "payments-prod", 1, &at)])).await).await;
    let by_id = json(app.send_events(&globex_key, &json!([event("x2", &acme_namespace, 1, &at)])).await).await;

    assert_eq!(by_name["results"][0]["reason"], "unknown namespace");
    assert_eq!(by_id["results"][0]["reason"], "unknown namespace");
    assert_eq!(app.count("select count(*) from usage_events").await, 0);
}

#[tokio::test]
async fn the_same_event_id_in_two_organizations_is_two_events() {
    let app = spawn_app().await;
    let acme = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let globex = app.api_key(&GLOBEX_OWNER, "Globex").await;
    let at = minutes_ago(1);
    assert_eq!(
        json(app.send_events(&acme, &json!([event("same", "payments-prod", 1, &at)])).await).await["accepted"],
        1
    );
    assert_eq!(json(app.send_events(&globex, &json!([event("same", "logistics", 1, &at)])).await).await["accepted"], 1);
}

#[tokio::test]
async fn events_of_a_closed_period_are_stored_and_flagged_late() {
    let app = spawn_app().await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    // Everything before the current hour is closed.
    let closed_before = server::metering::domain::usage::hour_of(server::shared::time::now_ms());
    sqlx::query("update organizations set usage_closed_before = $1")
        .bind(closed_before)
        .execute(&app.db.pool)
        .await
        .unwrap();

    let reply = json(
        app.send_events(
            &key,
            &json!([
                event("old", "payments-prod", 4, &minutes_ago(120)),
                event("new", "payments-prod", 1, &minutes_ago(0))
            ]),
        )
        .await,
    )
    .await;

    assert_eq!(reply["accepted"], 2);
    assert_eq!(app.count("select count(*) from usage_events where late = 1").await, 1);
    assert_eq!(app.count("select count(*) from usage_events where late = 1 and event_id = 'old'").await, 1);
}

/// Clients that resend overlapping batches at once (PostgreSQL stores them with several writers
/// whose transactions may deadlock on the same new ids): every event is accepted exactly once.
#[tokio::test]
async fn concurrent_overlapping_batches_accept_each_event_exactly_once() {
    let app = spawn_app().await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let at = minutes_ago(30);
    let ids: Vec<String> = (0..300).map(|n| format!("overlap-{n}")).collect();
    let sends = (0..12).map(|client| {
        // Each client sends the ids in its own order, so inserts lock them in different orders.
        let mut order = ids.clone();
        order.rotate_left(client * 25);
        if client % 2 == 1 {
            order.reverse();
        }
        let batch: Vec<Value> = order.iter().map(|id| event(id, "payments-prod", 2, &at)).collect();
        let app = &app;
        let key = &key;
        async move {
            let response = app.send_events(key, &Value::Array(batch)).await;
            assert_eq!(response.status(), StatusCode::OK);
            json(response).await
        }
    });
    let replies = futures_util::future::join_all(sends).await;

    let accepted: i64 = replies.iter().map(|r| r["accepted"].as_i64().unwrap()).sum();
    let duplicates: i64 = replies.iter().map(|r| r["duplicates"].as_i64().unwrap()).sum();
    assert_eq!((accepted, duplicates), (300, 300 * 11));
    assert_eq!(app.count("select count(*) from usage_events").await, 300);
    app.wait_for_rollups().await;
    let rollups = app.rollups("actions").await;
    assert_eq!(rollups.iter().map(|r| r.2).sum::<i64>(), 600);
}

/// The app and Acme's id, on PostgreSQL only: SQLite's one writer stores one group at a time, so
/// no group there ever waits for another.
async fn acme_on_postgres() -> Option<(TestApp, String)> {
    let app = spawn_app().await;
    if app.db.dialect != Dialect::Postgres {
        return None;
    }
    let organization = app.organization_id("Acme Corp").await;
    Some((app, organization))
}

/// A batch of `actions` events with these ids, checked as the ingestion endpoint checks it.
async fn checked_batch(app: &TestApp, organization: &str, ids: &[&str]) -> CheckedBatch {
    let at = minutes_ago(30);
    let events: Vec<Box<RawValue>> = ids
        .iter()
        .map(|id| serde_json::value::to_raw_value(&event(id, "payments-prod", 2, &at)).expect("raw event"))
        .collect();
    let raw: Vec<&RawValue> = events.iter().map(|event| event.as_ref()).collect();
    check_batch(&app.db, organization, &raw, 86_400_000).await.expect("checked")
}

/// A client retries a batch that timed out while the first send is still being stored, and a
/// PostgreSQL writer takes the retry while another has the first send's transaction open: the
/// retry waits for that commit and answers duplicate for the repeated ids, instead of copying them
/// too and being refused by the unique index.
#[tokio::test]
async fn a_retry_of_a_batch_still_being_stored_waits_for_it_and_answers_duplicate() {
    let Some((app, organization)) = acme_on_postgres().await else { return };
    let first = [checked_batch(&app, &organization, &["sent-once", "sent-twice"]).await];
    let retry = [checked_batch(&app, &organization, &["sent-twice", "sent-with-the-retry"]).await];
    let claims = IdClaims::new(1_000);
    let first_claim = claims.claim(first.iter().map(|batch| (batch.organization_id.as_str(), batch.event_ids())));
    let retry_claim = claims.claim(retry.iter().map(|batch| (batch.organization_id.as_str(), batch.event_ids())));
    let retry_answered = AtomicBool::new(false);

    let (retried, ()) = tokio::join!(
        async {
            let answers = store_batches(&app.db, &retry, Some(&retry_claim)).await;
            retry_answered.store(true, Ordering::SeqCst);
            answers
        },
        async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert!(!retry_answered.load(Ordering::SeqCst), "the retry waits for the send it repeats");
            let answers = store_batches(&app.db, &first, Some(&first_claim)).await.expect("stored");
            assert_eq!(answers, [[EventOutcome::Accepted, EventOutcome::Accepted]]);
            drop(first_claim);
        }
    );

    assert_eq!(retried.expect("stored, not refused"), [[EventOutcome::Duplicate, EventOutcome::Accepted]]);
    assert_eq!(app.count("select count(*) from usage_events").await, 3);
}

/// A group waits for another for as long as it takes, unless a transaction waits for it in turn:
/// another instance storing the same new id, while the group this one waits for may wait for that
/// instance (a circle PostgreSQL cannot see). Then it gives up, stores nothing, and is stored
/// again once the other has ended.
#[tokio::test]
async fn a_waiting_group_that_another_instance_waits_for_gives_up_and_is_stored_again() {
    let Some((app, organization)) = acme_on_postgres().await else { return };
    let batch = [checked_batch(&app, &organization, &["held-by-a-group", "also-sent-elsewhere"]).await];
    let claims = IdClaims::new(1_000);
    let held = claims.claim([(organization.as_str(), vec!["held-by-a-group"])]);
    let mut claim = claims.claim(batch.iter().map(|batch| (batch.organization_id.as_str(), batch.event_ids())));
    let (elsewhere_began, elsewhere_stored) = (AtomicBool::new(false), AtomicBool::new(false));

    let ((gave_up, waited_for), ()) = tokio::join!(
        async {
            let stored = store_batches(&app.db, &batch, Some(&claim)).await;
            (stored, elsewhere_began.load(Ordering::SeqCst))
        },
        async {
            // Longer than a check: nobody waits for the group yet, so it goes on waiting.
            tokio::time::sleep(Duration::from_millis(1_500)).await;
            // Another instance stores the group's other new id: it waits for the group's key.
            let mut elsewhere = app.db.pool.begin().await.expect("begin");
            elsewhere_began.store(true, Ordering::SeqCst);
            sqlx::query(
                "insert into usage_event_keys (organization_id, event_id, content_hash)
                 values ($1, 'also-sent-elsewhere', 'elsewhere')",
            )
            .bind(&organization)
            .execute(&mut *elsewhere)
            .await
            .expect("stored once the group gave up");
            sqlx::query(
                "insert into usage_events (organization_id, event_id, namespace_id, metric, quantity, occurred_at,
                 hour, received_at, late, commit_id)
             values ($1, 'also-sent-elsewhere', 'x', 'actions', 2, 0, 0, 0, 0, -1)",
            )
            .bind(&organization)
            .execute(&mut *elsewhere)
            .await
            .expect("stored once the group gave up");
            elsewhere.commit().await.expect("commit");
            elsewhere_stored.store(true, Ordering::SeqCst);
        }
    );
    assert!(waited_for, "the group gave up before anything waited for it");
    assert!(matches!(gave_up, Err(server::error::Error::WaitGivenUp(_))), "{:?}", gave_up.err());
    assert!(elsewhere_stored.load(Ordering::SeqCst));

    drop(held);
    claim.look_up_all();
    let stored = store_batches(&app.db, &batch, Some(&claim)).await.expect("stored");
    let conflict = EventOutcome::Rejected {
        field: "id".into(),
        reason: "conflict: an event with this id and different content exists".into(),
    };
    assert_eq!(stored, [[EventOutcome::Accepted, conflict]], "the other instance's event came first");
    assert_eq!(app.count("select count(*) from usage_events").await, 2);
}
