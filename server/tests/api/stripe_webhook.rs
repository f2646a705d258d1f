//! `POST /stripe/webhook` with payloads as Stripe sends them, signed the way Stripe signs them.
use reqwest::StatusCode;
use server::payments::domain::stripe_signature::sign;

use crate::helpers::*;

const SECRET: &str = "whsec_api_test_secret";
const EVENT: &str = include_str!("../fixtures/payment_intent.succeeded.json");

async fn webhook_app() -> TestApp {
    spawn_app_with(&["--stripe-webhook-secret", SECRET]).await
}

impl TestApp {
    async fn deliver(&self, body: &str, signature: Option<String>) -> reqwest::Response {
        let mut request = new_client()
            .post(self.url("/stripe/webhook"))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(signature) = signature {
            request = request.header("stripe-signature", signature);
        }
        request.send().await.expect("request")
    }

    fn now_seconds(&self) -> i64 {
        self.db.clock.now_ms() / 1000
    }
}

fn signed(secret: &str, at: i64, body: &str) -> String {
    format!("t={at},v1={}", sign(secret, at, body.as_bytes()))
}

#[tokio::test]
async fn a_signed_event_is_stored_once_however_often_it_is_delivered() {
    let app = webhook_app().await;
    let now = app.now_seconds();
    let first = app.deliver(EVENT, Some(signed(SECRET, now, EVENT))).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(json(first).await["duplicate"], false);
    for _ in 0..10 {
        let again = app.deliver(EVENT, Some(signed(SECRET, now, EVENT))).await;
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(json(again).await["duplicate"], true);
    }
    assert_eq!(app.count("select count(*) from stripe_events").await, 1);
    let stored: (String, String, String) =
        sqlx::query_as("select id, event_type, status from stripe_events").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(stored, ("evt_3QdTjpLkdIwHu7ix0KQb5bPN".into(), "payment_intent.succeeded".into(), "pending".into()));
    let payload: String =
        sqlx::query_scalar("select payload from stripe_events").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(payload, EVENT, "the raw event is kept as sent");
}

#[tokio::test]
async fn concurrent_deliveries_of_one_event_store_it_once() {
    let app = webhook_app().await;
    let now = app.now_seconds();
    let deliveries = (0..10).map(|_| app.deliver(EVENT, Some(signed(SECRET, now, EVENT))));
    let answers = futures_util::future::join_all(deliveries).await;
    assert!(answers.iter().all(|a| a.status() == StatusCode::OK));
    assert_eq!(app.count("select count(*) from stripe_events").await, 1);
}

#[tokio::test]
async fn bad_signatures_get_400_and_store_nothing() {
    let app = webhook_app().await;
    let now = app.now_seconds();
    let tampered = EVENT.replace("96500", "1");
    let cases = [
        ("no header", EVENT.to_owned(), None),
        ("wrong secret", EVENT.to_owned(), Some(signed("whsec_someone_else", now, EVENT))),
        ("expired", EVENT.to_owned(), Some(signed(SECRET, now - 301, EVENT))),
        ("tampered body", tampered.clone(), Some(signed(SECRET, now, EVENT))),
        ("malformed", EVENT.to_owned(), Some("t=soon,v1=abc".to_owned())),
    ];
    for (what, body, signature) in cases {
        let response = app.deliver(&body, signature).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
        assert_eq!(json(response).await["error"]["field"], "stripe-signature", "{what}");
    }
    assert_eq!(app.count("select count(*) from stripe_events").await, 0);
}

#[tokio::test]
async fn a_rolled_secret_signature_among_several_is_accepted_and_a_signed_non_event_is_refused() {
    let app = webhook_app().await;
    let now = app.now_seconds();
    let header =
        format!("t={now},v1={},v1={}", sign("whsec_old", now, EVENT.as_bytes()), sign(SECRET, now, EVENT.as_bytes()));
    assert_eq!(app.deliver(EVENT, Some(header)).await.status(), StatusCode::OK);
    let not_an_event = r#"{"hello": "world"}"#;
    let response = app.deliver(not_an_event, Some(signed(SECRET, now, not_an_event))).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(response).await["error"]["field"], "body");
    assert_eq!(app.count("select count(*) from stripe_events").await, 1);
}

#[tokio::test]
async fn without_a_webhook_secret_the_endpoint_does_not_exist() {
    let app = spawn_app().await;
    let now = app.now_seconds();
    assert_eq!(app.deliver(EVENT, Some(signed(SECRET, now, EVENT))).await.status(), StatusCode::NOT_FOUND);
}
