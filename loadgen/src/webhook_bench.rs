//! Webhook acknowledgement load: realistic Stripe events with distinct ids, signed the way Stripe
//! signs them, posted over several connections; reports deliveries per second and latency.
use server::payments::domain::stripe_signature::sign;
use server::shared::time::now_ms;

use crate::closed_loop;

const FIXTURE: &str = include_str!("../../server/tests/fixtures/payment_intent.succeeded.json");
const FIXTURE_ID: &str = "evt_3QdTjpLkdIwHu7ix0KQb5bPN";

pub async fn run(url: &str, secret: &str, events: u64, connections: usize) -> Result<(), Box<dyn std::error::Error>> {
    let run_id = now_ms();
    let (client, endpoint, secret) = (reqwest::Client::new(), format!("{url}/stripe/webhook"), secret.to_owned());
    let delivered = closed_loop::run(connections, events, move |n| {
        let body = FIXTURE.replace(FIXTURE_ID, &format!("evt_bench_{run_id}_{n}"));
        let at = now_ms() / 1000;
        let signature = format!("t={at},v1={}", sign(&secret, at, body.as_bytes()));
        let sent = client.post(&endpoint).header("stripe-signature", signature).body(body).send();
        async move { sent.await.is_ok_and(|a| a.status().is_success()) }
    })
    .await?;
    println!(
        "webhooks: {events} deliveries in {:.1} s = {:.0} deliveries/s over {connections} connections; \
         ack latency p50 {:.1} ms, p99 {:.1} ms; failed {}",
        delivered.seconds,
        delivered.per_second(events),
        delivered.percentile_ms(0.5),
        delivered.percentile_ms(0.99),
        delivered.failed
    );
    Ok(())
}
