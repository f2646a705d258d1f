//! PostgreSQL keeps usage events in a partition per month: made ahead of time, fed from the default
//! partition when an event found none, and dropped whole when the month is archived. An event id
//! stays unique for its organization across every month. SQLite, one table, answers the same.
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::metering::archive::archive_usage;
use server::metering::db::partitions::make_partition;
use server::metering::domain::usage_months::UsageMonth;
use server::metering::partitions::keep_partitions_ready;
use server::metering::usage::reconcile;
use server::store::Dialect;

use crate::helpers::{ACME_OWNER, TestApp, json, spawn_app_at};
use crate::payments::at;

const LATE_WINDOW_MS: i64 = 35 * 86_400_000;

async fn made(app: &TestApp) -> Vec<String> {
    keep_partitions_ready(&app.db, LATE_WINDOW_MS)
        .await
        .expect("partitions made")
        .into_iter()
        .map(UsageMonth::label)
        .collect()
}

/// The events each partition holds, by month, and those the default partition holds.
async fn partition_counts(app: &TestApp, months: &[&str]) -> (Vec<i64>, i64) {
    let mut counts = Vec::new();
    for month in months {
        counts.push(app.count(&format!("select count(*) from usage_events_{}", month.replace('-', "_"))).await);
    }
    (counts, app.count("select count(*) from usage_events_default").await)
}

async fn partition_exists(app: &TestApp, month: &str) -> bool {
    let sql = format!("select count(*) from pg_class where relname = 'usage_events_{}'", month.replace('-', "_"));
    app.count(&sql).await == 1
}

/// A server whose clock starts at `instant`, when the tests run on PostgreSQL.
async fn postgres_app_at(instant: &str) -> Option<TestApp> {
    let app = spawn_app_at(Some(at(instant)), &[]).await;
    (app.db.dialect == Dialect::Postgres).then_some(app)
}

/// A folder of archive files of this test's own.
fn archive_dir(app: &TestApp, name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("{name}-{}", app.database_url.rsplit(['/', ':']).next().unwrap()))
}

async fn statuses(app: &TestApp, key: &str, events: Value) -> Vec<String> {
    let answer = app.send_events(key, &events).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let reply = json(answer).await;
    reply["results"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn events_live_in_their_months_partition_with_ids_unique_across_months() {
    let app = spawn_app_at(Some(at("2026-12-06T09:00:00Z")), &[]).await;
    let postgres = app.db.dialect == Dialect::Postgres;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let event = |id: &str, quantity: i64, timestamp: &str| json!({"id": id, "namespace": "payments-prod", "metric": "actions", "quantity": quantity, "timestamp": timestamp});

    // The server made the months of the late-usage window and two ahead as it started.
    assert_eq!(statuses(&app, &key, json!([event("november", 3, "2026-11-20T10:00:00Z")])).await, ["accepted"]);
    if postgres {
        assert_eq!(partition_counts(&app, &["2026-11", "2026-12", "2027-01", "2027-02"]).await, (vec![1, 0, 0, 0], 0));
        // Every instance keeps them; at once, or again, nothing is made twice.
        let (first, second) = tokio::join!(made(&app), made(&app));
        assert_eq!((first, second), (vec![], vec![]));
    } else {
        assert!(made(&app).await.is_empty(), "SQLite has no partitions");
    }

    // An id already stored in one month is a duplicate, or a conflict, when sent for another.
    let sent = json!([
        event("december", 5, "2026-12-05T08:00:00Z"),
        event("november", 3, "2026-11-20T10:00:00Z"),
        event("november", 3, "2026-12-01T10:00:00Z"),
    ]);
    assert_eq!(statuses(&app, &key, sent).await, ["accepted", "duplicate", "rejected"]);
    assert_eq!(app.count("select count(*) from usage_events").await, 2);
    assert_eq!(app.count("select count(*) from usage_event_keys").await, 2);
    if postgres {
        assert_eq!(partition_counts(&app, &["2026-11", "2026-12"]).await, (vec![1, 1], 0));
    }

    // A clock far ahead finds no partition for its month: the event lands in the default one, and
    // the next upkeep makes the month and moves the event there.
    app.db.clock.set(at("2027-06-02T09:00:00Z"));
    assert_eq!(statuses(&app, &key, json!([event("june", 11, "2027-06-02T08:00:00Z")])).await, ["accepted"]);
    if postgres {
        assert_eq!(app.count("select count(*) from usage_events_default").await, 1);
        assert_eq!(made(&app).await, ["2027-04", "2027-05", "2027-06", "2027-07", "2027-08"]);
        assert_eq!(partition_counts(&app, &["2027-06"]).await, (vec![1], 0));
    }
    app.wait_for_rollups().await;
    let rollups = app.rollups("actions").await;

    // Archiving November and December drops their partitions whole, with their keys.
    let dir = archive_dir(&app, "partitions-test");
    let archived = archive_usage(&app.db, &dir, UsageMonth::parse("2027-01").unwrap(), LATE_WINDOW_MS).await.unwrap();
    let months: Vec<(&str, i64)> = archived.iter().map(|m| (m.month.as_str(), m.events)).collect();
    assert_eq!(months, [("2026-11", 1), ("2026-12", 1)]);
    assert_eq!(app.count("select count(*) from usage_events").await, 1, "June stays");
    assert_eq!(app.count("select count(*) from usage_event_keys").await, 1, "and only its key");
    if postgres {
        assert!(!partition_exists(&app, "2026-11").await && !partition_exists(&app, "2026-12").await);
        assert!(partition_exists(&app, "2027-01").await, "an empty month after the archived ones stays");
    }
    assert_eq!(app.rollups("actions").await, rollups);
    let (mismatches, _) = reconcile(&app.db, i64::MIN / 2, i64::MAX / 2).await.unwrap();
    assert!(mismatches.is_empty(), "{mismatches:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An event written straight into the table, as another instance's ingestion would, with its key.
async fn store_event(db: &sqlx::AnyPool, event_id: &str, hour: i64, with_key: bool) {
    if with_key {
        sqlx::query("insert into usage_event_keys (organization_id, event_id, content_hash) values ('org', $1, 'h')")
            .bind(event_id)
            .execute(db)
            .await
            .unwrap();
    }
    sqlx::query(
        "insert into usage_events (organization_id, event_id, namespace_id, metric, quantity, occurred_at, hour,
         received_at, late, commit_id) values ('org', $1, 'ns', 'actions', 1, $2, $2, 0, 0, 0)",
    )
    .bind(event_id)
    .bind(hour)
    .execute(db)
    .await
    .unwrap();
}

/// A month being made (its events moving out of the default partition) while it is archived
/// leaves whole all the same: the archive waits for the move, then drops the month's partition.
#[tokio::test]
async fn a_month_archived_while_its_partition_is_being_made_leaves_whole() {
    let Some(app) = postgres_app_at("2027-06-02T09:00:00Z").await else { return };
    let june = UsageMonth::parse("2027-06").unwrap();
    sqlx::query("delete from usage_events").execute(&app.db.pool).await.unwrap();
    sqlx::query("alter table usage_events detach partition usage_events_2027_06").execute(&app.db.pool).await.unwrap();
    sqlx::query("drop table usage_events_2027_06").execute(&app.db.pool).await.unwrap();
    store_event(&app.db.pool, "june", at("2027-06-02T08:00:00Z"), true).await;
    assert_eq!(app.count("select count(*) from usage_events_default").await, 1);

    app.db.clock.set(at("2027-08-15T09:00:00Z"));
    let mut making = app.db.pool.begin().await.unwrap();
    assert!(make_partition(&mut making, june).await.unwrap());
    let dir = archive_dir(&app, "partitions-race");
    let (archived, ()) =
        tokio::join!(archive_usage(&app.db, &dir, UsageMonth::parse("2027-07").unwrap(), LATE_WINDOW_MS), async {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            making.commit().await.unwrap();
        });
    let months: Vec<(String, i64)> = archived.unwrap().into_iter().map(|m| (m.month, m.events)).collect();
    assert_eq!(months, [("2027-06".to_owned(), 1)]);
    assert_eq!(app.count("select count(*) from usage_events").await, 0, "archived, and gone from the database");
    assert!(!partition_exists(&app, "2027-06").await);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The archive counts the month's events, not only their keys: an event without its key stops
/// the run instead of leaving with the partition unrecorded.
#[tokio::test]
async fn an_event_without_its_key_stops_the_archive_and_nothing_is_dropped() {
    let Some(app) = postgres_app_at("2026-12-20T09:00:00Z").await else { return };
    store_event(&app.db.pool, "keyed", at("2026-09-10T08:00:00Z"), true).await;
    store_event(&app.db.pool, "keyless", at("2026-09-10T09:00:00Z"), false).await;
    let dir = archive_dir(&app, "partitions-keyless");
    let error = archive_usage(&app.db, &dir, UsageMonth::parse("2026-10").unwrap(), LATE_WINDOW_MS)
        .await
        .expect_err("an event without its key")
        .to_string();
    assert!(error.contains("2026-09"), "{error}");
    assert_eq!(app.count("select count(*) from usage_events").await, 2, "nothing deleted");
    assert_eq!(app.count("select count(*) from usage_event_keys").await, 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An event stored into the default partition while its month is being made moves with the
/// others instead of failing the upkeep.
#[tokio::test]
async fn an_event_stored_while_its_month_is_made_moves_into_it() {
    let Some(app) = postgres_app_at("2026-12-06T09:00:00Z").await else { return };
    app.db.clock.set(at("2027-06-02T09:00:00Z"));
    for month in ["2027-03", "2027-04", "2027-05"] {
        let mut tx = app.db.pool.begin().await.unwrap();
        make_partition(&mut tx, UsageMonth::parse(month).unwrap()).await.unwrap();
        tx.commit().await.unwrap();
    }
    let mut storing = app.db.pool.begin().await.unwrap();
    sqlx::query(
        "insert into usage_events (organization_id, event_id, namespace_id, metric, quantity, occurred_at, hour,
         received_at, late, commit_id) values ('org', 'june', 'ns', 'actions', 1, $1, $1, 0, 0, 0)",
    )
    .bind(at("2027-06-02T08:00:00Z"))
    .execute(&mut *storing)
    .await
    .unwrap();
    let (made, ()) = tokio::join!(keep_partitions_ready(&app.db, LATE_WINDOW_MS), async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        storing.commit().await.unwrap();
    });
    let made: Vec<String> = made.expect("the upkeep succeeds").into_iter().map(UsageMonth::label).collect();
    assert_eq!(made, ["2027-06", "2027-07", "2027-08"]);
    assert_eq!(partition_counts(&app, &["2027-06"]).await, (vec![1], 0));
}
