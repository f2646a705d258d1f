//! Rollups are recomputed from the stored events, whatever the order, batching and duplication of
//! what was sent.
use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::helpers::{ACME_OWNER, STAFF, json as json_of, minutes_ago, spawn_app};

struct Sent {
    id: String,
    namespace: &'static str,
    quantity: i64,
    at: String,
}

fn as_json(e: &Sent) -> Value {
    json!({"id": e.id, "namespace": e.namespace, "metric": "actions", "quantity": e.quantity, "timestamp": e.at})
}

#[tokio::test]
async fn any_stream_with_duplicates_and_conflicts_rolls_up_to_the_sums_of_the_unique_accepted_events() {
    for seed in [7_u64, 2026] {
        let app = spawn_app().await;
        let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut stream: Vec<Sent> = Vec::new();
        for i in 0..400 {
            let namespace = ["payments-prod", "payments-staging"][rng.gen_range(0..2)];
            let at = minutes_ago(rng.gen_range(0..(6 * 60)));
            let quantity = rng.gen_range(0..1_000);
            let id = format!("s{seed}-{i}");
            stream.push(Sent { id: id.clone(), namespace, quantity, at: at.clone() });
            match rng.gen_range(0..10) {
                0..=2 => stream.push(Sent { id, namespace, quantity, at }),
                3 => stream.push(Sent { id, namespace, quantity: quantity + 1, at }),
                _ => {}
            }
        }
        stream.shuffle(&mut rng);

        // What the answers say was accepted is the truth the rollups must equal.
        let mut expected: BTreeMap<(String, i64), i64> = BTreeMap::new();
        let mut rest = &stream[..];
        while !rest.is_empty() {
            let size = rng.gen_range(1..=60).min(rest.len());
            let (batch, tail) = rest.split_at(size);
            rest = tail;
            let reply: Value =
                app.send_events(&key, &Value::Array(batch.iter().map(as_json).collect())).await.json().await.unwrap();
            for (sent, result) in batch.iter().zip(reply["results"].as_array().unwrap()) {
                if result["status"] == "accepted" {
                    let hour = server::metering::domain::usage::hour_of(
                        server::shared::time::parse_rfc3339_or_date(&sent.at).unwrap(),
                    );
                    *expected.entry((sent.namespace.to_owned(), hour)).or_default() += sent.quantity;
                }
            }
        }
        app.wait_for_rollups().await;
        let stored: BTreeMap<(String, i64), i64> =
            app.rollups("actions").await.into_iter().map(|(ns, hour, total)| ((ns, hour), total)).collect();
        assert_eq!(stored, expected, "seed {seed}");
        let replay_before = app.count("select count(*) from usage_events").await;

        // Replaying the whole stream changes nothing.
        for chunk in stream.chunks(100) {
            let reply: Value =
                app.send_events(&key, &Value::Array(chunk.iter().map(as_json).collect())).await.json().await.unwrap();
            assert_eq!(reply["accepted"], 0);
        }
        app.wait_for_rollups().await;
        assert_eq!(app.count("select count(*) from usage_events").await, replay_before);
        let (mismatches, _) = server::metering::usage::reconcile(&app.db, i64::MIN / 2, i64::MAX / 2).await.unwrap();
        assert_eq!(mismatches, vec![]);
    }
}

#[tokio::test]
async fn reconcile_reports_a_rollup_that_differs_from_its_events() {
    let app = spawn_app().await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let at = minutes_ago(10);
    app.send_events(
        &key,
        &json!([{"id": "r", "namespace": "payments-prod", "metric": "actions", "quantity": 3, "timestamp": at}]),
    )
    .await;
    app.wait_for_rollups().await;
    sqlx::query("update usage_hourly set total = total + 1").execute(&app.db.pool).await.unwrap();

    let (mismatches, _) = server::metering::usage::reconcile(&app.db, i64::MIN / 2, i64::MAX / 2).await.unwrap();

    let levels: Vec<(&str, i64, i64)> = mismatches.iter().map(|m| (m.level, m.from_events, m.from_rollups)).collect();
    assert_eq!(levels, [("hour", 3, 4), ("day", 3, 4)]);
}

#[tokio::test]
async fn recomputing_a_rolled_up_hour_again_gives_the_same_total() {
    let app = spawn_app().await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let at = minutes_ago(10);
    app.send_events(
        &key,
        &json!([{"id": "a", "namespace": "payments-prod", "metric": "actions", "quantity": 3, "timestamp": at}]),
    )
    .await;
    app.wait_for_rollups().await;
    let before = app.rollups("actions").await;

    // A crash after ingestion but before the rollup leaves the mark; marking again must not double.
    sqlx::query(
        "insert into usage_dirty_hours (organization_id, namespace_id, metric, hour, commit_id, marked_at)
         select organization_id, namespace_id, metric, hour, commit_id, 0 from usage_hourly_parts",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    app.wait_for_rollups().await;

    assert_eq!(app.rollups("actions").await, before);
}

#[tokio::test]
async fn settled_parts_fold_and_a_folded_part_marked_again_is_recomputed_from_its_events() {
    let app = spawn_app().await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let at = minutes_ago(10);
    let send = |id: &str, quantity: i64| json!([{"id": id, "namespace": "payments-prod", "metric": "actions", "quantity": quantity, "timestamp": at}]);
    // Each request is answered after its own commit, and each commit gets its own part.
    for quantity in 1..=4 {
        app.send_events(&key, &send(&format!("f{quantity}"), quantity)).await;
        app.wait_for_rollups().await;
    }
    // A pass more than a second later takes those commits as ended, and folds their parts.
    tokio::time::sleep(std::time::Duration::from_millis(1_300)).await;
    app.send_events(&key, &send("f5", 5)).await;
    app.wait_for_rollups().await;
    let parts_of_hour = "select count(*) from usage_hourly_parts where namespace_id =
        (select id from namespaces where name = 'payments-prod')";
    let folds = "select count(*) from usage_hourly_parts where first_commit_id < commit_id";
    let (parts, folded) = (app.count(parts_of_hour).await, app.count(folds).await);
    assert!(parts < 5 && folded >= 1, "{parts} parts, {folded} folded");
    let before = app.rollups("actions").await;
    assert_eq!(before.iter().map(|(_, _, total)| total).sum::<i64>(), 15);

    // A fold marked again (here: after it was damaged) is summed again from its commits' events.
    sqlx::query("update usage_hourly_parts set total = total + 1000 where first_commit_id < commit_id")
        .execute(&app.db.pool)
        .await
        .unwrap();
    sqlx::query(
        "insert into usage_dirty_hours (organization_id, namespace_id, metric, hour, commit_id, marked_at)
         select organization_id, namespace_id, metric, hour, first_commit_id + 1, 0 from usage_hourly_parts
         where first_commit_id < commit_id",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    app.wait_for_rollups().await;

    assert_eq!(app.rollups("actions").await, before);
    // Recomputed in place: no second part for the same commits (a later commit may have joined it).
    assert_eq!(app.count(folds).await, folded);
    assert!(app.count(parts_of_hour).await <= parts);
}

/// An hour whose events sum beyond 64 bits cannot be rolled up. Its mark is set aside with the
/// error for staff, and every other hour, even one stored by the same commit, keeps rolling up
/// instead of waiting behind it (or being set aside with it).
#[tokio::test]
async fn an_hour_that_cannot_be_summed_is_set_aside_and_the_others_still_roll_up() {
    let app = spawn_app().await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let at = minutes_ago(90);
    let events = json!([
        {"id": "huge-1", "namespace": "payments-prod", "metric": "actions", "quantity": 1, "timestamp": at},
        {"id": "huge-2", "namespace": "payments-prod", "metric": "actions", "quantity": 1, "timestamp": at},
        {"id": "same-commit", "namespace": "payments-staging", "metric": "actions", "quantity": 5, "timestamp": at},
    ]);
    assert_eq!(app.send_events(&key, &events).await.status(), 200);
    app.wait_for_rollups().await;

    // Stored quantities no sum can hold, a change beside them in the same commit, and both hours
    // marked again as the oldest marks.
    for sql in [
        "update usage_events set quantity = 9223372036854775000 where event_id like 'huge-%'",
        "update usage_events set quantity = 9 where event_id = 'same-commit'",
        "insert into usage_dirty_hours (organization_id, namespace_id, metric, hour, commit_id, marked_at)
         select organization_id, namespace_id, metric, hour, commit_id, 0 from usage_events
         where event_id in ('huge-1', 'same-commit')",
    ] {
        sqlx::query(sql).execute(&app.db.pool).await.unwrap();
    }

    let later = json!([{"id": "fine-1", "namespace": "payments-staging", "metric": "actions", "quantity": 7, "timestamp": minutes_ago(10)}]);
    assert_eq!(app.send_events(&key, &later).await.status(), 200);
    app.wait_for_rollups().await;

    let staging: Vec<i64> =
        app.rollups("actions").await.into_iter().filter(|r| r.0 == "payments-staging").map(|r| r.2).collect();
    assert_eq!(staging, [9, 7], "the hour of the same commit and the later hour rolled up");
    assert_eq!(app.count("select count(*) from usage_rollups_set_aside").await, 1);
    let staff = app.client_for(&STAFF).await;
    let operations = json_of(app.call_with(&staff, "admin_operations", &[]).await).await;
    let set_aside = &operations["rollups_set_aside"][0];
    assert_eq!(set_aside["namespace"], "payments-prod", "{operations}");
    assert_eq!(set_aside["metric"], "actions");
    assert!(!set_aside["error"].as_str().unwrap().is_empty());
}
