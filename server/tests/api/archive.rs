//! `server archive`: months of events leave the database for files only once late usage cannot
//! reach them; the rollups, and so the pages, stay as they were; reconciliation reads the files and
//! notices one that changed.
use std::io::Write;

use reqwest::{Method, StatusCode};
use serde_json::json;
use server::metering::archive::archive_usage;
use server::metering::db::archive::ArchivedEvent;
use server::metering::domain::usage_months::UsageMonth;
use server::metering::usage::reconcile;
use server::store::Dialect;

use crate::helpers::{ACME_OWNER, TestApp, json, spawn_app_at};
use crate::payments::at;

const LATE_WINDOW_MS: i64 = 35 * 86_400_000;

async fn events_before(app: &TestApp, instant: i64) -> i64 {
    app.count(&format!("select count(*) from usage_events where hour < {instant}")).await
}

/// What the usage API answers for December 2026, day by day and per action type.
async fn december(app: &TestApp, key: &str) -> serde_json::Value {
    let query = "/v1/usage?metric=actions&from=2026-12-01&to=2026-12-31&granularity=day&group_by=action_type";
    let answer = app.api(Method::GET, query, key).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let answer = json(answer).await;
    json!({"buckets": answer["buckets"], "namespaces": answer["namespaces"]})
}

fn read_file(path: &std::path::Path) -> Vec<ArchivedEvent> {
    let decoder = zstd::Decoder::new(std::fs::File::open(path).unwrap()).unwrap();
    csv::Reader::from_reader(decoder).into_deserialize().map(Result::unwrap).collect()
}

#[tokio::test]
async fn months_beyond_late_usage_move_to_files_and_reconcile_reads_them() {
    let app = spawn_app_at(Some(at("2026-12-25T09:00:00Z")), &[]).await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let event = |id: &str, quantity: i64, timestamp: &str| json!({"id": id, "namespace": "payments-prod", "metric": "actions", "quantity": quantity, "timestamp": timestamp});
    // An id CSV must quote, with dimensions.
    let mut odd = event("odd, \"quoted\" id", 7, "2026-12-20T10:15:00Z");
    odd["dimensions"] = json!({"action_type": "signal"});
    let events = json!([event("november", 3, "2026-11-21T10:00:00Z"), odd, event("plain", 5, "2026-12-20T10:45:00Z")]);
    assert_eq!(app.send_events(&key, &events).await.status(), StatusCode::OK);
    let january = at("2027-01-01");
    let dir =
        std::env::temp_dir().join(format!("archive-test-{}", app.database_url.rsplit(['/', ':']).next().unwrap()));

    // On 2026-12-25 late usage for November may still arrive: refused, nothing moved.
    let refused = archive_usage(&app.db, &dir, UsageMonth::parse("2027-01").unwrap(), LATE_WINDOW_MS).await;
    let error = refused.expect_err("November is still open").to_string();
    assert!(error.contains("before") && error.contains("2026-11"), "{error}");
    assert_eq!(events_before(&app, january).await, 3);
    assert!(!dir.exists());

    app.db.clock.set(at("2027-01-05T09:00:00Z"));
    assert_eq!(
        app.send_events(&key, &json!([event("january", 11, "2027-01-02T08:00:00Z")])).await.status(),
        StatusCode::OK
    );
    app.wait_for_rollups().await;
    let (rollups, answered) = (app.rollups("actions").await, december(&app, &key).await);

    // A month on, December is closed: it and every month before it leave the database, but not
    // while an hour of them waits for its rollup (here, one set aside for staff).
    app.db.clock.set(at("2027-02-10T09:00:00Z"));
    let before = UsageMonth::parse("2027-01").unwrap();
    let set_aside = "insert into usage_rollups_set_aside
        (organization_id, namespace_id, metric, hour, commit_id, marked_at, set_aside_at, error)
        values ('org', 'ns', 'actions', 1795600800000, 1, 0, 0, 'test')";
    sqlx::query(set_aside).execute(&app.db.pool).await.unwrap();
    let error = archive_usage(&app.db, &dir, before, LATE_WINDOW_MS).await.expect_err("an unsettled hour").to_string();
    assert!(error.contains("2026-11") && error.contains("rolled up"), "{error}");
    assert_eq!(events_before(&app, january).await, 3);
    sqlx::query("delete from usage_rollups_set_aside").execute(&app.db.pool).await.unwrap();
    // Two runs at once into one folder: one archives, the other finds the folder taken or the
    // months gone; the files are as recorded either way (reconcile, below).
    let (first, second) = tokio::join!(
        archive_usage(&app.db, &dir, before, LATE_WINDOW_MS),
        archive_usage(&app.db, &dir, before, LATE_WINDOW_MS)
    );
    let archived = match (first, second) {
        (Ok(archived), Ok(_) | Err(_)) | (Err(_), Ok(archived)) if !archived.is_empty() => archived,
        (Ok(_), Ok(archived)) if !archived.is_empty() => archived,
        other => panic!("one run archives: {other:?}"),
    };
    let months: Vec<(&str, i64, i64)> = archived.iter().map(|m| (m.month.as_str(), m.events, m.quantity)).collect();
    assert_eq!(months, [("2026-11", 1, 3), ("2026-12", 2, 12)]);
    assert_eq!(events_before(&app, january).await, 0);
    assert_eq!(app.count("select count(*) from usage_events").await, 1, "January stays");
    let december_file = &archived.last().unwrap().path;
    let kept = read_file(december_file);
    let odd = kept.iter().find(|e| e.event_id == "odd, \"quoted\" id").expect("the quoted id, whole");
    assert_eq!((odd.quantity, odd.dimensions.as_deref()), (7, Some("action_type=signal")));
    assert_eq!(kept.iter().find(|e| e.event_id == "plain").unwrap().dimensions, None);

    // The rollups, and what the API answers from them, are unchanged; reconcile reads the files.
    assert_eq!(app.rollups("actions").await, rollups);
    assert_eq!(december(&app, &key).await, answered);
    let (mismatches, _) = reconcile(&app.db, i64::MIN / 2, i64::MAX / 2).await.unwrap();
    assert!(mismatches.is_empty(), "{mismatches:?}");

    // Again: nothing left to archive.
    assert!(archive_usage(&app.db, &dir, before, LATE_WINDOW_MS).await.unwrap().is_empty());
    // An event stored into an archived month stops the next run; the month's file stays as it was.
    let file_before = std::fs::read(december_file).unwrap();
    // SQLite keeps an event's content hash in its row, PostgreSQL with its key.
    let (hash_column, hash) = if app.db.dialect == Dialect::Sqlite { (", content_hash", ", 'h'") } else { ("", "") };
    let stray = format!(
        "insert into usage_events (organization_id, event_id, namespace_id, metric, quantity, occurred_at, hour,
        received_at, late, commit_id{hash_column}) values ('org', 'stray', 'ns', 'actions', 1, 1797295200000, 1797292800000, 0, 0, 0{hash})"
    );
    sqlx::query(&stray).execute(&app.db.pool).await.unwrap();
    let error = archive_usage(&app.db, &dir, before, LATE_WINDOW_MS).await.expect_err("a stray event").to_string();
    assert!(error.contains("2026-12") && error.contains("archived already"), "{error}");
    assert_eq!(std::fs::read(december_file).unwrap(), file_before);
    sqlx::query("delete from usage_events where event_id = 'stray'").execute(&app.db.pool).await.unwrap();

    // A file changed after it was archived is reported, not read as truth: one that still reads
    // (another month's file in its place), then one that no longer does.
    std::fs::copy(&archived[0].path, december_file).unwrap();
    let error = reconcile(&app.db, i64::MIN / 2, i64::MAX / 2).await.expect_err("a replaced archive").to_string();
    assert!(error.contains("archive 2026-12") && error.contains("checksum"), "{error}");
    std::fs::OpenOptions::new().append(true).open(december_file).unwrap().write_all(b"x").unwrap();
    let error = reconcile(&app.db, i64::MIN / 2, i64::MAX / 2).await.expect_err("a damaged archive").to_string();
    assert!(error.contains("archive 2026-12"), "{error}");

    // With every event archived, the organization still has sent usage: its rollups say so.
    sqlx::query("delete from usage_events").execute(&app.db.pool).await.unwrap();
    let acme = app.organization_id("Acme Corp").await;
    let mut conn = app.db.pool.acquire().await.unwrap();
    assert!(server::metering::db::usage::has_usage(&mut conn, &acme).await.unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}
