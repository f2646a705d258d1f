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
    let page_total: i64 = page["total"].as_str().unwrap().replace(',', "").parse().unwrap();
    let acme_total: i64 = a
        .count(&format!(
            "select cast(coalesce(sum(quantity), 0) as bigint) from usage_events
             where metric = 'actions' and organization_id = '{acme}'"
        ))
        .await;
    assert_eq!(page_total, acme_total, "the total row is every value's total together");

    // Its CSV, broken down the same way, has a row per hour, namespace and value.
    let csv = a.text_at(&owner, &format!("/orgs/{acme}/usage.csv?metric=actions&range=7d&by=action_type")).await;
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("hour_utc,namespace,metric,action_type,total_actions"), "{csv}");
    let mut exported: BTreeMap<String, i64> = BTreeMap::new();
    for line in lines.filter(|line| line.contains(",typed,")) {
        let fields: Vec<&str> = line.split(',').collect();
        *exported.entry(fields[3].to_owned()).or_insert(0) += fields[4].parse::<i64>().unwrap();
    }
    let expected_by_value: BTreeMap<String, i64> = expected.iter().map(|(v, q)| ((*v).to_owned(), *q)).collect();
    assert_eq!(exported, expected_by_value, "{csv}");
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
    let page = json(app.call_with(&owner, "usage", &fields).await).await;
    assert_eq!(page["by"], Value::Null, "a metric without the dimension is shown by namespace: {page}");
    assert_eq!(page["namespaces"][0]["name"], "payments-prod");
}

/// An hour whose typed and untyped usage each fit in 64 bits but not together cannot be rolled up:
/// it is set aside for staff like any hour that cannot be summed, and the others keep rolling up.
#[tokio::test]
async fn an_hour_whose_typed_and_untyped_usage_cannot_be_summed_together_is_set_aside() {
    let app = spawn_app().await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let at = minutes_ago(90);
    let events = json!([
        typed("huge-typed", "payments-prod", 1, &at, Some("activity")),
        typed("huge-untyped", "payments-prod", 1, &at, None),
    ]);
    assert_eq!(app.send_events(&key, &events).await.status(), StatusCode::OK);
    app.wait_for_rollups().await;
    for sql in [
        "update usage_events set quantity = 9223372036854775000 where event_id like 'huge-%'",
        "insert into usage_dirty_hours (organization_id, namespace_id, metric, hour, commit_id, marked_at)
         select organization_id, namespace_id, metric, hour, commit_id, 0 from usage_events
         where event_id = 'huge-typed'",
    ] {
        sqlx::query(sql).execute(&app.db.pool).await.unwrap();
    }

    let later = json!([typed("fine-1", "payments-staging", 7, &minutes_ago(0), Some("timer"))]);
    assert_eq!(app.send_events(&key, &later).await.status(), StatusCode::OK);
    app.wait_for_rollups().await;
    assert_eq!(app.count("select count(*) from usage_rollups_set_aside").await, 1);
    let timers = "select total from usage_hourly_dimensions where dimensions = 'action_type=timer'";
    assert_eq!(app.count(timers).await, 7, "the later hour rolled up with its type");
}

/// Folded parts keep their totals per value, and a fold marked again (here after both it and the
/// hour's totals per value were damaged) is summed again from its events, values included.
#[tokio::test]
async fn a_folded_part_marked_again_recomputes_its_totals_per_value_from_its_events() {
    let app = spawn_app().await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let at = minutes_ago(0);
    for n in 1..=4_i64 {
        let kind = ACTION_TYPES[n as usize % 2];
        let batch = json!([
            typed(&format!("f{n}"), "payments-prod", n, &at, Some(kind)),
            typed(&format!("u{n}"), "payments-prod", 10, &at, None)
        ]);
        app.send_events(&key, &batch).await;
        app.wait_for_rollups().await;
    }
    // A pass more than a second later takes those commits as ended, and folds their parts.
    tokio::time::sleep(std::time::Duration::from_millis(1_300)).await;
    app.send_events(&key, &json!([typed("f5", "payments-prod", 5, &at, Some("timer"))])).await;
    app.wait_for_rollups().await;
    let folds = "select count(*) from usage_hourly_parts where first_commit_id < commit_id";
    assert!(app.count(folds).await >= 1, "folded");
    let per_value = || async {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("select dimensions, total from usage_hourly_dimensions order by dimensions")
                .fetch_all(&app.db.pool)
                .await
                .unwrap();
        rows
    };
    let expected = vec![
        ("action_type=activity".to_owned(), 1 + 3),
        ("action_type=timer".to_owned(), 5),
        ("action_type=workflow_start".to_owned(), 2 + 4),
    ];
    assert_eq!(per_value().await, expected);

    for sql in [
        "update usage_hourly_parts set dimension_totals = '{\"action_type=signal\":1}' where first_commit_id < commit_id",
        "update usage_hourly_dimensions set total = total + 1000",
        "insert into usage_dirty_hours (organization_id, namespace_id, metric, hour, commit_id, marked_at)
         select organization_id, namespace_id, metric, hour, first_commit_id + 1, 0 from usage_hourly_parts
         where first_commit_id < commit_id",
    ] {
        sqlx::query(sql).execute(&app.db.pool).await.unwrap();
    }
    app.wait_for_rollups().await;
    assert_eq!(per_value().await, expected);
}

#[tokio::test]
async fn reconcile_compares_the_totals_per_action_type_with_their_events() {
    let app = spawn_app().await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let now = minutes_ago(0);
    let batch = json!([
        typed("p1", "payments-prod", 3, &now, Some("signal")),
        typed("p2", "payments-prod", 4, &now, Some("activity")),
        typed("p3", "payments-prod", 5, &now, None),
    ]);
    assert_eq!(json(app.send_events(&key, &batch).await).await["accepted"], 3);
    app.wait_for_rollups().await;
    let reconcile = || server::metering::usage::reconcile(&app.db, i64::MIN / 2, i64::MAX / 2);
    assert_eq!(reconcile().await.unwrap().0, vec![]);

    // A per-type total that no longer matches its events is found, though the hour's total does.
    sqlx::query("update usage_hourly_dimensions set total = total + 1 where dimensions = 'action_type=signal'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (mismatches, _) = reconcile().await.unwrap();
    let found: Vec<(&str, &str, i64, i64)> =
        mismatches.iter().map(|m| (m.level, m.metric.as_str(), m.from_events, m.from_rollups)).collect();
    assert_eq!(found, [("hour", "actions action_type=signal", 3, 4)]);
}
