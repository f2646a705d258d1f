//! Usage sent → alert delivered: a budget one batch short of its limit, the batch that reaches it,
//! and the time until its `usage.threshold_crossed` webhook arrives at a receiver on loopback.
//! Each sample saves the budget with a new limit, a new revision whose threshold alerts afresh,
//! so one organization gives as many samples as wanted. Other organizations may flood ingestion
//! meanwhile, to see the figure under load.
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use app::api::dto::SessionUser;
use axum::Router;
use axum::routing::post;
use serde_json::{Value, json};
use server::accounts::db::users::find_user_by_email;
use server::accounts::login::session_user;
use server::store::Db;
use server::webhooks::endpoints::add_endpoint;
use server::webhooks::targets::TargetPolicy;
use tokio::sync::mpsc;

use crate::noisy_neighbour::flood;
use crate::percentile_ms;
use crate::setup::{Target, owner_email};

/// Each sample's batch: one event of this many actions, exactly what the budget lacks.
const STEP: i64 = 1_000;
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn run(
    url: &str,
    db: &Db,
    targets: &[Target],
    samples: usize,
    background_connections: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let [measured, others @ ..] = targets else { return Err("the keys file has no organization".into()) };
    let mut arrivals = receive_webhooks(db, measured).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let background = match others.first() {
        Some(noisy) if background_connections > 0 => {
            let flooding = flood(url, noisy, background_connections, stop.clone())?;
            // Let the flood reach its pace before measuring under it.
            tokio::time::sleep(Duration::from_secs(2)).await;
            Some(flooding)
        }
        _ => None,
    };

    let client = reqwest::Client::new();
    let namespace = &measured.namespaces[0];
    let put_budget = |limit: i64| {
        let budget = json!([{ "namespace": namespace, "measure": "actions", "limit": limit, "thresholds": [100] }]);
        client.put(format!("{url}/v1/budgets")).bearer_auth(&measured.key).json(&budget).send()
    };
    // First a limit far off, to read what is used so far.
    let answer: Value = put_budget(1_000_000_000_000).await?.error_for_status()?.json().await?;
    let mut used = answer[0]["used"].as_i64().ok_or("the budget has no figure used: is there a plan?")?;
    let mut latencies = Vec::with_capacity(samples);
    for sample in 0..samples {
        put_budget(used + STEP).await?.error_for_status()?;
        let event = json!([{ "id": format!("alert-{}-{sample}", crate::now_ms()), "namespace": namespace,
            "metric": "actions", "quantity": STEP, "timestamp": now_rfc3339() }]);
        let sent = Instant::now();
        client
            .post(format!("{url}/v1/usage/events"))
            .bearer_auth(&measured.key)
            .json(&event)
            .send()
            .await?
            .error_for_status()?;
        loop {
            let (arrived, body) =
                tokio::time::timeout(DELIVERY_TIMEOUT, arrivals.recv()).await?.ok_or("the webhook receiver stopped")?;
            if body["type"] == "usage.threshold_crossed" {
                latencies.push(arrived.duration_since(sent).as_micros() as u64);
                break;
            }
        }
        used += STEP;
    }
    stop.store(true, Ordering::Relaxed);
    let flooded = match background {
        Some(flooding) => {
            let (sent, refused) = flooding.finish().await?;
            format!(
                ", while another organization floods over {background_connections} connections \
                 ({sent} batches of 1,000 accepted, {refused} answered 429)"
            )
        }
        None => " (no other load)".to_owned(),
    };
    latencies.sort_unstable();
    println!(
        "alert latency (usage sent → usage.threshold_crossed webhook received), {samples} samples: \
         p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms{flooded}",
        percentile_ms(&latencies, 0.5),
        percentile_ms(&latencies, 0.99),
        percentile_ms(&latencies, 1.0),
    );
    Ok(())
}

/// A receiver on loopback registered as the organization's endpoint for threshold alerts; it
/// answers 204 and passes each delivery on with the moment it arrived.
async fn receive_webhooks(
    db: &Db,
    target: &Target,
) -> Result<mpsc::UnboundedReceiver<(Instant, Value)>, Box<dyn std::error::Error>> {
    let (arrived, arrivals) = mpsc::unbounded_channel();
    let app = Router::new().route(
        "/",
        post(move |body: axum::body::Bytes| async move {
            let _ = arrived.send((Instant::now(), serde_json::from_slice(&body).unwrap_or(Value::Null)));
            axum::http::StatusCode::NO_CONTENT
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let receiver_url = format!("http://{}/", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let owner = owner_of(db, &target.organization_id).await?;
    let policy = TargetPolicy { allow_private: true };
    add_endpoint(db, &policy, &owner, &target.organization_id, &receiver_url, "usage.threshold_crossed").await?;
    Ok(arrivals)
}

async fn owner_of(db: &Db, organization_id: &str) -> Result<SessionUser, Box<dyn std::error::Error>> {
    let mut conn = db.pool.acquire().await?;
    let user = find_user_by_email(&mut conn, &owner_email(organization_id)).await?.ok_or("no owner")?;
    Ok(session_user(db, &user.id, user.session_generation).await?.ok_or("no owner")?)
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}
