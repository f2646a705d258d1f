//! Each organization's ingestion quota: a batch beyond it is answered 429 with Retry-After and
//! nothing of it is stored, while another organization's batches go through; on both databases.
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn batch(prefix: &str, namespace: &str, count: usize) -> Value {
    let events: Vec<Value> = (0..count)
        .map(|n| {
            json!({ "id": format!("{prefix}-{n}"), "namespace": namespace, "metric": "actions", "quantity": 1,
                    "timestamp": minutes_ago(2) })
        })
        .collect();
    Value::Array(events)
}

#[tokio::test]
async fn a_batch_beyond_the_quota_is_refused_whole_with_retry_after_and_other_organizations_go_on() {
    let start = server::shared::time::now_ms();
    let app = spawn_app_at(Some(start), &["--ingest-events-per-second", "100", "--ingest-burst-events", "1000"]).await;
    let acme = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let globex = app.api_key(&GLOBEX_OWNER, "Globex").await;
    let globex_namespace: String = sqlx::query_scalar(
        "select n.name from namespaces n join organizations o on o.id = n.organization_id where o.name = 'Globex'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    let stored = "select count(*) from usage_events where event_id like 'quota-%'";

    assert_eq!(app.send_events(&acme, &batch("quota-a", "payments-prod", 1000)).await.status(), StatusCode::OK);
    let refused = app.send_events(&acme, &batch("quota-b", "payments-prod", 10)).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_eq!(json(refused).await["error"]["kind"], "rate_limited");
    assert_eq!(app.count(stored).await, 1000, "nothing of the refused batch is stored");

    let other = app.send_events(&globex, &batch("quota-g", &globex_namespace, 10)).await;
    assert_eq!(other.status(), StatusCode::OK, "Globex has a bucket of its own");

    // A second refills 100 events: the refused batch goes through when sent again.
    app.db.clock.set(start + 1_000);
    assert_eq!(app.send_events(&acme, &batch("quota-b", "payments-prod", 10)).await.status(), StatusCode::OK);
    assert_eq!(app.count(stored).await, 1020);
    let too_many = app.send_events(&acme, &batch("quota-c", "payments-prod", 91)).await;
    assert_eq!(too_many.status(), StatusCode::TOO_MANY_REQUESTS, "90 left of the second's 100");
}
