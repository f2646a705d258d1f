//! The customer's usage API: `GET /v1/usage` and `GET /v1/invoices[/:id]` with an API key answer
//! the figures the pages word.
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ACME_OWNER, GLOBEX_OWNER, json};
use crate::payments::Scenario;

fn actions(id: &str, namespace: &str, quantity: i64, timestamp: &str) -> Value {
    json!({"id": id, "namespace": namespace, "metric": "actions", "quantity": quantity, "timestamp": timestamp})
}

/// `$1,234.56` or `1,234` → `123456` or `1234`: the page's words as the API's figure.
fn figure(worded: &Value) -> i64 {
    let digits: String = worded.as_str().unwrap().chars().filter(char::is_ascii_digit).collect();
    digits.parse().unwrap()
}

#[tokio::test]
async fn usage_by_hour_and_by_day_is_the_usage_pages_and_refusals_name_their_field() {
    let s = Scenario::new(&[]).await;
    let key = s.app.api_key(&ACME_OWNER, "Acme Corp").await;
    let now = s.finalize_first_invoice().await;
    let events = json!([
        actions("u1", "payments-prod", 1_000, "2027-04-01T05:00:00Z"),
        actions("u2", "payments-prod", 2_000, "2027-04-02T10:00:00Z"),
        actions("u3", "payments-prod", 500, "2027-04-02T10:30:00Z"),
        actions("u4", "payments-staging", 7, "2027-04-02T23:59:00Z"),
    ]);
    assert_eq!(s.app.send_events(&key, &events).await.status(), StatusCode::OK);
    s.app.wait_for_rollups().await;
    s.app.db.clock.set(now);
    let usage = |query: &'static str| {
        let key = key.clone();
        let app = &s.app;
        async move { app.api(Method::GET, &format!("/v1/usage?{query}"), &key).send().await.unwrap() }
    };

    // A date alone as the end means through that day, as the Usage page's custom range does.
    let hours = json(usage("metric=actions&from=2027-04-01&to=2027-04-02").await).await;
    assert_eq!(
        (hours["from"].as_str(), hours["to"].as_str()),
        (Some("2027-04-01T00:00:00Z"), Some("2027-04-03T00:00:00Z"))
    );
    assert_eq!(hours["granularity"], "hour");
    let buckets = |answer: &Value| -> Vec<(String, String, i64)> {
        answer["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["namespace"].as_str().unwrap().into(),
                    b["start"].as_str().unwrap().into(),
                    b["quantity"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    let row = |ns: &str, start: &str, quantity| (ns.to_owned(), start.to_owned(), quantity);
    assert_eq!(
        buckets(&hours),
        [
            row("payments-prod", "2027-04-01T05:00:00Z", 1_000),
            row("payments-prod", "2027-04-02T10:00:00Z", 2_500),
            row("payments-staging", "2027-04-02T23:00:00Z", 7),
        ]
    );
    let days = json(usage("metric=actions&from=2027-04-01&to=2027-04-03&granularity=day").await).await;
    assert_eq!(
        buckets(&days),
        [
            row("payments-prod", "2027-04-01T00:00:00Z", 1_000),
            row("payments-prod", "2027-04-02T00:00:00Z", 2_500),
            row("payments-staging", "2027-04-02T00:00:00Z", 7),
        ]
    );
    assert_eq!(days["namespaces"], hours["namespaces"], "days and hours hold the same usage");
    assert!(hours["complete_through"].as_str().unwrap().starts_with("2027-04-03T"), "{hours}");

    // The Usage page's totals for the same days.
    let form = [
        ("organization_id", s.acme.as_str()),
        ("metric", "actions"),
        ("range", "Custom"),
        ("from", "2027-04-01"),
        ("to", "2027-04-02"),
    ];
    let page = json(s.app.call_with(&s.owner, "usage", &form).await).await;
    for namespace in page["namespaces"].as_array().unwrap() {
        let in_api =
            hours["namespaces"].as_array().unwrap().iter().find(|n| n["namespace"] == namespace["name"]).unwrap();
        assert_eq!(in_api["quantity"].as_i64().unwrap(), figure(&namespace["total"]), "{namespace} against {in_api}");
    }

    let staging = json(usage("metric=actions&namespace=payments-staging&from=2027-04-01&to=2027-04-03").await).await;
    assert_eq!(buckets(&staging), [row("payments-staging", "2027-04-02T23:00:00Z", 7)]);
    assert_eq!(staging["namespaces"].as_array().unwrap().len(), 1);

    // Another organization names no namespace of Acme's.
    let globex = s.app.api_key(&GLOBEX_OWNER, "Globex").await;
    let theirs = s.app.api(
        Method::GET,
        "/v1/usage?metric=actions&namespace=payments-prod&from=2027-04-01&to=2027-04-02",
        &globex,
    );
    let theirs = theirs.send().await.unwrap();
    assert_eq!(theirs.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(theirs).await["error"]["field"], "namespace");

    // An answer holds at most 10,000 namespace-buckets: five namespaces by the hour for 92 days is more.
    for name in ["extra-one", "extra-two", "extra-three"] {
        let created =
            s.app.api(Method::POST, "/v1/namespaces", &key).json(&json!({"name": name})).send().await.unwrap();
        assert_eq!(created.status(), StatusCode::CREATED);
    }
    let too_big = usage("metric=actions&from=2027-01-01&to=2027-04-02").await;
    assert_eq!(too_big.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(too_big).await["error"]["field"], "to");
    let by_day = usage("metric=actions&from=2027-01-01&to=2027-04-02&granularity=day").await;
    assert_eq!(json(by_day).await["namespaces"].as_array().unwrap().len(), 5);

    let refusals = [
        ("from=2027-04-01&to=2027-04-02", "metric"),
        ("metric=bytes&from=2027-04-01&to=2027-04-02", "metric"),
        ("metric=actions&from=2027-04-02&to=2027-04-01", "to"),
        ("metric=actions&from=yesterday&to=2027-04-01", "from"),
        ("metric=actions&from=2027-04-01&to=2027-04-02&granularity=week", "granularity"),
        ("metric=actions&from=2026-01-01&to=2027-04-01", "to"),
        ("metric=actions&namespace=elsewhere&from=2027-04-01&to=2027-04-02", "namespace"),
        ("metric=actions&from=2027-04-01&to=2027-04-02&colour=blue", "query"),
        ("metric=actions&metric=bytes&from=2027-04-01&to=2027-04-02", "query"),
    ];
    for (query, field) in refusals {
        let refused = usage(query).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(json(refused).await["error"]["field"], field, "{query}");
    }
}

#[tokio::test]
async fn invoices_are_listed_and_read_line_by_line_as_their_pages_show_them_and_only_to_their_organization() {
    let s = Scenario::new(&[]).await;
    let key = s.app.api_key(&ACME_OWNER, "Acme Corp").await;
    s.app.db.clock.set(crate::payments::at("2027-03-20T00:00:00Z"));
    s.app.send_events(&key, &json!([actions("i1", "payments-prod", 3_000_000, "2027-03-10T10:00:00Z")])).await;
    s.app.wait_for_rollups().await;
    s.finalize_first_invoice().await;

    let listed = json(s.app.api(Method::GET, "/v1/invoices", &key).send().await.unwrap()).await;
    let first =
        listed.as_array().unwrap().iter().find(|i| i["status"] == "open").expect("the finalized invoice").clone();
    assert_eq!(first["period_start"], "2027-03-01T00:00:00Z", "{first}");
    assert_eq!(first["lines"], Value::Null, "the list goes without lines");
    let id = first["id"].as_str().unwrap();

    let invoice = json(s.app.api(Method::GET, &format!("/v1/invoices/{id}"), &key).send().await.unwrap()).await;
    let lines = invoice["lines"].as_array().unwrap();
    let sum: i64 = lines.iter().map(|l| l["amount_minor"].as_i64().unwrap()).sum();
    assert_eq!(sum, invoice["subtotal_minor"].as_i64().unwrap(), "{invoice}");
    let usage = lines.iter().find(|l| l["kind"] == "usage" && l["namespace"] == "payments-prod").expect("a usage line");
    assert_eq!(usage["metric"], "actions");
    assert!(usage["unit_price_per"].as_i64().unwrap() > 0, "{usage}");

    let page = json(
        s.app.call_with(&s.owner, "invoice", &[("organization_id", &s.acme), ("invoice_id", &id.to_owned())]).await,
    )
    .await;
    assert_eq!(invoice["number"], page["summary"]["number"]);
    assert_eq!(invoice["subtotal_minor"].as_i64().unwrap(), figure(&page["subtotal"]));
    assert_eq!(invoice["amount_due_minor"].as_i64().unwrap(), figure(&page["summary"]["amount_due"]));
    assert_eq!(lines.len(), page["lines"].as_array().unwrap().len());

    let globex = s.app.api_key(&GLOBEX_OWNER, "Globex").await;
    let elsewhere = s.app.api(Method::GET, &format!("/v1/invoices/{id}"), &globex).send().await.unwrap();
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);
    let theirs = json(s.app.api(Method::GET, "/v1/invoices", &globex).send().await.unwrap()).await;
    assert!(theirs.as_array().unwrap().iter().all(|i| i["id"] != id), "{theirs}");
    let unknown = s.app.api(Method::GET, "/v1/invoices/in_nothing", &key).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}
