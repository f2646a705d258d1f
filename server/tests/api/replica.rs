//! A PostgreSQL streaming replica (`--database-read-url`): the usage API and the Usage page's
//! data come from it, while a browser that has just written, and a page refreshed by a rollup
//! notice, read the primary. Needs `TEST_POSTGRES_REPLICA_URL`, a replica of the test cluster
//! (`scripts/test.sh` starts one with `scripts/postgres.sh replica`).
use std::time::Duration;

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;

use crate::helpers::{ACME_OWNER, STAFF, TestApp, fresh_database_url, json, minutes_ago, spawn_instance};

/// Pausing replay pauses the whole replica: the tests that do take turns.
static REPLAY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The replica of the test cluster, when the suite runs on PostgreSQL with one.
fn replica_cluster() -> Option<String> {
    sqlx::any::install_default_drivers();
    let on_postgres = std::env::var("TEST_DATABASE").as_deref() == Ok("postgres");
    let replica = std::env::var("TEST_POSTGRES_REPLICA_URL").ok();
    assert!(
        !on_postgres || replica.is_some(),
        "TEST_POSTGRES_REPLICA_URL names a replica of the test cluster (scripts/postgres.sh replica)"
    );
    replica.filter(|_| on_postgres)
}

/// A connection to the replica's copy of the database at `primary_url`.
async fn replica_connection(replica_cluster: &str, primary_url: &str) -> sqlx::AnyConnection {
    let database = primary_url.rsplit('/').next().unwrap();
    sqlx::AnyConnection::connect(&format!("{replica_cluster}/{database}")).await.expect("connect to the replica")
}

/// Waits until the replica has replayed the creation of the database at `primary_url`.
async fn replica_has_database(replica_cluster: &str, primary_url: &str) {
    let database = primary_url.rsplit('/').next().unwrap();
    for _ in 0..200 {
        if sqlx::AnyConnection::connect(&format!("{replica_cluster}/{database}")).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the replica has no database {database} after 10 s");
}

/// Waits until the replica has replayed everything the primary has written so far.
async fn caught_up(app: &TestApp, replica_cluster: &str) {
    let written: String =
        sqlx::query_scalar("select pg_current_wal_lsn()::text").fetch_one(&app.db.pool).await.unwrap();
    let mut replica = replica_connection(replica_cluster, &app.database_url).await;
    for _ in 0..200 {
        let replayed: bool = sqlx::query_scalar("select pg_last_wal_replay_lsn() >= cast($1 as text)::pg_lsn")
            .bind(&written)
            .fetch_one(&mut replica)
            .await
            .unwrap();
        if replayed {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the replica did not replay {written} within 10 s");
}

/// Replay is the whole replica's, so this connects to its `postgres` database.
async fn set_replay_paused(replica_cluster: &str, paused: bool) {
    let mut replica = sqlx::AnyConnection::connect(&format!("{replica_cluster}/postgres")).await.unwrap();
    let statement = if paused { "select pg_wal_replay_pause()" } else { "select pg_wal_replay_resume()" };
    sqlx::query(statement).execute(&mut replica).await.unwrap();
    // A pause is only asked for: replay stops at its next record.
    let wanted = if paused { "paused" } else { "not paused" };
    for _ in 0..200 {
        let state: String =
            sqlx::query_scalar("select pg_get_wal_replay_pause_state()").fetch_one(&mut replica).await.unwrap();
        if state == wanted {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the replica's replay is not {wanted} after 2 s");
}

/// Every action the usage API counts for the organization in the last day.
async fn api_actions(app: &TestApp, key: &str) -> i64 {
    let query = format!("/v1/usage?metric=actions&from={}&to={}", minutes_ago(24 * 60), minutes_ago(-60));
    let answer = app.api(Method::GET, &query, key).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    json(answer).await["buckets"].as_array().unwrap().iter().map(|b| b["quantity"].as_i64().unwrap()).sum()
}

/// The Usage page's total of actions over the last day, as its server function answers.
async fn page_total(app: &TestApp, client: &Client, organization_id: &str, after_rollup: bool) -> String {
    let form = [
        ("organization_id", organization_id),
        ("metric", "actions"),
        ("range", "Last24Hours"),
        ("after_rollup", if after_rollup { "true" } else { "false" }),
    ];
    let answer = app.call_with(client, "usage", &form).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let report: Value = json(answer).await;
    report["total"].as_str().unwrap().to_owned()
}

/// The demo data on a fresh database, served by an instance that reads the replica's copy of it.
async fn demo_with_replica(replica_cluster: &str) -> TestApp {
    // A run that failed while replay was paused left it so.
    set_replay_paused(replica_cluster, false).await;
    let url = fresh_database_url().await;
    replica_has_database(replica_cluster, &url).await;
    let database = url.rsplit('/').next().unwrap();
    let app = spawn_instance(&url, None, &["--database-read-url", &format!("{replica_cluster}/{database}")]).await;
    server::demo::seed_demo(&app.db, None).await.expect("seed demo data");
    app
}

#[tokio::test]
async fn reads_that_may_lag_come_from_the_replica_and_a_browser_that_wrote_reads_the_primary() {
    let Some(replica) = replica_cluster() else { return };
    let _turn = REPLAY.lock().await;
    let app = demo_with_replica(&replica).await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let organization_id = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    caught_up(&app, &replica).await;
    let (api_before, page_before) =
        (api_actions(&app, &key).await, page_total(&app, &owner, &organization_id, false).await);

    // The replica stops replaying; the primary stores and rolls up a large usage.
    set_replay_paused(&replica, true).await;
    let events = json!([{"id": "replica-1", "namespace": "payments-prod", "metric": "actions",
        "quantity": 5_000_000_000_i64, "timestamp": minutes_ago(30)}]);
    assert_eq!(app.send_events(&key, &events).await.status(), StatusCode::OK);
    app.wait_for_rollups().await;

    // What may lag shows the replica's figures: the API, and the page of a browser that only read.
    assert_eq!(api_actions(&app, &key).await, api_before, "the usage API reads the replica");
    assert_eq!(page_total(&app, &owner, &organization_id, false).await, page_before, "the page reads the replica");
    let csv = |client: &Client| {
        let url = app.url(&format!("/orgs/{organization_id}/usage.csv?metric=actions&range=24h"));
        let request = client.get(url).send();
        async move { request.await.unwrap().text().await.unwrap() }
    };
    let csv_before = csv(&owner).await;
    assert!(!csv_before.contains("5000000000"), "the CSV reads the replica: {csv_before}");
    let estimate = app.api(Method::GET, "/v1/estimate", &key).send().await.unwrap();
    assert_eq!(estimate.status(), StatusCode::OK, "the estimate reads the replica without writing");
    // Rendering a page writes nothing, so it does not send the browser to the primary.
    let page = app.get_page(&owner, &format!("/orgs/{organization_id}/usage")).await;
    assert!(!crate::helpers::set_cookie(page.headers()).contains("wrote="));
    // A namespace made a moment ago is looked for on the primary when the replica lacks it.
    let made = app.api(Method::POST, "/v1/namespaces", &key).json(&json!({"name": "fresh-ns"})).send().await.unwrap();
    assert!(made.status().is_success(), "{}", made.status());
    let fresh = format!("/v1/usage?metric=actions&namespace=fresh-ns&from={}&to={}", minutes_ago(60), minutes_ago(0));
    assert_eq!(app.api(Method::GET, &fresh, &key).send().await.unwrap().status(), StatusCode::OK);

    // A browser that has just written (here, its time zone) reads the primary for a while.
    let writer = app.client_for(&ACME_OWNER).await;
    assert_eq!(page_total(&app, &writer, &organization_id, false).await, page_before);
    let wrote = app.call_with(&writer, "set_time_zone", &[("time_zone", "Europe/Paris")]).await;
    assert_eq!(wrote.status(), StatusCode::OK);
    assert!(crate::helpers::set_cookie(wrote.headers()).contains("wrote=1"), "a write marks the browser");
    let page_after = page_total(&app, &writer, &organization_id, false).await;
    assert_ne!(page_after, page_before, "after a write, the primary");
    assert!(csv(&writer).await.contains("5000000000"), "the CSV of a browser that wrote reads the primary");

    // A refresh asked for by a rollup notice reads the primary too.
    set_replay_paused(&replica, true).await;
    let events = json!([{"id": "replica-2", "namespace": "payments-prod", "metric": "actions",
        "quantity": 5_000_000_000_i64, "timestamp": minutes_ago(30)}]);
    assert_eq!(app.send_events(&key, &events).await.status(), StatusCode::OK);
    app.wait_for_rollups().await;
    assert_eq!(page_total(&app, &owner, &organization_id, false).await, page_before, "still the replica");
    let page_refreshed = page_total(&app, &owner, &organization_id, true).await;
    assert!(![page_before.as_str(), page_after.as_str()].contains(&page_refreshed.as_str()), "{page_refreshed}");

    // Replayed, the replica answers what the primary does.
    set_replay_paused(&replica, false).await;
    caught_up(&app, &replica).await;
    assert_eq!(api_actions(&app, &key).await, api_before + 10_000_000_000);
}

/// How many customers staff search finds for `query`.
async fn found(app: &TestApp, staff: &Client, query: &str) -> usize {
    let answer = app.call_with(staff, "admin_search_customers", &[("query", query), ("page", "0")]).await;
    assert_eq!(answer.status(), StatusCode::OK);
    json(answer).await["customers"].as_array().unwrap().len()
}

#[tokio::test]
async fn staff_search_and_invoice_pages_read_the_replica() {
    let Some(replica) = replica_cluster() else { return };
    let _turn = REPLAY.lock().await;
    let app = demo_with_replica(&replica).await;
    let organization_id = app.organization_id("Acme Corp").await;
    let (staff, owner) = (app.client_for(&STAFF).await, app.client_for(&ACME_OWNER).await);
    let invoices_form = [("organization_id", organization_id.as_str())];
    let invoices = || app.call_with(&owner, "invoices", &invoices_form);
    caught_up(&app, &replica).await;
    let invoices_before = invoices().await.text().await.unwrap();
    assert_eq!(found(&app, &staff, "Replicated Corp").await, 0);

    // Staff credit the customer on the primary; the organization is renamed there too (as
    // another instance's work would be) while the replica stands still.
    set_replay_paused(&replica, true).await;
    let credit = [
        ("organization_id", organization_id.as_str()),
        ("amount", "25.00"),
        ("reason", "replica test"),
        ("expires", ""),
        ("idempotency_key", "replica-credit"),
    ];
    assert_eq!(app.call_with(&staff, "issue_credit", &credit).await.status(), StatusCode::OK);
    sqlx::query("update organizations set name = 'Replicated Corp' where id = $1")
        .bind(&organization_id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    // The staff client has just written, so it reads the primary; another staff browser does not.
    assert_eq!(found(&app, &staff, "Replicated Corp").await, 1, "a browser that wrote reads the primary");
    let other_staff = app.client_for(&STAFF).await;
    assert_eq!(found(&app, &other_staff, "Replicated Corp").await, 0, "staff search reads the replica");
    assert_eq!(invoices().await.text().await.unwrap(), invoices_before, "the invoices page reads the replica");

    set_replay_paused(&replica, false).await;
    caught_up(&app, &replica).await;
    assert_eq!(found(&app, &other_staff, "Replicated Corp").await, 1);
    let invoices_after = invoices().await.text().await.unwrap();
    assert!(invoices_after.contains("$25.00"), "{invoices_after}");
}

#[tokio::test]
async fn a_replica_is_refused_for_sqlite() {
    let refused = server::store::Db::connect_with_replica("sqlite::memory:", Some("postgres://127.0.0.1:1/none")).await;
    let error = refused.expect_err("SQLite has no replicas").to_string();
    assert!(error.contains("DATABASE_READ_URL"), "{error}");
}
