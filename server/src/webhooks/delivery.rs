//! Sending due deliveries after commit: signed (Standard Webhooks), with a 10-second timeout,
//! each in a task of its own, at most one at a time per endpoint, so an endpoint that hangs holds
//! one sender and no other customer's deliveries. Each attempt is logged; a failure is tried
//! again on the schedule, and an endpoint that failed for the whole window is disabled with a
//! notice to the organization.
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::error::Error;
use crate::notifications::outbox::notify;
use crate::shared::ids::{IdKind, new_id};
use crate::store::Db;
use crate::webhooks::db::{
    Attempt, DueDelivery, EndpointRow, Settlement, any_due, claim_due, endpoint, insert_attempt, note_outcome,
    set_disabled, settle,
};
use crate::webhooks::domain::schedule::{AfterFailure, after_failure, disables_endpoint};
use crate::webhooks::domain::signature::signature_header;
use crate::webhooks::targets::{PublicAddressesOnly, TargetPolicy};

const TIMEOUT: Duration = Duration::from_secs(10);
/// Longer than an attempt can take, so a lease lapses only when its instance died.
const LEASE_MS: i64 = 60_000;
/// Attempts in flight at once, per instance.
const SENDERS: usize = 32;
/// What of an endpoint's error answer is kept for the log.
const KEPT_ANSWER: usize = 200;

/// The HTTP client deliveries go out through, and what this instance is sending now.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    policy: TargetPolicy,
    senders: Arc<Semaphore>,
    /// The endpoints an attempt of this instance is under way to.
    busy: Arc<Mutex<HashSet<String>>>,
}

impl Sender {
    pub fn new(policy: TargetPolicy) -> Result<Self, Error> {
        let mut builder = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("billing-portal-webhooks/", env!("CARGO_PKG_VERSION")));
        if !policy.allow_private {
            builder = builder.dns_resolver(Arc::new(PublicAddressesOnly));
        }
        let client = builder.build().map_err(|error| Error::Config(format!("the webhook client: {error}")))?;
        Ok(Self {
            client,
            policy,
            senders: Arc::new(Semaphore::new(SENDERS)),
            busy: Arc::new(Mutex::new(HashSet::new())),
        })
    }

    fn busy_endpoints(&self) -> Vec<String> {
        self.busy.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).iter().cloned().collect()
    }

    fn set_busy(&self, endpoint_id: &str, busy: bool) {
        let mut endpoints = self.busy.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if busy {
            endpoints.insert(endpoint_id.to_owned());
        } else {
            endpoints.remove(endpoint_id);
        }
    }
}

/// Claims what is due, as many as there are free senders, and starts sending each in a task of
/// its own; answers how many it started. Called every moment by the webhook job.
#[tracing::instrument(skip_all)]
pub async fn start_due_deliveries(db: &Db, sender: &Sender) -> Result<usize, Error> {
    let free = sender.senders.available_permits();
    if free == 0 {
        return Ok(0);
    }
    let now = db.clock.now_ms();
    if !any_due(&mut *db.pool.acquire().await?, now).await? {
        return Ok(0);
    }
    let due = {
        let mut tx = db.begin().await?;
        let due = claim_due(&mut tx, now, now + LEASE_MS, free as i64, &sender.busy_endpoints()).await?;
        tx.commit().await?;
        due
    };
    let started = due.len();
    for delivery in due {
        // Never waits: only this loop takes senders, and it claimed no more than were free.
        let Ok(permit) = sender.senders.clone().acquire_owned().await else { break };
        sender.set_busy(&delivery.endpoint_id, true);
        let (db, sender) = (db.clone(), sender.clone());
        tokio::spawn(async move {
            let endpoint_id = delivery.endpoint_id.clone();
            if let Err(error) = deliver_one(&db, &sender, delivery).await {
                tracing::warn!(%error, "recording a webhook attempt failed; its lease lapses and it is sent again");
            }
            sender.set_busy(&endpoint_id, false);
            drop(permit);
        });
    }
    Ok(started)
}

/// What one attempt came to.
struct Outcome {
    status_code: Option<i64>,
    error: Option<String>,
    duration_ms: i64,
}

impl Outcome {
    fn succeeded(&self) -> bool {
        self.error.is_none()
    }
}

async fn deliver_one(db: &Db, sender: &Sender, delivery: DueDelivery) -> Result<(), Error> {
    let found = {
        let mut conn = db.pool.acquire().await?;
        endpoint(&mut conn, &delivery.organization_id, &delivery.endpoint_id).await?
    };
    let Some(target) = found.filter(|e| e.disabled_at.is_none()) else {
        let mut conn = db.pool.acquire().await?;
        let settlement = Settlement {
            status: "failed",
            next_attempt_at: None,
            status_code: None,
            error: Some("not sent: the endpoint is disabled"),
        };
        settle(&mut conn, &delivery.id, delivery.attempts, &settlement, db.clock.now_ms()).await?;
        return Ok(());
    };
    let started_at = db.clock.now_ms();
    let outcome = post(sender, &target, &delivery, started_at).await;
    record(db, &target, &delivery, &outcome, started_at).await
}

async fn post(sender: &Sender, target: &EndpointRow, delivery: &DueDelivery, now: i64) -> Outcome {
    let started = Instant::now();
    let finish = |status_code: Option<i64>, error: Option<String>| Outcome {
        status_code,
        error,
        duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
    };
    let url = match sender.policy.check_form(&target.url) {
        Ok(url) => url,
        Err(reason) => return finish(None, Some(format!("not sent: the URL {reason}"))),
    };
    let timestamp = now.div_euclid(1000);
    let body = delivery.payload.as_bytes();
    let Some(signature) = signature_header(&delivery.event_id, timestamp, body, &target.signing_secrets(now)) else {
        return finish(None, Some("not sent: the endpoint's signing secret is unreadable".to_owned()));
    };
    let request = sender
        .client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", &delivery.event_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(delivery.payload.clone());
    match request.send().await {
        Ok(response) if response.status().is_success() => finish(Some(i64::from(response.status().as_u16())), None),
        Ok(response) => {
            let status = response.status();
            let answer = first_words(response).await;
            let error = if answer.is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {answer}") };
            finish(Some(i64::from(status.as_u16())), Some(error))
        }
        Err(error) => finish(None, Some(transport_words(&error))),
    }
}

/// The start of an error answer, read no further than the log keeps.
async fn first_words(mut response: reqwest::Response) -> String {
    let mut kept = Vec::new();
    while kept.len() < KEPT_ANSWER {
        match tokio::time::timeout(Duration::from_secs(2), response.chunk()).await {
            Ok(Ok(Some(chunk))) => kept.extend_from_slice(&chunk[..chunk.len().min(KEPT_ANSWER - kept.len())]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&kept).split_whitespace().collect::<Vec<_>>().join(" ")
}

fn transport_words(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        format!("no answer within {} seconds", TIMEOUT.as_secs())
    } else if error.is_connect() {
        // The resolver's refusal of a private address is a connect error too: say which.
        let mut source: Option<&dyn std::error::Error> = Some(error);
        while let Some(cause) = source {
            if cause.to_string().contains("no public address") {
                return format!("not sent: {cause}");
            }
            source = cause.source();
        }
        "the connection was refused or failed".to_owned()
    } else {
        "the request failed before an answer".to_owned()
    }
}

async fn record(
    db: &Db,
    target: &EndpointRow,
    delivery: &DueDelivery,
    outcome: &Outcome,
    attempted_at: i64,
) -> Result<(), Error> {
    let now = db.clock.now_ms();
    let mut tx = db.begin().await?;
    let attempt = Attempt {
        id: new_id(IdKind::WebhookAttempt, attempted_at),
        delivery_id: &delivery.id,
        attempted_at,
        status_code: outcome.status_code,
        error: outcome.error.as_deref(),
        duration_ms: outcome.duration_ms,
    };
    insert_attempt(&mut tx, &attempt).await?;
    let failing_since = note_outcome(&mut tx, &target.id, outcome.succeeded(), now).await?;
    let next_attempt_at = match (outcome.succeeded(), after_failure(delivery.attempts, delivery.created_at, now)) {
        (true, _) | (false, AfterFailure::GiveUp) => None,
        (false, AfterFailure::RetryAt(at)) => Some(at),
    };
    let status = match (outcome.succeeded(), next_attempt_at) {
        (true, _) => "delivered",
        (false, Some(_)) => "pending",
        (false, None) => "failed",
    };
    let settlement =
        Settlement { status, next_attempt_at, status_code: outcome.status_code, error: outcome.error.as_deref() };
    if !settle(&mut tx, &delivery.id, delivery.attempts, &settlement, now).await? {
        // Another attempt claimed it after this one's lease lapsed; only the log keeps this one.
        tx.commit().await?;
        return Ok(());
    }
    if status == "failed"
        && let Some(since) = failing_since
        && disables_endpoint(since, now)
    {
        disable_failing(&mut tx, target, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn disable_failing(conn: &mut sqlx::AnyConnection, target: &EndpointRow, now: i64) -> Result<(), Error> {
    let reason = "every delivery failed for three days";
    if !set_disabled(conn, &target.id, Some((now, reason))).await? {
        return Ok(());
    }
    tracing::warn!(endpoint = %target.id, "webhook endpoint disabled after failing for three days");
    let body = format!(
        "Your webhook endpoint {} has not accepted a delivery for three days, so it is disabled and receives \
         nothing more.\n\nThe webhooks page of the billing portal shows each attempt and its answer. Once the \
         endpoint works again, enable it there and send the failed deliveries again.",
        target.url
    );
    let reference = format!("{}:{now}", target.id);
    notify(
        conn,
        &target.organization_id,
        "webhook_endpoint_disabled",
        &reference,
        "A webhook endpoint was disabled",
        &body,
        now,
    )
    .await
}
