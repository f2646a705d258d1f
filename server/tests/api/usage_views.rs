use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{ACME_MEMBER, ACME_OWNER, GLOBEX_OWNER, json, minutes_ago, spawn_app};

fn actions(id: &str, namespace: &str, quantity: i64) -> serde_json::Value {
    json!({"id": id, "namespace": namespace, "metric": "actions", "quantity": quantity, "timestamp": minutes_ago(0)})
}

#[tokio::test]
async fn the_usage_report_shows_the_rolled_up_totals_per_namespace_and_hour() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    app.send_events(&key, &json!([actions("u1", "payments-prod", 1200), actions("u2", "payments-staging", 34)])).await;
    app.wait_for_rollups().await;
    let member = app.client_for(&ACME_MEMBER).await;

    let report = json(
        app.call_with(&member, "usage", &[("organization_id", &acme), ("metric", "actions"), ("range", "Last24Hours")])
            .await,
    )
    .await;

    let totals: Vec<(&str, &str)> = report["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["name"].as_str().unwrap(), n["total"].as_str().unwrap()))
        .collect();
    assert_eq!(totals, [("payments-prod", "1,200"), ("payments-staging", "34")]);
    assert_eq!(report["rows"].as_array().unwrap().len(), 1);
    assert_eq!(report["rows"][0]["totals"], json!(["1,200", "34"]));
    assert!(report["chart_svg"].as_str().unwrap().starts_with("<svg"));
    assert!(report["complete_through"].as_str().unwrap().ends_with("UTC"));
}

#[tokio::test]
async fn usage_of_another_organization_is_not_found_and_an_unknown_metric_is_named() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let globex = app.client_for(&GLOBEX_OWNER).await;
    let response = app
        .call_with(&globex, "usage", &[("organization_id", &acme), ("metric", "actions"), ("range", "Last7Days")])
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let csv = globex.get(app.url(&format!("/orgs/{acme}/usage.csv"))).send().await.unwrap();
    assert_eq!(csv.status(), StatusCode::NOT_FOUND);

    let owner = app.client_for(&ACME_OWNER).await;
    let unknown =
        app.call_with(&owner, "usage", &[("organization_id", &acme), ("metric", "cpu"), ("range", "Last7Days")]).await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(unknown).await["field"], "metric");
}

#[tokio::test]
async fn the_csv_holds_the_same_hourly_totals() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    app.send_events(&key, &json!([{"id": "s", "namespace": "payments-prod", "metric": "active_storage_gbh", "quantity": 2500, "timestamp": minutes_ago(0)}]))
        .await;
    app.wait_for_rollups().await;
    let owner = app.client_for(&ACME_OWNER).await;

    let response = owner
        .get(app.url(&format!("/orgs/{acme}/usage.csv?metric=active_storage_gbh&range=24h")))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "hour_utc,namespace,metric,total_GBh");
    assert_eq!(lines.len(), 2);
    assert!(lines[1].ends_with(",payments-prod,active_storage_gbh,2.500"), "{csv}");
    let anonymous = app.client.get(app.url(&format!("/orgs/{acme}/usage.csv"))).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_live_stream_announces_new_rollups_of_the_organization_within_a_second() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    let mut stream = owner.get(app.url(&format!("/orgs/{acme}/usage/live"))).send().await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);

    let sent = std::time::Instant::now();
    app.send_events(&key, &json!([actions("live", "payments-prod", 3)])).await;
    let chunk = tokio::time::timeout(Duration::from_secs(1), stream.chunk())
        .await
        .expect("an event within 1 s")
        .unwrap()
        .unwrap();

    assert!(String::from_utf8_lossy(&chunk).contains("event: rollup"));
    assert!(sent.elapsed() < Duration::from_secs(1));
    let globex = app.client_for(&GLOBEX_OWNER).await;
    let refused = globex.get(app.url(&format!("/orgs/{acme}/usage/live"))).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_month_to_date_estimate_rates_the_rollups_under_the_subscribed_plan() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    let estimate = |report: serde_json::Value| report["estimate"]["total"].as_str().unwrap().to_owned();
    let form = [("organization_id", acme.as_str()), ("metric", "actions"), ("range", "BillingPeriod")];
    let report = || app.call_with(&owner, "usage", &form);

    assert_eq!(estimate(json(report().await).await), "$500.00", "the Business base fee alone");

    // 3,000,000 actions: 2,500,000 included, 500,000 at $45.00 per million = $22.50.
    app.send_events(
        &key,
        &json!([actions("m1", "payments-prod", 1_000_000), actions("m2", "payments-staging", 2_000_000)]),
    )
    .await;
    app.wait_for_rollups().await;

    let report = json(report().await).await;
    assert_eq!(report["estimate"]["plan"], "Business");
    assert_eq!(estimate(report), "$522.50");
    let dashboard = json(app.call_with(&owner, "dashboard", &[("organization_id", &acme)]).await).await;
    assert_eq!(dashboard["estimate"]["total"], "$522.50", "the dashboard shows the same estimate");
}

/// A subscription that started on March 14: its period runs to April 14, across the calendar month.
#[tokio::test]
async fn the_current_period_of_the_usage_page_is_the_subscriptions_and_matches_the_estimate() {
    let app =
        crate::helpers::spawn_app_at(Some(server::shared::time::parse_rfc3339_or_date("2027-03-14").unwrap()), &[])
            .await;
    let acme = app.organization_id("Acme Corp").await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    app.db.clock.set(server::shared::time::parse_rfc3339_or_date("2027-04-02T00:00:00Z").unwrap());
    let at = |id: &str, quantity: i64, timestamp: &str| json!({"id": id, "namespace": "payments-prod", "metric": "actions", "quantity": quantity, "timestamp": timestamp});
    let sent = app
        .send_events(
            &key,
            &json!([at("p1", 1_000_000, "2027-03-20T10:00:00Z"), at("p2", 2_000_000, "2027-04-01T12:00:00Z")]),
        )
        .await;
    assert_eq!(sent.status(), StatusCode::OK);
    app.wait_for_rollups().await;
    let owner = app.client_for(&ACME_OWNER).await;

    let form = [("organization_id", acme.as_str()), ("metric", "actions"), ("range", "BillingPeriod")];
    let report = json(app.call_with(&owner, "usage", &form).await).await;

    let prod = report["namespaces"].as_array().unwrap().iter().find(|n| n["name"] == "payments-prod").unwrap().clone();
    assert_eq!(prod["total"], "3,000,000", "both events are in the period March 14 to April 14");
    // 3,000,000 actions: 2,500,000 included, 500,000 at $45.00 per million = $22.50.
    assert_eq!(report["estimate"]["total"], "$522.50", "the estimate rates the same usage");

    // 19 days of 31 gone: the chart goes on dashed to April 14 at 3,000,000 / 456 hours, rounded down.
    let svg = report["chart_svg"].as_str().unwrap();
    assert!(svg.contains("<rect data-projected=\"287\""), "April 2 01:00 to April 14 00:00 is 287 hours");
    assert!(
        svg.contains("Projected to 2027-04-14 00:00 UTC at the pace so far (an estimate)\npayments-prod: 6,578 actions an hour\npayments-staging: 0 actions an hour"),
        "{svg}"
    );
    assert!(report["projection_note"].as_str().unwrap().contains("2027-04-14 00:00 UTC"), "{report}");
    // The same paces in the totals table, for those who cannot point at the drawing.
    assert_eq!(prod["pace"], "6,578");
    let staging = report["namespaces"].as_array().unwrap().iter().find(|n| n["name"] == "payments-staging").unwrap();
    assert_eq!(staging["pace"], "0", "{report}");
    // The other views end with the current hour.
    let form = [("organization_id", acme.as_str()), ("metric", "actions"), ("range", "Last7Days")];
    let week = json(app.call_with(&owner, "usage", &form).await).await;
    assert!(!week["chart_svg"].as_str().unwrap().contains("data-projected"));
    assert_eq!(week["projection_note"], serde_json::Value::Null);
    assert!(week["namespaces"].as_array().unwrap().iter().all(|n| n["pace"].is_null()), "{week}");
}

#[tokio::test]
async fn a_custom_range_of_days_with_a_hidden_namespace_keeps_the_tables_whole_and_reads_with_separators() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    app.send_events(&key, &json!([actions("c1", "payments-prod", 1_842_500), actions("c2", "payments-staging", 34)]))
        .await;
    app.wait_for_rollups().await;
    let owner = app.client_for(&ACME_OWNER).await;
    let today = &minutes_ago(0)[..10];
    let ask = |range: &'static str, from: &str, to: &str, hide: &'static str| {
        let (from, to) = (from.to_owned(), to.to_owned());
        let (app, owner, acme) = (&app, &owner, &acme);
        async move {
            let form = [
                ("organization_id", acme.as_str()),
                ("metric", "actions"),
                ("range", range),
                ("from", &from),
                ("to", &to),
                ("hide", hide),
            ];
            app.call_with(owner, "usage", &form).await
        }
    };

    let report = json(ask("Custom", today, today, "payments-staging").await).await;

    let totals: Vec<&str> =
        report["namespaces"].as_array().unwrap().iter().map(|n| n["total"].as_str().unwrap()).collect();
    assert_eq!(totals, ["1,842,500", "34"], "hiding a namespace from the chart keeps it in the totals");
    assert_eq!(report["first_day"], today);
    assert_eq!(report["in_progress"], true, "today ends with the current hour");
    let legend = report["legend"].as_array().unwrap();
    assert_eq!((legend[0]["hidden"].as_bool(), legend[1]["hidden"].as_bool()), (Some(false), Some(true)));
    assert_ne!(legend[0]["color"], legend[1]["color"]);
    let svg = report["chart_svg"].as_str().unwrap();
    assert!(svg.contains("payments-prod: 1,842,500 actions"), "the hour's exact values are in its title");
    assert!(!svg.contains("payments-staging:"), "a hidden namespace is not drawn");
    let csv = app
        .text_at(&owner, &format!("/orgs/{acme}/usage.csv?metric=actions&range=custom&from={today}&to={today}"))
        .await;
    assert!(csv.contains(",payments-prod,actions,1842500\n"), "exports keep plain figures: {csv}");

    for (from, to, field) in [("2026-13-01", today, "from"), (today, "2000-01-01", "to"), ("", "", "from")] {
        let refused = ask("Custom", from, to, "").await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{from}..{to}");
        assert_eq!(json(refused).await["field"], field, "{from}..{to}");
    }
}
