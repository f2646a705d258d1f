//! A bounded fuzz run over everything that parses outside input: usage batches, Stripe webhook
//! bodies and signature headers, and server-function forms. Arbitrary bytes must never panic the
//! server or give 500; the server answers normally afterwards.
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use server::payments::domain::stripe_signature::sign;

use crate::helpers::*;

const ROUNDS: usize = 150;
const SECRET: &str = "whsec_fuzz";

/// Random bytes, sometimes shaped like the real thing so the parsers get past their first check.
fn noise(rng: &mut StdRng, seeds: &[&str]) -> Vec<u8> {
    let mut bytes: Vec<u8> = match rng.gen_range(0..3) {
        0 => (0..rng.gen_range(0..2_000)).map(|_| rng.r#gen::<u8>()).collect(),
        _ => seeds[rng.gen_range(0..seeds.len())].as_bytes().to_vec(),
    };
    // Flip, cut and splice: the structure survives in part, the values do not.
    for _ in 0..rng.gen_range(0..8) {
        if bytes.is_empty() {
            break;
        }
        let at = rng.gen_range(0..bytes.len());
        match rng.gen_range(0..3) {
            0 => bytes[at] = rng.r#gen(),
            1 => bytes.truncate(at),
            _ => {
                let specials = b"{}[]\",:\\\n\x00\xff9-e.";
                bytes.insert(at, specials[rng.gen_range(0..specials.len())]);
            }
        }
    }
    bytes
}

#[tokio::test]
async fn arbitrary_input_never_panics_the_server_or_gives_500() {
    let app = spawn_app_with(&["--stripe-webhook-secret", SECRET]).await;
    let key = app.api_key(&ACME_OWNER, "Acme Corp").await;
    let owner = app.client_for(&ACME_OWNER).await;
    let acme = app.organization_id("Acme Corp").await;
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let batches = [
        r#"[{"id":"a","namespace":"payments-prod","metric":"actions","quantity":5,"timestamp":"2026-11-25T10:00:00Z","properties":{"k":"v"}}]"#,
        r#"{"events":[{"id":"b","namespace":"payments-prod","metric":"active_storage_gbh","quantity":1,"timestamp":"2026-11-25T10:00:00Z"}]}"#,
        "{\"id\":\"c\",\"namespace\":\"x\",\"metric\":\"actions\",\"quantity\":1,\"timestamp\":\"2026-11-25T10:00:00Z\"}\n{}\n",
    ];
    let events = [
        include_str!("../fixtures/payment_intent.succeeded.json"),
        include_str!("../fixtures/setup_intent.succeeded.json"),
    ];
    let mut statuses = std::collections::BTreeMap::new();
    for round in 0..ROUNDS {
        let body = noise(&mut rng, &batches);
        let content_type = ["application/json", "application/x-ndjson", "text/plain"][round % 3];
        let response = app
            .api(reqwest::Method::POST, "/v1/usage/events", &key)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("the server answers");
        *statuses.entry(("ingest", response.status().as_u16())).or_insert(0) += 1;
        assert!(response.status().as_u16() < 500, "ingest round {round}: {}", response.status());

        let body = noise(&mut rng, &events);
        let now = app.db.clock.now_ms() / 1000;
        let signature = match rng.gen_range(0..3) {
            0 => format!("t={now},v1={}", sign(SECRET, now, &body)),
            1 => String::from_utf8_lossy(&noise(&mut rng, &["t=1,v1=abc,v0=def"])).into_owned(),
            _ => format!("t={},v1={}", rng.r#gen::<i64>(), "0".repeat(rng.gen_range(0..70))),
        };
        let response = new_client()
            .post(app.url("/stripe/webhook"))
            // Only what an HTTP header can carry at all.
            .header(
                "stripe-signature",
                signature.chars().filter(|c| c.is_ascii_graphic() || *c == ' ').collect::<String>(),
            )
            .body(body)
            .send()
            .await
            .expect("the server answers");
        *statuses.entry(("webhook", response.status().as_u16())).or_insert(0) += 1;
        assert!(response.status().as_u16() < 500, "webhook round {round}: {}", response.status());

        let form_value =
            String::from_utf8_lossy(&noise(&mut rng, &["4242 4242 4242 4242", "12", "25.00", "2031"])).into_owned();
        for (function, field) in [
            ("save_test_card", "number"),
            ("save_test_card", "exp_year"),
            ("create_namespace", "name"),
            ("preview_plan_change", "plan"),
        ] {
            let form = [
                ("organization_id", acme.as_str()),
                (field, form_value.as_str()),
                ("exp_month", "12"),
                ("number", "4242424242424242"),
            ];
            let response = app.call_with(&owner, function, &form).await;
            let status = response.status();
            assert!(
                status.as_u16() < 500,
                "{function}.{field} round {round}: {status} for {form_value:?}: {}",
                response.text().await.unwrap_or_default()
            );
        }
    }
    // Valid requests still work afterwards.
    assert_eq!(app.call_with(&owner, "dashboard", &[("organization_id", &acme)]).await.status(), StatusCode::OK);
    eprintln!("fuzz statuses: {statuses:?}");
}
