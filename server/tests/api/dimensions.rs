//! Dimensions of a metric: events carry a declared `action_type`, rollups keep each value's total
//! beside the metric's, and the usage API and the Usage page break the totals down by it.
use std::collections::BTreeMap;

use rand::{Rng, SeedableRng, rngs::StdRng};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const ACTION_TYPES: [&str; 6] = ["workflow_start", "activity", "signal", "query", "timer", "other"];

fn typed(id: &str, namespace: &str, quantity: i64, timestamp: &str, action_type: Option<&str>) -> Value {
    let mut event = json!({ "id": id, "namespace": namespace, "metric": "actions", "quantity": quantity,
                            "timestamp": timestamp });
    if let Some(action_type) = action_type {
        event["dimensions"] = json!({ "action_type": action_type });
    }
    event
}

async fn send_all(app: &TestApp, key: &str, batches: Vec<Value>) {
    for batch in batches {
        let reply = json(app.send_events(key, &batch).await).await;
        assert_eq!(reply["accepted"], 25, "{reply}");
    }
}

async fn create_namespace(app: &TestApp, key: &str, name: &str) {
    let created = app.api(Method::POST, "/v1/namespaces", key).json(&json!({ "name": name })).send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
}

/// Batches sent through two instances at once, so rollup passes of both fold and recompute the
/// same hours: each value's total is the sum of its events, and the values with the events that
/// carried none (`unspecified`) add up to the metric's total, in the API and on the page.
#[tokio::test]
async fn totals_per_action_type_are_their_events_sums_and_add_up_to_the_metrics_total() {
    let a = spawn_app().await;
    let b = spawn_instance(&a.database_url, None, &[]).await;
    let acme = a.organization_id("Acme Corp").await;
    let key = a.api_key(&ACME_OWNER, "Acme Corp").await;
    create_namespace(&a, &key, "typed").await;
    // The hour before and the current one; the demo's subscription is new, so both are accepted.
    let (earlier, now) = (minutes_ago(70), minutes_ago(0));

    let mut rng = StdRng::seed_from_u64(18);
    let mut expected: BTreeMap<&str, i64> = BTreeMap::new();
    let mut batches: Vec<Value> = Vec::new();
    for batch in 0..24 {
        let events: Vec<Value> = (0..25)
            .map(|n| {
                let action_type = (rng.gen_range(0..8) < 6).then(|| ACTION_TYPES[rng.gen_range(0..6)]);
                let quantity = rng.gen_range(1..10_000);
                *expected.entry(action_type.unwrap_or("unspecified")).or_insert(0) += quantity;
                let at = if n % 3 == 0 { &earlier } else { &now };
                typed(&format!("t{batch}-{n}"), "typed", quantity, at, action_type)
            })
            .collect();
        batches.push(Value::Array(events));
    }
    let (through_a, through_b): (Vec<_>, Vec<_>) = batches.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
    tokio::join!(
        send_all(&a, &key, through_a.into_iter().map(|(_, b)| b).collect()),
        send_all(&b, &key, through_b.into_iter().map(|(_, b)| b).collect())
    );
    a.wait_for_rollups().await;

    let usage = |query: String| {
        let key = key.clone();
        let a = &a;
        async move {
            let answer = a.api(Method::GET, &format!("/v1/usage?{query}"), &key).send().await.unwrap();
            assert_eq!(answer.status(), StatusCode::OK);
            json(answer).await
        }
    };
    let span = format!("metric=actions&namespace=typed&from={}&to={}", &earlier[..10], &now[..10]);
    let grouped = usage(format!("{span}&group_by=action_type&granularity=day")).await;
    let groups: BTreeMap<&str, i64> = grouped["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["group"].as_str().unwrap(), g["quantity"].as_i64().unwrap()))
        .collect();
    assert_eq!(groups, expected, "{grouped}");
    let metric_total = expected.values().sum::<i64>();
    let plain = usage(span.clone()).await;
    assert_eq!(plain["namespaces"][0]["quantity"], metric_total, "{plain}");
    assert_eq!(grouped["namespaces"][0]["quantity"], metric_total);
    assert!(plain.get("groups").is_none(), "an answer not grouped has no groups: {plain}");
    let by_hour = usage(format!("{span}&group_by=action_type")).await;
    let bucketed: i64 = by_hour["buckets"].as_array().unwrap().iter().map(|b| b["quantity"].as_i64().unwrap()).sum();
    assert_eq!(bucketed, metric_total, "the hours' groups add up too");
    assert!(
        by_hour["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| ACTION_TYPES.contains(&b["group"].as_str().unwrap()) || b["group"] == "unspecified")
    );

    // The stored totals per value are the events' sums, read straight from the events.
    let from_events: i64 = a
        .count("select cast(coalesce(sum(quantity), 0) as bigint) from usage_events where dimensions = 'action_type=signal'")
        .await;
    assert_eq!(groups.get("signal").copied().unwrap_or(0), from_events);

    // The Usage page broken down by action type says the same, in words.
    let owner = a.client_for(&ACME_OWNER).await;
    let fields =
        [("organization_id", acme.as_str()), ("metric", "actions"), ("range", "Last7Days"), ("by", "action_type")];
    let page = json(a.call_with(&owner, "usage", &fields).await).await;
    assert_eq!(page["by"]["label"], "Action type", "{page}");
    let worded: BTreeMap<String, String> = page["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| (row["id"].as_str().unwrap().to_owned(), row["total"].as_str().unwrap().to_owned()))
        .collect();
    for (value, quantity) in &expected {
        let shown: i64 = worded[*value].replace(',', "").parse().unwrap();
        assert_eq!(shown, *quantity, "{value} on the page");
    }
    assert_eq!(page["legend"][1]["name"], "Activity", "the series are the values, in their declared order");
}

#[tokio::test]
async fn undeclared_dimensions_are_refused_naming_the_field_and_store_nothing() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let now = minutes_ago(0);
    let storage = json!({ "id": "s1", "namespace": "payments-prod", "metric": "active_storage_gbh", "quantity": 1,
                          "timestamp": now, "dimensions": { "action_type": "activity" } });
    let batch = json!([
        typed("d1", "payments-prod", 1, &now, Some("payment")),
        { "id": "d2", "namespace": "payments-prod", "metric": "actions", "quantity": 1, "timestamp": now,
          "dimensions": { "colour": "red" } },
        { "id": "d3", "namespace": "payments-prod", "metric": "actions", "quantity": 1, "timestamp": now,
          "dimensions": "activity" },
        storage,
        typed("d4", "payments-prod", 1, &now, Some("activity")),
    ]);
    let reply = json(app.send_events(&key, &batch).await).await;
    let fields: Vec<&str> =
        reply["results"].as_array().unwrap().iter().map(|r| r["field"].as_str().unwrap_or("")).collect();
    assert_eq!(fields, ["dimensions.action_type", "dimensions.colour", "dimensions", "dimensions.action_type", ""]);
    assert_eq!(reply["results"][0]["reason"], "must be one of workflow_start, activity, signal, query, timer, other");
    assert_eq!(app.count("select count(*) from usage_events").await, 1, "only the good event is stored");

    // The same id with another action type is another event: a conflict, not a duplicate.
    let again = json(app.send_events(&key, &json!([typed("d4", "payments-prod", 1, &now, Some("timer"))])).await).await;
    assert_eq!(
        (again["results"][0]["status"].as_str(), again["results"][0]["field"].as_str()),
        (Some("rejected"), Some("id"))
    );

    let unknown = app
        .api(Method::GET, "/v1/usage?metric=actions&from=2026-01-01&to=2026-01-02&group_by=colour", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = json(unknown).await;
    assert_eq!(unknown["error"]["field"], "group_by", "{unknown}");
    assert_eq!(unknown["error"]["message"], "not a dimension of actions; it has action_type");
    let owner = app.client_for(&ACME_OWNER).await;
    let fields = [
        ("organization_id", acme.as_str()),
        ("metric", "active_storage_gbh"),
        ("range", "Last7Days"),
        ("by", "action_type"),
    ];
    let page = app.call_with(&owner, "usage", &fields).await;
    assert_eq!(json(page).await["field"], "by");
}
