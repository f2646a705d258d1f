use std::sync::Arc;

use reqwest::cookie::Jar;
use reqwest::{Client, StatusCode, redirect};
use serde_json::Value;

use crate::helpers::{ACME_OWNER, TestApp, json, minutes_ago, spawn_app};

/// The owner of Acme, logged in from a browser whose zone cookie says `zone`.
async fn owner_in(app: &TestApp, zone: &str) -> Client {
    let jar = Arc::new(Jar::default());
    jar.add_cookie_str(&format!("tz={zone}; Path=/"), &app.url("/").parse().unwrap());
    let client = Client::builder().cookie_provider(jar).redirect(redirect::Policy::none()).build().unwrap();
    let login = [("email", ACME_OWNER.email), ("password", ACME_OWNER.password)];
    assert_eq!(app.call_with(&client, "login", &login).await.status(), StatusCode::OK);
    client
}

async fn call(app: &TestApp, client: &Client, function: &str, form: &[(&str, &str)]) -> Value {
    let response = app.call_with(client, function, form).await;
    assert_eq!(response.status(), StatusCode::OK, "{function}");
    json(response).await
}

#[tokio::test]
async fn times_read_in_the_browsers_zone_until_the_person_chooses_one_and_exports_stay_utc() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    let tokyo = owner_in(&app, "Asia/Tokyo").await;
    let usage = [("organization_id", acme.as_str()), ("metric", "actions"), ("range", "Last24Hours")];
    let watermark = |report: &Value| report["complete_through"].as_str().unwrap().to_owned();

    let without_cookie = json(app.call_with(&owner, "usage", &usage).await).await;
    assert!(watermark(&without_cookie).ends_with(" UTC"), "{}", watermark(&without_cookie));
    let in_tokyo = call(&app, &tokyo, "usage", &usage).await;
    assert!(watermark(&in_tokyo).ends_with(" JST"), "{}", watermark(&in_tokyo));

    let chosen = app.call_with(&owner, "set_time_zone", &[("time_zone", "America/New_York")]).await;
    assert_eq!(chosen.status(), StatusCode::OK);
    let after_choice = call(&app, &tokyo, "usage", &usage).await;
    assert!(
        watermark(&after_choice).ends_with(" EST"),
        "the choice wins over the browser: {}",
        watermark(&after_choice)
    );
    let preferences = call(&app, &tokyo, "preferences", &[("organization_id", &acme)]).await;
    assert_eq!(preferences["time_zone"], "America/New_York");
    assert_eq!(preferences["browser_time_zone"], "Asia/Tokyo");
    assert!(preferences["now"].as_str().unwrap().ends_with(" EST"));
    assert!(preferences["time_zones"].as_array().unwrap().iter().any(|z| z == "Europe/Paris"));

    let refused = app.call_with(&owner, "set_time_zone", &[("time_zone", "Europe/Atlantis")]).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(json(refused).await["field"], "time_zone");
    let still = call(&app, &tokyo, "preferences", &[("organization_id", &acme)]).await;
    assert_eq!(still["time_zone"], "America/New_York", "a refused zone changes nothing");

    assert_eq!(app.call_with(&owner, "set_time_zone", &[("time_zone", "")]).await.status(), StatusCode::OK);
    let back = call(&app, &tokyo, "usage", &usage).await;
    assert!(watermark(&back).ends_with(" JST"), "back to the browser's zone: {}", watermark(&back));

    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let event = serde_json::json!([{"id": "tz", "namespace": "payments-prod", "metric": "actions", "quantity": 1, "timestamp": minutes_ago(0)}]);
    app.send_events(&key, &event).await;
    app.wait_for_rollups().await;
    // A time shown on its own keeps UTC beside the reader's, for the hover.
    let with_event = call(&app, &tokyo, "usage", &usage).await;
    let hour = &with_event["rows"].as_array().unwrap().last().expect("the event's hour")["hour"];
    assert!(hour["local"].as_str().unwrap().ends_with(" JST"), "{hour}");
    assert!(hour["utc"].as_str().unwrap().ends_with(":00:00Z"), "{hour}");
    let csv = app.text_at(&tokyo, &format!("/orgs/{acme}/usage.csv?metric=actions&range=7d")).await;
    let first_row = csv.lines().nth(1).expect("the event's hour");
    assert!(first_row.split(',').next().unwrap().ends_with('Z'), "exports keep UTC: {first_row}");
}
