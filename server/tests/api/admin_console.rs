//! The staff console: customer search, everything about one customer, acting for the customer
//! (suspension, plan change with its preview) and the operations view.
use reqwest::StatusCode;
use serde_json::{Value, json};
use server::metering::db::rollup_lag::record_lag_sample;
use server::shared::money::format_money;

use crate::helpers::*;
use crate::payments::Scenario;

async fn search(app: &TestApp, staff: &reqwest::Client, query: &str, page: &str) -> Value {
    json(app.call_with(staff, "admin_search_customers", &[("query", query), ("page", page)]).await).await
}

fn names(found: &Value) -> Vec<&str> {
    found["customers"].as_array().expect("customers").iter().map(|c| c["name"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn staff_find_a_customer_by_name_email_member_id_or_invoice_number_a_page_at_a_time() {
    let s = Scenario::new(&[]).await;
    let app = &s.app;
    s.finalize_first_invoice().await;
    let staff = app.client_for(&STAFF).await;
    for n in 0..30 {
        sqlx::query(
            "insert into organizations (id, name, billing_email, currency, created_at) values ($1, $2, $3, 'USD', 0)",
        )
        .bind(format!("org_zeta{n:02}"))
        .bind(format!("Zeta {n:02}"))
        .bind(format!("ap{n:02}@zeta.test"))
        .execute(&app.db.pool)
        .await
        .unwrap();
    }
    let number: String = sqlx::query_scalar("select number from invoices where organization_id = $1")
        .bind(&s.acme)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let billing_email: String = sqlx::query_scalar("select billing_email from organizations where id = $1")
        .bind(&s.acme)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();

    for query in ["acme", "ACME c", &billing_email[..5].to_uppercase(), "member@acme", &s.acme, &number.to_lowercase()]
    {
        assert_eq!(names(&search(app, &staff, query, "0").await), ["Acme Corp"], "{query}");
    }
    assert_eq!(names(&search(app, &staff, "nobody-by-this-name", "0").await), Vec::<&str>::new());

    // Each result carries its status and balances, as the customer page has them.
    let acme = search(app, &staff, "acme", "0").await["customers"][0].clone();
    let status: String = sqlx::query_scalar("select status from subscriptions where organization_id = $1")
        .bind(&s.acme)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let owed: i64 = sqlx::query_scalar(
        "select cast(sum(e.amount_minor) as bigint) from ledger_entries e
         join ledger_transactions t on t.id = e.transaction_id where t.organization_id = $1 and e.account = 'receivable'",
    )
    .bind(&s.acme)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert!(owed > 0, "the finalized invoice is owed");
    assert_eq!(
        (acme["status"].as_str().unwrap(), acme["owed"].as_str().unwrap()),
        (status.as_str(), &*format_money(owed, "USD"))
    );
    assert_eq!(acme["credit"], "$0.00");
    let zeta = search(app, &staff, "zeta 07", "0").await["customers"][0].clone();
    assert_eq!((&zeta["status"], &zeta["owed"]), (&json!("none"), &json!("$0.00")));

    let first = search(app, &staff, "zeta", "0").await;
    assert_eq!(names(&first).len(), 25);
    assert_eq!(names(&first)[..2], ["Zeta 00", "Zeta 01"]);
    assert_eq!(first["has_next"], true);
    let second = search(app, &staff, "  Zeta ", "1").await;
    assert_eq!(names(&second), ["Zeta 25", "Zeta 26", "Zeta 27", "Zeta 28", "Zeta 29"]);
    assert_eq!(second["has_next"], false);
    let everyone = search(app, &staff, "", "0").await;
    assert_eq!(names(&everyone)[..2], ["Acme Corp", "Globex"]);

    let long = "x".repeat(201);
    let refused = app.call_with(&staff, "admin_search_customers", &[("query", &long), ("page", "0")]).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(refused).await["field"], "query");

    let page = app.get_page(&staff, "/admin?q=zeta&page=1").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Zeta 29") && !html.contains("Zeta 00"), "the second page, server-rendered");
}

#[tokio::test]
async fn the_customer_page_shows_ledger_balances_processor_events_history_and_audit() {
    let s = Scenario::new(&[]).await;
    let finalized = s.finalize_first_invoice().await;
    // An hour later, so the ledger's two transactions have an order.
    let paid_at = finalized + 3_600_000;
    s.app.db.clock.set(paid_at);
    let saved = json(s.save_card("4242 4242 4242 4242").await).await;
    assert_eq!(saved["status"]["past_due"], json!([]), "{saved}");
    s.pass_at(paid_at).await;
    let staff = s.app.client_for(&STAFF).await;
    let customer = json(s.app.call_with(&staff, "admin_customer", &[("organization_id", &s.acme)]).await).await;

    let ledger = customer["ledger"].as_array().expect("ledger");
    let kinds: Vec<&str> = ledger.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["payment.received", "invoice.finalized"], "newest first");
    assert_eq!(ledger[0]["receivable_balance"], "$0.00", "paid: nothing owed");
    assert_ne!(ledger[1]["receivable_balance"], "$0.00");
    assert_eq!(ledger[1]["receivable_balance"], ledger[1]["receivable_change"]);

    let events: Vec<&str> =
        customer["webhook_events"].as_array().unwrap().iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    for expected in ["payment_method.attached", "setup_intent.succeeded", "payment_intent.succeeded"] {
        assert!(events.contains(&expected), "{expected} in {events:?}");
    }
    let globex = s.app.organization_id("Globex").await;
    let other = json(s.app.call_with(&staff, "admin_customer", &[("organization_id", &globex)]).await).await;
    assert_eq!(other["webhook_events"], json!([]), "another customer's events stay with it");
    assert_eq!(customer["namespaces"].as_array().unwrap().len(), 2);
    assert!(customer["namespaces"].as_array().unwrap().iter().all(|n| n["suspended_since"].is_null()));
    assert!(customer["plans"].as_array().unwrap().iter().all(|p| *p != customer["plan"]));
}

#[tokio::test]
async fn staff_suspend_and_lift_with_a_reason_and_paying_does_not_lift_a_staff_suspension() {
    let s = Scenario::new(&[]).await;
    let staff = s.app.client_for(&STAFF).await;
    let org = s.acme.as_str();
    let no_reason = s.app.call_with(&staff, "admin_suspend", &[("organization_id", org), ("reason", " ")]).await;
    assert_eq!(no_reason.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(no_reason).await["field"], "reason");
    assert_eq!(s.subscription_status().await, "active");

    let reason = "abuse report 1234";
    let suspended = s.app.call_with(&staff, "admin_suspend", &[("organization_id", org), ("reason", reason)]).await;
    assert_eq!(suspended.status(), StatusCode::OK);
    assert_eq!(s.subscription_status().await, "suspended");
    let serving = "select count(*) from namespaces where organization_id = $1 and suspended_at is null";
    assert_eq!(count_for(&s, serving).await, 0);
    let again = s.app.call_with(&staff, "admin_suspend", &[("organization_id", org), ("reason", reason)]).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);

    // Paying an invoice settles it but leaves what staff decided.
    let day0 = s.finalize_first_invoice().await;
    s.app.db.clock.set(day0);
    s.save_card("4242 4242 4242 4242").await;
    s.pass_at(day0).await;
    assert_eq!(count_for(&s, "select count(*) from invoices where organization_id = $1 and status = 'paid'").await, 1);
    assert_eq!(s.subscription_status().await, "suspended");

    let lifted = s.app.call_with(&staff, "admin_unsuspend", &[("organization_id", org), ("reason", "resolved")]).await;
    assert_eq!(lifted.status(), StatusCode::OK);
    assert_eq!(s.subscription_status().await, "active");
    assert_eq!(count_for(&s, serving).await, 2);

    let customer = json(s.app.call_with(&staff, "admin_customer", &[("organization_id", org)]).await).await;
    let history: Vec<(&str, &str, &str)> = customer["status_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["to"].as_str().unwrap(), c["cause"].as_str().unwrap(), c["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        history,
        [("active", "suspension lifted by staff", STAFF.email), ("suspended", "suspended by staff", STAFF.email)]
    );
    let audit = customer["audit"].as_array().unwrap();
    let suspend = audit.iter().find(|a| a["action"] == "subscription.suspend").expect("audited");
    assert_eq!((suspend["actor"].as_str(), suspend["reason"].as_str()), (Some(STAFF.email), Some(reason)));
    assert!(
        count_for(&s, "select count(*) from notifications where organization_id = $1 and kind = 'staff_suspension'")
            .await
            == 1
    );
}

async fn count_for(s: &Scenario, sql: &str) -> i64 {
    sqlx::query_scalar(sql).bind(&s.acme).fetch_one(&s.app.db.pool).await.expect(sql)
}

#[tokio::test]
async fn staff_change_the_plan_for_the_customer_after_the_same_preview_and_the_reason_is_audited() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let staff = app.client_for(&STAFF).await;
    let customer = json(app.call_with(&staff, "admin_customer", &[("organization_id", &acme)]).await).await;
    let target = customer["plans"][0].as_str().expect("another plan").to_owned();
    let form = [("organization_id", acme.as_str()), ("plan", target.as_str())];
    let staff_preview = json(app.call_with(&staff, "admin_preview_plan_change", &form).await).await;
    let token = staff_preview["token"].as_str().unwrap().to_owned();
    let mut owner_preview =
        json(app.call_with(&app.client_for(&ACME_OWNER).await, "preview_plan_change", &form).await).await;
    owner_preview["token"] = json!(token);
    assert_eq!(staff_preview, owner_preview, "the owner's preview, to the cent");
    let token = token.as_str();

    let changes = "select count(*) from plan_changes";
    let base = [("organization_id", acme.as_str()), ("plan", target.as_str()), ("token", token)];
    let without_reason = app.call_with(&staff, "admin_change_plan", &[&base[..], &[("reason", "")]].concat()).await;
    assert_eq!(without_reason.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count(changes).await, 0);

    let reason = "customer asked by phone, ticket 77";
    let changed = app.call_with(&staff, "admin_change_plan", &[&base[..], &[("reason", reason)]].concat()).await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(app.count(changes).await, 1);
    let requested_by: String =
        sqlx::query_scalar("select requested_by from plan_changes").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(requested_by, STAFF.email);
    let audit: (String, Option<String>) = sqlx::query_as(
        "select actor, reason from audit_log where organization_id = $1 and action = 'subscription.change_plan'",
    )
    .bind(&acme)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(audit, (STAFF.email.to_owned(), Some(reason.to_owned())));
}

#[tokio::test]
async fn the_operations_view_counts_ingestion_rollup_backlog_queues_and_the_last_reconciliation() {
    let app = spawn_app().await;
    let staff = app.client_for(&STAFF).await;
    let before = json(app.call_with(&staff, "admin_operations", &[]).await).await;
    assert_eq!(before["events_last_minute"], 0);
    assert!(before["last_reconcile"].is_null());

    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let events: Vec<Value> = (0..7)
        .map(|i| {
            json!({ "id": format!("ops-{i}"), "namespace": "payments-prod", "metric": "actions",
                    "quantity": 1, "timestamp": minutes_ago(5) })
        })
        .collect();
    assert_eq!(app.send_events(&key, &json!(events)).await.status(), StatusCode::OK);
    // A repeat is a duplicate, not ingestion.
    assert_eq!(app.send_events(&key, &json!(events)).await.status(), StatusCode::OK);
    app.wait_for_rollups().await;

    let after = json(app.call_with(&staff, "admin_operations", &[]).await).await;
    assert_eq!(after["events_last_minute"], 7, "{after}");
    assert_eq!(after["events_last_hour"], 7);
    assert!(after["ingestion_watermark"]["utc"].is_string());
    assert_eq!(after["dirty_hours"], 0);
    let ingested: Vec<i64> =
        after["ingestion_trend"]["per_minute"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    assert_eq!((ingested.len(), ingested.iter().sum::<i64>()), (60, 7), "{after}");
    assert!(after["ingestion_trend"]["summary"].as_str().unwrap().contains("peak 7/min"), "{after}");

    // Two instances sample the same minute: the worse lag is the one kept.
    server::jobs::rollup_lag::sample_rollup_lag(&app.db).await.expect("sample the backlog");
    let mut conn = app.db.pool.acquire().await.unwrap();
    let now = app.db.clock.now_ms();
    record_lag_sample(&mut conn, now, 2_500, 3).await.unwrap();
    record_lag_sample(&mut conn, now, 900, 1).await.unwrap();
    drop(conn);
    let lag = json(app.call_with(&staff, "admin_operations", &[]).await).await["rollup_lag_trend"].clone();
    let worst = lag["per_minute"].as_array().unwrap().iter().filter_map(|v| v.as_i64()).max();
    assert_eq!(worst, Some(2_500), "{lag}");
    assert!(lag["summary"].as_str().unwrap().contains("peak 2.5 s"), "{lag}");

    let queues: Vec<&str> = after["jobs"].as_array().unwrap().iter().map(|q| q["name"].as_str().unwrap()).collect();
    assert_eq!(queues, ["webhook events", "collections", "invoice finalization", "period close", "notifications"]);

    let reconcile = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--database-url", &app.database_url, "reconcile"])
        .output()
        .expect("run server reconcile");
    assert!(reconcile.status.success(), "{}", String::from_utf8_lossy(&reconcile.stderr));
    let last = json(app.call_with(&staff, "admin_operations", &[]).await).await["last_reconcile"].clone();
    assert_eq!(last["mismatches"], 0, "{last}");

    let page = app.get_page(&staff, "/admin/operations").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Hours waiting for rollup"));
}

/// The staff customer page's usage reads as the customer's pages do: the metric's name and the
/// quantity in its unit, grouped by thousands.
#[tokio::test]
async fn the_customer_pages_usage_this_period_reads_in_each_metrics_unit() {
    let s = Scenario::new(&[]).await;
    let key = s.app.api_key(&ACME_OWNER, "Acme Corp").await;
    let now = s.finalize_first_invoice().await;
    let created =
        s.app.api(reqwest::Method::POST, "/v1/namespaces", &key).json(&json!({ "name": "staff-view" })).send().await;
    assert_eq!(created.unwrap().status(), StatusCode::CREATED);
    let at = "2027-04-02T10:00:00Z";
    let events = json!([
        { "id": "sv-1", "namespace": "staff-view", "metric": "actions", "quantity": 1_234_567, "timestamp": at },
        { "id": "sv-2", "namespace": "staff-view", "metric": "active_storage_gbh", "quantity": 61_569, "timestamp": at },
    ]);
    assert_eq!(s.app.send_events(&key, &events).await.status(), StatusCode::OK);
    s.app.wait_for_rollups().await;
    s.app.db.clock.set(now);
    let staff = s.app.client_for(&STAFF).await;
    let customer = json(s.app.call_with(&staff, "admin_customer", &[("organization_id", &s.acme)]).await).await;
    let shown: Vec<(&str, &str)> = customer["period_usage"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["namespace"] == "staff-view")
        .map(|row| (row["metric"].as_str().unwrap(), row["quantity"].as_str().unwrap()))
        .collect();
    assert_eq!(shown, [("Actions", "1,234,567 actions"), ("Active storage", "61.569 GBh")], "{customer}");
}
