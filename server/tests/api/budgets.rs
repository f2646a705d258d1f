//! Budgets the customer sets: thresholds that alert once per period (by mail and on the
//! dashboard), hard caps that mark namespaces capped and lift when raised, on both databases.
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use server::spend::evaluation::evaluate_organization;

use crate::helpers::*;

/// A namespace of Acme's that has seen no usage yet, so its budgets start from zero.
async fn fresh_namespace(app: &TestApp, key: &str, name: &str) -> String {
    let created =
        app.api(reqwest::Method::POST, "/v1/namespaces", key).json(&json!({ "name": name })).send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    json(created).await["id"].as_str().unwrap().to_owned()
}

/// Usage of the current period. The demo's subscriptions start at the hour the test's app
/// started, so only the current minute is sure to be in it: a minute ago may be the hour before.
fn actions(id: &str, namespace: &str, quantity: i64) -> Value {
    json!({ "id": id, "namespace": namespace, "metric": "actions", "quantity": quantity, "timestamp": minutes_ago(0) })
}

/// A budget as the page's form sends it.
#[derive(Clone, Copy)]
struct Form<'a> {
    scope: &'a str,
    measure: &'a str,
    limit: &'a str,
    thresholds: &'a str,
    hard_cap: bool,
}

async fn save_budget(
    app: &TestApp,
    client: &reqwest::Client,
    organization_id: &str,
    form: Form<'_>,
) -> reqwest::Response {
    let mut fields = vec![
        ("organization_id", organization_id),
        ("scope", form.scope),
        ("measure", form.measure),
        ("limit", form.limit),
        ("thresholds", form.thresholds),
    ];
    if form.hard_cap {
        fields.push(("hard_cap", "true"));
    }
    app.call_with(client, "save_budget", &fields).await
}

const CROSSINGS: &str = "select count(*) from budget_crossings";

#[tokio::test]
async fn each_threshold_alerts_once_by_mail_and_on_the_dashboard_until_dismissed() {
    let (relay, received) = fake_smtp().await;
    let relay_url = format!("smtp://{relay}");
    let app = spawn_app_with(&["--smtp-url", &relay_url, "--payments-interval-seconds", "1"]).await;
    let acme = app.organization_id("Acme Corp").await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    let namespace = fresh_namespace(&app, &key, "budgeted").await;
    let form = Form {
        scope: namespace.as_str(),
        measure: "actions",
        limit: "1,000,000",
        thresholds: "50, 80",
        hard_cap: false,
    };
    let organization = acme.as_str();
    let page = json(save_budget(&app, &owner, organization, form).await).await;
    assert_eq!(page["budgets"][0]["limit"], "1,000,000 actions", "{page}");
    assert_eq!(page["budgets"][0]["used"], "0 actions");

    app.send_events(&key, &json!([actions("b1", "budgeted", 499_999)])).await;
    app.wait_for_rollups().await;
    app.send_events(&key, &json!([actions("b2", "budgeted", 1)])).await;
    app.wait_for_count(CROSSINGS, 1).await;
    app.send_events(&key, &json!([actions("b3", "budgeted", 100_000)])).await;
    app.wait_for_rollups().await;
    // A pass that sees the same figures again, as after a restart, records nothing more.
    assert_eq!(evaluate_organization(&app.db, &acme).await.unwrap(), 0);
    assert_eq!(app.count(CROSSINGS).await, 1, "50 % once; 80 % not yet");

    app.send_events(&key, &json!([actions("b4", "budgeted", 200_000)])).await;
    app.wait_for_count(CROSSINGS, 2).await;
    let dashboard = json(app.call_with(&owner, "dashboard", &[("organization_id", &acme)]).await).await;
    let alerts = dashboard["overview"]["alerts"].as_array().unwrap().clone();
    let budget_alerts: Vec<&Value> = alerts.iter().filter(|a| a["section"] == "budgets").collect();
    assert_eq!(budget_alerts.len(), 1, "the highest threshold speaks for the lower: {alerts:?}");
    assert_eq!(
        budget_alerts[0]["message"],
        "budgeted reached 80% of its 1,000,000 actions budget (800,000 actions when it crossed)."
    );

    for _ in 0..50 {
        if received.lock().unwrap().iter().filter(|m| m.contains("Subject: budgeted reached")).count() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mails = received.lock().unwrap().clone();
    let mailed: Vec<&String> = mails.iter().filter(|m| m.contains("Subject: budgeted reached")).collect();
    assert_eq!(mailed.len(), 2, "one mail per threshold: {mails:?}");
    assert!(mailed.iter().any(|m| m.contains("Subject: budgeted reached 50% of its budget")));
    assert!(mailed.iter().all(|m| m.contains("To: billing@acme.test")));

    let alert_id = budget_alerts[0]["dismiss"].as_str().unwrap().to_owned();
    let member = app.client_for(&ACME_MEMBER).await;
    let dismissed =
        app.call_with(&member, "dismiss_budget_alert", &[("organization_id", &acme), ("alert_id", &alert_id)]).await;
    assert_eq!(dismissed.status(), StatusCode::OK);
    let dashboard = json(app.call_with(&owner, "dashboard", &[("organization_id", &acme)]).await).await;
    assert!(!dashboard["overview"]["alerts"].to_string().contains("budgeted reached"), "dismissed: {dashboard}");
    let again =
        app.call_with(&member, "dismiss_budget_alert", &[("organization_id", &acme), ("alert_id", &alert_id)]).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_hard_cap_marks_the_namespace_capped_keeps_its_usage_and_lifts_when_raised() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    let namespace = fresh_namespace(&app, &key, "capped-one").await;
    let capped = || async {
        let answer = app.api(reqwest::Method::GET, "/v1/namespaces/capped-one", &key).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        json(answer).await["capped"].as_bool().unwrap()
    };
    let save = |limit: &'static str| {
        let form = Form { scope: &namespace, measure: "actions", limit, thresholds: "", hard_cap: true };
        let (app, owner, acme) = (&app, &owner, &acme);
        async move {
            let response = save_budget(app, owner, acme, form).await;
            assert_eq!(response.status(), StatusCode::OK);
            json(response).await
        }
    };
    save("1000").await;
    assert!(!capped().await);
    let globex_key = app.api_key(&GLOBEX_OWNER, "Globex").await;
    let elsewhere = app.api(reqwest::Method::GET, "/v1/namespaces/capped-one", &globex_key).send().await.unwrap();
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND, "another organization's namespace");

    app.send_events(&key, &json!([actions("c1", "capped-one", 1_000)])).await;
    app.wait_for_count("select count(*) from budget_crossings where kind = 'cap'", 1).await;
    assert!(capped().await, "at the limit");
    let dashboard = json(app.call_with(&owner, "dashboard", &[("organization_id", &acme)]).await).await;
    assert!(dashboard["overview"]["alerts"][0]["message"].as_str().unwrap().starts_with("capped-one is capped"));
    assert_eq!(dashboard["overview"]["alerts"][0]["severity"], "Danger");

    // Usage that still arrives is recorded and billed.
    let late = app.send_events(&key, &json!([actions("c2", "capped-one", 500)])).await;
    assert_eq!(json(late).await["accepted"], 1);
    app.wait_for_rollups().await;

    let page = save("5000").await;
    assert!(!capped().await, "raising the cap lifts it at once");
    assert_eq!(page["budgets"][0]["capped"], false);
    assert_eq!(page["budgets"][0]["used"], "1,500 actions");

    let page = save("1200").await;
    assert!(capped().await, "a limit below what is used caps at once");
    assert_eq!(page["budgets"][0]["capped"], true);
    assert_eq!(app.count("select count(*) from notifications where kind = 'namespace_capped'").await, 2);
}

#[tokio::test]
async fn a_late_event_of_a_past_period_is_recorded_but_alerts_nothing_stale() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    let namespace = fresh_namespace(&app, &key, "late-one").await;
    let form = Form { scope: namespace.as_str(), measure: "actions", limit: "100", thresholds: "50", hard_cap: true };
    let organization = acme.as_str();
    assert_eq!(save_budget(&app, &owner, organization, form).await.status(), StatusCode::OK);
    let period_start: i64 = app.count("select current_period_start from subscriptions where organization_id = (select id from organizations where name = 'Acme Corp')").await;
    let before = time::OffsetDateTime::from_unix_timestamp((period_start - 3_600_000) / 1000).unwrap();
    let timestamp = before.format(&time::format_description::well_known::Rfc3339).unwrap();
    let event = json!([{ "id": "late1", "namespace": "late-one", "metric": "actions", "quantity": 1_000, "timestamp": timestamp }]);
    let stored = app.send_events(&key, &event).await;
    assert_eq!(json(stored).await["accepted"], 1);
    app.wait_for_rollups().await;
    assert_eq!(evaluate_organization(&app.db, &acme).await.unwrap(), 0);
    assert_eq!(app.count(CROSSINGS).await, 0);
    assert_eq!(app.rollups("actions").await.iter().filter(|r| r.0 == "late-one").map(|r| r.2).sum::<i64>(), 1_000);
}

/// Two instances evaluating the same figures at once: each crossing is one row and one notice.
#[tokio::test]
async fn two_instances_evaluating_at_once_record_and_notify_each_crossing_once() {
    let a = spawn_app().await;
    let b = spawn_instance(&a.database_url, None, &[]).await;
    let acme = a.organization_id("Acme Corp").await;
    let owner = a.client_for(&ACME_OWNER).await;
    // All of Acme's demo usage this period, against a budget far below it.
    let form = Form { scope: "", measure: "cost", limit: "1.00", thresholds: "10, 50, 100", hard_cap: true };
    let organization = acme.as_str();
    let saved = save_budget(&a, &owner, organization, form).await;
    assert_eq!(saved.status(), StatusCode::OK);
    sqlx::query("delete from budget_crossings").execute(&a.db.pool).await.unwrap();
    sqlx::query("delete from notifications where kind in ('budget_threshold', 'namespace_capped')")
        .execute(&a.db.pool)
        .await
        .unwrap();
    for _ in 0..3 {
        let (first, second) = tokio::join!(evaluate_organization(&a.db, &acme), evaluate_organization(&b.db, &acme));
        let _ = (first.unwrap(), second.unwrap());
    }
    assert_eq!(a.count(CROSSINGS).await, 4, "three thresholds and the cap");
    assert_eq!(
        a.count("select count(*) from notifications where kind in ('budget_threshold', 'namespace_capped')").await,
        4
    );
}

#[tokio::test]
async fn a_budget_that_cannot_be_kept_is_refused_naming_the_field_and_changes_nothing() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let globex = app.organization_id("Globex").await;
    let owner = app.client_for(&ACME_OWNER).await;
    let globex_owner = app.client_for(&GLOBEX_OWNER).await;
    let globex_namespace: String = sqlx::query_scalar("select id from namespaces where organization_id = $1 limit 1")
        .bind(&globex)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let refused_as = |field: &'static str, scope, measure, limit, thresholds| {
        (field, Form { scope, measure, limit, thresholds, hard_cap: false })
    };
    let cases = [
        refused_as("limit", "", "cost", "ten", "50"),
        refused_as("limit", "", "cost", "0", "50"),
        refused_as("limit", "", "actions", "2.5", "50"),
        refused_as("thresholds", "", "cost", "10", "0, 50"),
        refused_as("thresholds", "", "cost", "10", ""),
        refused_as("measure", "", "parsecs", "10", "50"),
        refused_as("scope", &globex_namespace, "cost", "10", "50"),
    ];
    for (field, form) in cases {
        let refused = save_budget(&app, &owner, &acme, form).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert_eq!(json(refused).await["field"], field);
    }
    assert_eq!(app.count("select count(*) from budgets").await, 0);

    let member = app.client_for(&ACME_MEMBER).await;
    let form = Form { scope: "", measure: "cost", limit: "10", thresholds: "50", hard_cap: false };
    assert_eq!(save_budget(&app, &member, &acme, form).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(save_budget(&app, &globex_owner, &acme, form).await.status(), StatusCode::NOT_FOUND);
    let page = json(app.call_with(&member, "budgets", &[("organization_id", &acme)]).await).await;
    assert_eq!(page["can_edit"], false, "members read budgets");
    assert_eq!(app.count("select count(*) from budgets").await, 0);
}

/// An evaluation that read a budget before the owner edited or removed it records nothing for the
/// budget it read: no alert for a limit that no longer stands, no failure for one that is gone.
#[tokio::test]
async fn a_crossing_of_a_budget_edited_or_removed_meanwhile_is_not_recorded() {
    use server::spend::db::{NewCrossing, budgets_of, record_crossing};
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    let save = |limit: &'static str| {
        let form = Form { scope: "", measure: "cost", limit, thresholds: "50", hard_cap: false };
        let (app, owner, acme) = (&app, &owner, &acme);
        async move { assert_eq!(save_budget(app, owner, acme, form).await.status(), StatusCode::OK) }
    };
    save("1000000").await;
    let mut conn = app.db.pool.acquire().await.unwrap();
    let read = budgets_of(&mut conn, &acme).await.unwrap().remove(0);
    save("2000000").await;
    let crossing = NewCrossing { budget: &read, period: (0, i64::MAX), kind: "alert", threshold: 50, measured: 1 };
    assert_eq!(record_crossing(&mut conn, &crossing, 1).await.unwrap(), None, "edited meanwhile");

    let budget_id = read.id.clone();
    let removed =
        app.call_with(&owner, "delete_budget", &[("organization_id", &acme), ("budget_id", &budget_id)]).await;
    assert_eq!(removed.status(), StatusCode::OK);
    let current = NewCrossing { budget: &read, ..crossing };
    assert_eq!(record_crossing(&mut conn, &current, 1).await.unwrap(), None, "removed meanwhile");
    assert_eq!(app.count(CROSSINGS).await, 0);
}

/// Saving a budget unchanged keeps its revision: what it crossed is not mailed again.
#[tokio::test]
async fn saving_the_same_budget_again_alerts_nothing_twice() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    let form = Form { scope: "", measure: "cost", limit: "1.00", thresholds: "50", hard_cap: false };
    let organization = acme.as_str();
    for _ in 0..2 {
        assert_eq!(save_budget(&app, &owner, organization, form).await.status(), StatusCode::OK);
    }
    assert_eq!(app.count("select count(*) from notifications where kind = 'budget_threshold'").await, 1);
    assert_eq!(app.count("select max(revision) from budgets").await, 1);
}

/// A cap belongs to its period: once the subscription moves to the next one, the namespace is free.
#[tokio::test]
async fn a_cap_ends_with_its_period() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    let form = Form { scope: "", measure: "cost", limit: "1.00", thresholds: "", hard_cap: true };
    let organization = acme.as_str();
    assert_eq!(save_budget(&app, &owner, organization, form).await.status(), StatusCode::OK);
    let capped = || async {
        let answer = app.api(reqwest::Method::GET, "/v1/namespaces/payments-prod", &key).send().await.unwrap();
        json(answer).await["capped"].as_bool().unwrap()
    };
    assert!(capped().await, "the demo's usage is far beyond $1.00");

    // The invoice run moves the subscription on to its next period.
    sqlx::query(
        "update subscriptions set current_period_start = current_period_end - 1000,
             current_period_end = current_period_end + 2592000000 where organization_id = $1",
    )
    .bind(&acme)
    .execute(&app.db.pool)
    .await
    .unwrap();
    assert!(!capped().await, "a new period starts uncapped");
}

/// At the period's pace so far a budget says when it will be reached: 3,000,000 actions in the
/// first 49 of April's 720 hours carry on to 44,081,632 by its end, which passes 10,000,000 on
/// April 7 at 19:20.
#[tokio::test]
async fn a_budget_says_when_the_pace_so_far_reaches_it() {
    let s = crate::payments::Scenario::new(&[]).await;
    let key = s.app.api_key(&ACME_OWNER, "Acme Corp").await;
    let now = s.finalize_first_invoice().await;
    let event = json!([{"id": "a1", "namespace": "payments-prod", "metric": "actions", "quantity": 3_000_000,
                        "timestamp": "2027-04-02T10:00:00Z"}]);
    s.app.send_events(&key, &event).await;
    s.app.wait_for_rollups().await;
    s.app.db.clock.set(now);
    let prod: String = sqlx::query_scalar("select id from namespaces where name = 'payments-prod'")
        .fetch_one(&s.app.db.pool)
        .await
        .unwrap();
    let form = Form { scope: prod.as_str(), measure: "actions", limit: "10000000", thresholds: "80", hard_cap: false };
    let organization = s.acme.as_str();
    let page = json(save_budget(&s.app, &s.owner, organization, form).await).await;
    assert!(page["budgets"][0]["reaches"].as_str().unwrap().contains("(in 4 days)"), "{page}");
    // The dashboard's forecast and the Usage page's say it too, as the budgets page words it.
    let member = s.app.client_for(&ACME_MEMBER).await;
    let dashboard = json(s.app.call_with(&member, "dashboard", &[("organization_id", organization)]).await).await;
    let window = [("organization_id", organization), ("metric", "actions"), ("range", "BillingPeriod")];
    let usage = json(s.app.call_with(&member, "usage", &window).await).await;
    for shown in [&dashboard["budgets"], &usage["budgets"]] {
        assert_eq!(shown, &page["budgets"], "{dashboard}");
    }

    let budgets = json(s.app.api(reqwest::Method::GET, "/v1/budgets", &key).send().await.unwrap()).await;
    let budget = &budgets[0];
    assert_eq!((budget["namespace"].as_str(), budget["used"].as_i64()), (Some("payments-prod"), Some(3_000_000)));
    let reaches_at = server::shared::time::parse_rfc3339_or_date(budget["reaches_at"].as_str().unwrap());
    assert_eq!(reaches_at, Some(server::shared::time::parse_rfc3339_or_date("2027-04-07T19:20:00Z").unwrap() + 6));

    // Beyond the pace of the whole period: not reached within it.
    let form = Form { scope: prod.as_str(), measure: "actions", limit: "50000000", thresholds: "80", hard_cap: false };
    let organization = s.acme.as_str();
    let page = json(save_budget(&s.app, &s.owner, organization, form).await).await;
    assert_eq!(page["budgets"][0]["reaches"], Value::Null);
}
