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

/// Globex's API key and one of its namespaces: the other organization, with a bucket of its own.
async fn globex_sender(app: &TestApp) -> (String, String) {
    let namespace = sqlx::query_scalar(
        "select n.name from namespaces n join organizations o on o.id = n.organization_id where o.name = 'Globex'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    (app.api_key(&GLOBEX_OWNER, "Globex").await, namespace)
}

#[tokio::test]
async fn a_batch_beyond_the_quota_is_refused_whole_with_retry_after_and_other_organizations_go_on() {
    let start = server::shared::time::now_ms();
    let app = spawn_app_at(Some(start), &["--ingest-events-per-second", "100", "--ingest-burst-events", "1000"]).await;
    let acme = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let (globex, globex_namespace) = globex_sender(&app).await;
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

/// Staff give one organization a rate of its own: from its next batch it replaces the portal's for
/// that organization alone; 0 lifts its limit and empty returns it to the portal's. A refused
/// rate names its field and changes nothing; the audit log keeps each change with its reason.
#[tokio::test]
async fn staff_give_one_organization_its_own_rate_from_its_next_batch() {
    let app = spawn_app_at(Some(server::shared::time::now_ms()), &["--ingest-events-per-second", "100000"]).await;
    let organization = app.organization_id("Acme Corp").await;
    let acme = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let (globex, globex_namespace) = globex_sender(&app).await;
    let staff = app.client_for(&STAFF).await;
    let set = |rate: &'static str, reason: &'static str| {
        let fields =
            [("organization_id", organization.clone()), ("events_per_second", rate.into()), ("reason", reason.into())];
        let (app, staff) = (&app, &staff);
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.call_with(staff, "admin_set_ingest_quota", &fields).await
        }
    };
    let own_rate = "select count(*) from organizations where name = 'Acme Corp' and ingest_events_per_second is null";

    let refused = set("fast", "contract").await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(refused).await["field"], "events_per_second");
    assert_eq!(set("100", "").await.status(), StatusCode::UNPROCESSABLE_ENTITY, "a reason is required");
    assert_eq!(app.count(own_rate).await, 1, "nothing changed");

    assert_eq!(set("100", "holding back a runaway client").await.status(), StatusCode::OK);
    assert_eq!(app.send_events(&acme, &batch("own-a", "payments-prod", 1000)).await.status(), StatusCode::OK);
    let held = app.send_events(&acme, &batch("own-b", "payments-prod", 10)).await;
    assert_eq!(held.status(), StatusCode::TOO_MANY_REQUESTS, "Acme's own 100 a second");
    for round in 0..2 {
        let other = app.send_events(&globex, &batch(&format!("own-g{round}"), &globex_namespace, 1000)).await;
        assert_eq!(other.status(), StatusCode::OK, "Globex keeps the portal's 100,000");
    }

    assert_eq!(set("0", "a contract without limits").await.status(), StatusCode::OK);
    for round in 0..3 {
        let unlimited = app.send_events(&acme, &batch(&format!("own-u{round}"), "payments-prod", 1000)).await;
        assert_eq!(unlimited.status(), StatusCode::OK);
    }

    assert_eq!(set("", "back to the usual").await.status(), StatusCode::OK);
    assert_eq!(app.count(own_rate).await, 1, "the portal's again");
    let audited = "select count(*) from audit_log where action = 'organization.ingest_quota'";
    assert_eq!(app.count(audited).await, 3);
}
