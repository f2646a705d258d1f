//! Webhooks to the customer's endpoints: signed as the Standard Webhooks reference library
//! checks, retried on schedule, disabled after three days of failure, refused for private
//! addresses, sent once by two instances; on both databases.
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as HttpStatus};
use reqwest::StatusCode;
use serde_json::Value;
use standardwebhooks::Webhook;

use crate::helpers::*;

/// A customer's endpoint on loopback: keeps every request, answers with the status it is set to.
#[derive(Clone)]
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    answer: Arc<AtomicU16>,
    /// How long it takes to answer, in milliseconds.
    delay: Arc<AtomicU64>,
}

impl Receiver {
    async fn start() -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(AtomicU16::new(200));
        let delay = Arc::new(AtomicU64::new(0));
        let (kept, status, wait) = (received.clone(), answer.clone(), delay.clone());
        let router = axum::Router::new().route(
            "/hooks",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (kept, status, wait) = (kept.clone(), status.clone(), wait.clone());
                async move {
                    kept.lock().unwrap().push((headers, body));
                    tokio::time::sleep(Duration::from_millis(wait.load(Ordering::SeqCst))).await;
                    HttpStatus::from_u16(status.load(Ordering::SeqCst)).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self { url, received, answer, delay }
    }

    fn answer_after(&self, delay: Duration) {
        self.delay.store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    fn answer_with(&self, status: u16) {
        self.answer.store(status, Ordering::SeqCst);
    }

    fn requests(&self) -> Vec<(HeaderMap, Bytes)> {
        self.received.lock().unwrap().clone()
    }

    async fn wait_for(&self, count: usize) -> Vec<(HeaderMap, Bytes)> {
        for _ in 0..150 {
            if self.requests().len() >= count {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let requests = self.requests();
        assert!(requests.len() >= count, "{} requests, expected {count}", requests.len());
        requests
    }
}

const ALLOW_LOCAL: [&str; 2] = ["--webhook-allow-private-targets", "true"];

async fn add_endpoint(app: &TestApp, owner: &reqwest::Client, url: &str, event_types: &str) -> reqwest::Response {
    let acme = app.organization_id("Acme Corp").await;
    let form = [("organization_id", acme.as_str()), ("url", url), ("event_types", event_types)];
    app.call_with(owner, "add_webhook_endpoint", &form).await
}

/// A credit granted by staff to Acme: the simplest event to cause.
async fn grant_credit(app: &TestApp, key: &str) {
    grant_credit_to(app, "Acme Corp", key).await;
}

async fn grant_credit_to(app: &TestApp, organization: &str, key: &str) {
    let acme = app.organization_id(organization).await;
    let staff = app.client_for(&STAFF).await;
    let grant = [
        ("organization_id", acme.as_str()),
        ("amount", "12.50"),
        ("reason", "a goodwill credit"),
        ("expires", ""),
        ("idempotency_key", key),
    ];
    assert_eq!(app.call_with(&staff, "issue_credit", &grant).await.status(), StatusCode::OK);
}

async fn webhooks_page(app: &TestApp, owner: &reqwest::Client) -> Value {
    let acme = app.organization_id("Acme Corp").await;
    json(app.call_with(owner, "webhooks", &[("organization_id", &acme)]).await).await
}

fn payload(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap()
}

#[tokio::test]
async fn events_arrive_signed_as_the_standard_webhooks_library_checks_and_the_log_shows_them() {
    let receiver = Receiver::start().await;
    let app = spawn_app_with(&ALLOW_LOCAL).await;
    let owner = app.client_for(&ACME_OWNER).await;
    let created = add_endpoint(&app, &owner, &receiver.url, "credit.granted invoice.paid").await;
    assert_eq!(created.status(), StatusCode::OK);
    let created = json(created).await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{created}");
    assert_eq!(created["page"]["endpoints"][0]["event_types"], serde_json::json!(["credit.granted", "invoice.paid"]));
    assert!(!created["page"].to_string().contains(&secret), "the page never shows the secret again");

    grant_credit(&app, "credit-1").await;
    let requests = receiver.wait_for(1).await;
    let (headers, body) = &requests[0];
    Webhook::new(&secret).unwrap().verify(body, headers).expect("the reference library accepts the signature");
    let event = payload(body);
    assert_eq!(event["type"], "credit.granted");
    assert_eq!(event["id"], headers["webhook-id"].to_str().unwrap());
    assert_eq!(event["data"]["amount"], 1250);
    assert_eq!(event["data"]["currency"], "USD");
    assert_eq!(event["data"]["reason"], "a goodwill credit");
    assert!(Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap().verify(body, headers).is_err());

    // The log: delivered at the first attempt, with the endpoint's answer.
    let mut page = webhooks_page(&app, &owner).await;
    for _ in 0..50 {
        if page["endpoints"][0]["deliveries"][0]["status"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        page = webhooks_page(&app, &owner).await;
    }
    let delivery = &page["endpoints"][0]["deliveries"][0];
    assert_eq!(delivery["status"], "delivered", "{page}");
    assert_eq!(delivery["event_type"], "credit.granted");
    assert_eq!(delivery["attempts"][0]["result"], "HTTP 200");

    // Send again: the same event, the same webhook-id, a second attempt in the log.
    let acme = app.organization_id("Acme Corp").await;
    let delivery_id = delivery["id"].as_str().unwrap();
    let again = [("organization_id", acme.as_str()), ("delivery_id", delivery_id)];
    assert_eq!(app.call_with(&owner, "send_webhook_again", &again).await.status(), StatusCode::OK);
    let requests = receiver.wait_for(2).await;
    assert_eq!(requests[1].0["webhook-id"], requests[0].0["webhook-id"]);
    assert_eq!(requests[1].1, requests[0].1, "the same payload");
    // An event type the endpoint did not choose is not sent.
    assert_eq!(app.count("select count(*) from webhook_events where event_type <> 'credit.granted'").await, 0);
}

#[tokio::test]
async fn a_rotated_secret_and_the_one_before_both_sign_for_a_day_then_only_the_new_one() {
    let receiver = Receiver::start().await;
    let start = server::shared::time::now_ms();
    let app = spawn_app_at(Some(start), &ALLOW_LOCAL).await;
    let owner = app.client_for(&ACME_OWNER).await;
    let created = json(add_endpoint(&app, &owner, &receiver.url, "credit.granted").await).await;
    let old = created["secret"].as_str().unwrap().to_owned();
    let endpoint_id = created["endpoint_id"].as_str().unwrap().to_owned();
    let acme = app.organization_id("Acme Corp").await;
    let rotate = [("organization_id", acme.as_str()), ("endpoint_id", endpoint_id.as_str())];
    let rotated = json(app.call_with(&owner, "rotate_webhook_secret", &rotate).await).await;
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(old, new);
    assert!(rotated["page"]["endpoints"][0]["previous_secret_until"].is_string(), "{rotated}");

    grant_credit(&app, "during-rotation").await;
    let requests = receiver.wait_for(1).await;
    let (headers, body) = &requests[0];
    for secret in [&old, &new] {
        Webhook::new(secret).unwrap().verify(body, headers).expect("both secrets verify during the overlap");
    }
    assert_eq!(headers["webhook-signature"].to_str().unwrap().split(' ').count(), 2);

    app.db.clock.set(start + 25 * 3_600_000);
    grant_credit(&app, "after-rotation").await;
    let requests = receiver.wait_for(2).await;
    let (headers, body) = &requests[1];
    let signatures: Vec<&str> = headers["webhook-signature"].to_str().unwrap().split(' ').collect();
    let id = headers["webhook-id"].to_str().unwrap();
    let timestamp: i64 = headers["webhook-timestamp"].to_str().unwrap().parse().unwrap();
    let signed_with = |secret: &str| Webhook::new(secret).unwrap().sign(id, timestamp, body).unwrap();
    assert_eq!(signatures, vec![signed_with(&new)], "the old secret signs no more");
}

/// Moves the clock to the delivery's next attempt and waits for that attempt to be made.
async fn next_attempt(app: &TestApp) -> i64 {
    let attempts = app.count("select count(*) from webhook_attempts").await;
    let due =
        app.count("select coalesce(max(next_attempt_at), 0) from webhook_deliveries where status = 'pending'").await;
    app.db.clock.set(due);
    app.wait_for_count("select count(*) from webhook_attempts", attempts + 1).await;
    due
}

#[tokio::test]
async fn failures_are_retried_for_three_days_and_then_the_endpoint_is_disabled_with_a_notice() {
    let receiver = Receiver::start().await;
    receiver.answer_with(500);
    let start = server::shared::time::now_ms();
    let app = spawn_app_at(Some(start), &ALLOW_LOCAL).await;
    let owner = app.client_for(&ACME_OWNER).await;
    assert_eq!(add_endpoint(&app, &owner, &receiver.url, "credit.granted").await.status(), StatusCode::OK);
    grant_credit(&app, "never-accepted").await;
    app.wait_for_count("select count(*) from webhook_attempts", 1).await;
    let pending = "select count(*) from webhook_deliveries where status = 'pending'";
    assert_eq!(app.count(pending).await, 1);
    assert_eq!(next_attempt(&app).await, start + 5_000, "the first retry 5 seconds on");
    assert_eq!(next_attempt(&app).await, start + 5_000 + 300_000, "then 5 minutes");
    let mut last = 0;
    while app.count(pending).await == 1 {
        last = next_attempt(&app).await;
    }
    assert_eq!(last, start + 3 * 86_400_000, "the last try at the three-day mark");
    assert_eq!(app.count("select count(*) from webhook_deliveries where status = 'failed'").await, 1);
    let times: Vec<i64> = sqlx::query_scalar("select attempted_at from webhook_attempts order by attempted_at")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    let offsets: Vec<i64> = times.iter().map(|at| at - start).collect();
    let hour = 3_600_000;
    let expected = [0, 5_000, 305_000, 2_105_000, 9_305_000, 27_305_000];
    assert_eq!(offsets[..6], expected, "5 s, 5 min, 30 min, 2 h, 5 h");
    assert!(offsets[6..12].windows(2).all(|pair| pair[1] - pair[0] == 10 * hour), "then every 10 h: {offsets:?}");
    assert_eq!(offsets.len(), 13, "{offsets:?}");
    assert_eq!(receiver.requests().len(), 13);
    let page = webhooks_page(&app, &owner).await;
    let endpoint = &page["endpoints"][0];
    assert_eq!(endpoint["enabled"], false, "{page}");
    assert_eq!(endpoint["disabled_reason"], "every delivery failed for three days");
    assert!(endpoint["deliveries"][0]["attempts"][0]["result"].as_str().unwrap().starts_with("HTTP 500"));
    let notices = "select count(*) from notifications where kind = 'webhook_endpoint_disabled'";
    assert_eq!(app.count(notices).await, 1, "the organization hears of it");

    // Disabled, it receives nothing; enabled again, a delivery sent again arrives.
    grant_credit(&app, "while-disabled").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.requests().len(), 13);
    receiver.answer_with(204);
    let acme = app.organization_id("Acme Corp").await;
    let endpoint_id = endpoint["id"].as_str().unwrap();
    let enable = [("organization_id", acme.as_str()), ("endpoint_id", endpoint_id), ("enabled", "true")];
    assert_eq!(app.call_with(&owner, "set_webhook_endpoint_enabled", &enable).await.status(), StatusCode::OK);
    let delivery_id = endpoint["deliveries"][0]["id"].as_str().unwrap();
    let again = [("organization_id", acme.as_str()), ("delivery_id", delivery_id)];
    assert_eq!(app.call_with(&owner, "send_webhook_again", &again).await.status(), StatusCode::OK);
    app.wait_for_count("select count(*) from webhook_deliveries where status = 'delivered'", 1).await;
    assert_eq!(receiver.requests().len(), 14);
}

#[tokio::test]
async fn endpoints_on_private_or_local_addresses_and_unknown_event_types_are_refused() {
    let app = spawn_app().await;
    let owner = app.client_for(&ACME_OWNER).await;
    for (url, words) in [
        ("http://hooks.example.com/x", "must start with https://"),
        ("https://127.0.0.1/hooks", "points at a private or local address"),
        ("https://10.1.2.3/hooks", "points at a private or local address"),
        ("https://169.254.169.254/latest/meta-data", "points at a private or local address"),
        ("https://[::1]/hooks", "points at a private or local address"),
        ("https://[::ffff:192.168.0.1]/hooks", "points at a private or local address"),
        ("https://localhost/hooks", "must be a public host name"),
        ("https://no-such-host.invalid/hooks", "must be a public host name"),
        ("https://user:pass@hooks.example.com/", "must not carry a user name or password"),
        ("hooks", "must be a full URL"),
    ] {
        let refused = add_endpoint(&app, &owner, url, "invoice.paid").await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        let body = json(refused).await;
        assert_eq!(body["field"], "url", "{url}: {body}");
        assert!(body["message"].as_str().unwrap().contains(words), "{url}: {body}");
    }
    let unknown = add_endpoint(&app, &owner, "https://93.184.215.14/hooks", "invoice.paid invoice.voided").await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = json(unknown).await;
    assert_eq!(
        (body["field"].as_str(), body["message"].as_str()),
        (Some("event_types"), Some("\"invoice.voided\" is not an event type"))
    );
    assert_eq!(app.count("select count(*) from webhook_endpoints").await, 0, "nothing refused is stored");
    // A public address is accepted (nothing is sent until an event happens).
    let accepted = add_endpoint(&app, &owner, "https://93.184.215.14/hooks", "invoice.paid").await;
    assert_eq!(accepted.status(), StatusCode::OK);
}

#[tokio::test]
async fn two_instances_send_each_delivery_once() {
    let receiver = Receiver::start().await;
    let first = spawn_app_with(&ALLOW_LOCAL).await;
    let second = spawn_instance(&first.database_url, None, &ALLOW_LOCAL).await;
    let owner = first.client_for(&ACME_OWNER).await;
    assert_eq!(add_endpoint(&first, &owner, &receiver.url, "credit.granted").await.status(), StatusCode::OK);
    for n in 0..20 {
        let app = if n % 2 == 0 { &first } else { &second };
        grant_credit(app, &format!("credit-{n}")).await;
    }
    first.wait_for_count("select count(*) from webhook_deliveries where status = 'delivered'", 20).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut ids: Vec<String> =
        receiver.requests().iter().map(|(headers, _)| headers["webhook-id"].to_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), 20, "each delivery sent once");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20, "twenty events");
}

#[tokio::test]
async fn a_delivery_in_flight_cannot_be_sent_again_so_it_arrives_once() {
    let receiver = Receiver::start().await;
    receiver.answer_after(Duration::from_secs(3));
    let app = spawn_app_with(&ALLOW_LOCAL).await;
    let owner = app.client_for(&ACME_OWNER).await;
    assert_eq!(add_endpoint(&app, &owner, &receiver.url, "credit.granted").await.status(), StatusCode::OK);
    grant_credit(&app, "slow").await;
    receiver.wait_for(1).await;
    let delivery: String =
        sqlx::query_scalar("select id from webhook_deliveries").fetch_one(&app.db.pool).await.unwrap();
    let acme = app.organization_id("Acme Corp").await;
    let again = [("organization_id", acme.as_str()), ("delivery_id", delivery.as_str())];
    let refused = app.call_with(&owner, "send_webhook_again", &again).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert_eq!(json(refused).await["field"], "delivery_id");
    app.wait_for_count("select count(*) from webhook_deliveries where status = 'delivered'", 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.requests().len(), 1, "sent once");
    assert_eq!(app.call_with(&owner, "send_webhook_again", &again).await.status(), StatusCode::OK, "settled, it may");
}

#[tokio::test]
async fn endpoints_that_hang_hold_up_no_other_organizations_deliveries() {
    let hanging = Receiver::start().await;
    hanging.answer_after(Duration::from_secs(30));
    let prompt = Receiver::start().await;
    let app = spawn_app_with(&ALLOW_LOCAL).await;
    let acme_owner = app.client_for(&ACME_OWNER).await;
    for _ in 0..3 {
        assert_eq!(add_endpoint(&app, &acme_owner, &hanging.url, "credit.granted").await.status(), StatusCode::OK);
    }
    for n in 0..12 {
        grant_credit(&app, &format!("acme-{n}")).await;
    }
    hanging.wait_for(3).await;
    let globex_owner = app.client_for(&GLOBEX_OWNER).await;
    let globex = app.organization_id("Globex").await;
    let form = [("organization_id", globex.as_str()), ("url", prompt.url.as_str()), ("event_types", "credit.granted")];
    assert_eq!(app.call_with(&globex_owner, "add_webhook_endpoint", &form).await.status(), StatusCode::OK);
    let sent = std::time::Instant::now();
    grant_credit_to(&app, "Globex", "globex-1").await;
    prompt.wait_for(1).await;
    assert!(sent.elapsed() < Duration::from_secs(3), "Globex waited {:?} behind Acme's endpoints", sent.elapsed());
    assert_eq!(hanging.requests().len(), 3, "one attempt at a time per endpoint");
}

#[tokio::test]
async fn a_second_rotation_waits_until_the_first_ones_overlap_is_over() {
    let start = server::shared::time::now_ms();
    let app = spawn_app_at(Some(start), &ALLOW_LOCAL).await;
    let owner = app.client_for(&ACME_OWNER).await;
    let created = json(add_endpoint(&app, &owner, "http://127.0.0.1:9/hooks", "credit.granted").await).await;
    let acme = app.organization_id("Acme Corp").await;
    let endpoint_id = created["endpoint_id"].as_str().unwrap();
    let rotate = [("organization_id", acme.as_str()), ("endpoint_id", endpoint_id)];
    assert_eq!(app.call_with(&owner, "rotate_webhook_secret", &rotate).await.status(), StatusCode::OK);
    let again = app.call_with(&owner, "rotate_webhook_secret", &rotate).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(json(again).await["message"].as_str().unwrap().contains("rotated less than a day ago"));
    app.db.clock.set(start + 24 * 3_600_000 + 1);
    assert_eq!(app.call_with(&owner, "rotate_webhook_secret", &rotate).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_subscription_suspended_by_staff_is_announced_with_its_new_status() {
    let receiver = Receiver::start().await;
    let app = spawn_app_with(&ALLOW_LOCAL).await;
    let owner = app.client_for(&ACME_OWNER).await;
    assert_eq!(add_endpoint(&app, &owner, &receiver.url, "subscription.updated").await.status(), StatusCode::OK);
    let acme = app.organization_id("Acme Corp").await;
    let staff = app.client_for(&STAFF).await;
    let suspend = [("organization_id", acme.as_str()), ("reason", "abuse report 1142")];
    assert_eq!(app.call_with(&staff, "admin_suspend", &suspend).await.status(), StatusCode::OK);
    let requests = receiver.wait_for(1).await;
    let event = payload(&requests[0].1);
    assert_eq!(event["type"], "subscription.updated");
    assert_eq!(event["data"]["status"], "suspended");
    assert_eq!(event["data"]["change"], "status_changed");
    assert_eq!(event["data"]["previous_status"], "active");
}
