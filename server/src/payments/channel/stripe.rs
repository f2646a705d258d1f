//! The Stripe channel, through async-stripe: a customer per organization, card setup in a
//! Checkout Session (setup mode), off-session PaymentIntents for charges. Every mutating call
//! carries our idempotency key; network errors, 429 and 5xx are retried with backoff under the
//! same key, and card errors become our failure reasons.
use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_checkout::checkout_session::CreateCheckoutSession;
use stripe_client_core::{RequestBuilder, StripeMethod};
use stripe_core::customer::{CreateCustomer, ListCustomer};
use stripe_core::payment_intent::{
    CreatePaymentIntent, CreatePaymentIntentOffSession, ListPaymentIntent, RetrievePaymentIntent, SearchPaymentIntent,
};
use stripe_core::refund::CreateRefund;
use stripe_core::{PaymentIntent, PaymentIntentStatus};
use stripe_payment::payment_method::RetrievePaymentMethod;
use stripe_shared::CheckoutSessionMode;

use super::{
    ChannelError, ChargeOutcome, ChargeRequest, ListPage, ListedEvent, PaymentChannel, PaymentFailure, ProcessorCharge,
    ProcessorCustomer, SetupStart,
};
use crate::payments::domain::card::CardDetails;

/// Objects per page of a list, Stripe's maximum.
const PAGE: i64 = 100;

/// The query of one page of `GET /v1/events`: `created[gte]`, `limit`, `starting_after`.
#[derive(serde::Serialize)]
struct EventPage<'a> {
    created: Since,
    limit: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    starting_after: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct Since {
    gte: i64,
}

/// Tries per call: the first and two retries.
const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

pub struct StripeChannel {
    client: Client,
}

impl StripeChannel {
    /// `api_base` points the client elsewhere than api.stripe.com (the tests' fake Stripe).
    pub fn new(secret_key: &str, api_base: Option<&str>) -> Result<Self, ChannelError> {
        let mut builder = ClientBuilder::new(secret_key).timeout(Duration::from_secs(30));
        if let Some(base) = api_base {
            // The client appends `v1/...` to the base as written.
            builder = builder.url(format!("{}/", base.trim_end_matches('/')));
        }
        let client = builder.build().map_err(|e| ChannelError::Refused(e.to_string()))?;
        Ok(Self { client })
    }
}

/// Sends one request under `key`, again on network errors, 429 and 5xx, with doubling pauses.
async fn with_retries<T, F, Fut>(key: &str, send: F) -> Result<T, StripeError>
where
    F: Fn(RequestStrategy) -> Fut,
    Fut: Future<Output = Result<T, StripeError>>,
{
    let key = IdempotencyKey::new(key).map_err(|e| StripeError::ConfigError(e.to_string()))?;
    let mut pause = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        match send(RequestStrategy::Idempotent(key.clone())).await {
            Err(error) if attempt < ATTEMPTS && is_transient(&error) => {
                tracing::warn!(%error, attempt, "stripe request failed; retrying with the same idempotency key");
                tokio::time::sleep(pause).await;
                pause *= 2;
                attempt += 1;
            }
            result => return result,
        }
    }
}

fn is_transient(error: &StripeError) -> bool {
    match error {
        // 409: the same idempotency key is in use by a request still running.
        StripeError::Stripe(_, status) => *status == 409 || *status == 429 || *status >= 500,
        StripeError::ClientError(_) | StripeError::Timeout => true,
        StripeError::JSONDeserialize(_) | StripeError::ConfigError(_) => false,
    }
}

fn channel_error(error: StripeError) -> ChannelError {
    if is_transient(&error) {
        ChannelError::Unavailable(error.to_string())
    } else {
        match error {
            StripeError::Stripe(api, status) => {
                ChannelError::Refused(format!("{status}: {}", api.message.unwrap_or_default()))
            }
            other => ChannelError::Refused(other.to_string()),
        }
    }
}

fn outcome_of(intent: &PaymentIntent) -> ChargeOutcome {
    let id = intent.id.to_string();
    match &intent.status {
        PaymentIntentStatus::Succeeded => ChargeOutcome::Succeeded { processor_payment_id: id },
        PaymentIntentStatus::Processing => ChargeOutcome::Pending { processor_payment_id: id },
        PaymentIntentStatus::RequiresAction => ChargeOutcome::Failed {
            processor_payment_id: Some(id),
            failure: PaymentFailure {
                code: "authentication_required".into(),
                message: "Your card requires authentication, which is not possible for an automatic payment.".into(),
            },
        },
        other => ChargeOutcome::Failed {
            processor_payment_id: Some(id),
            failure: PaymentFailure {
                code: other.as_str().to_owned(),
                message: "The payment was not completed.".into(),
            },
        },
    }
}

#[async_trait]
impl PaymentChannel for StripeChannel {
    async fn ensure_customer(&self, organization_id: &str, billing_email: &str) -> Result<String, ChannelError> {
        let metadata = HashMap::from([("organization_id".to_owned(), organization_id.to_owned())]);
        let request = CreateCustomer::new().email(billing_email).metadata(metadata);
        let key = format!("customer-{organization_id}");
        let customer = with_retries(&key, |strategy| request.customize().request_strategy(strategy).send(&self.client))
            .await
            .map_err(channel_error)?;
        Ok(customer.id.to_string())
    }

    async fn charge(&self, charge: &ChargeRequest<'_>) -> Result<ChargeOutcome, ChannelError> {
        let metadata = HashMap::from([
            ("invoice_id".to_owned(), charge.invoice_id.to_owned()),
            ("payment_id".to_owned(), charge.payment_id.to_owned()),
        ]);
        let currency = charge.currency.to_lowercase().parse::<stripe_types::Currency>().unwrap_or_default();
        let request = CreatePaymentIntent::new(charge.amount_minor, currency)
            .customer(charge.customer_id)
            .payment_method(charge.payment_method_id)
            .confirm(true)
            .off_session(CreatePaymentIntentOffSession::Bool(true))
            .metadata(metadata);
        let sent = with_retries(charge.idempotency_key, |strategy| {
            request.customize().request_strategy(strategy).send(&self.client)
        })
        .await;
        match sent {
            Ok(intent) => Ok(outcome_of(&intent)),
            // A declined card: Stripe answers 402 with the failed PaymentIntent inside the error.
            Err(StripeError::Stripe(api, 402)) => Ok(ChargeOutcome::Failed {
                processor_payment_id: api.payment_intent.as_ref().map(|p| p.id.to_string()),
                failure: PaymentFailure {
                    code: api
                        .decline_code
                        .clone()
                        .or_else(|| api.code.as_ref().map(|c| c.as_str().to_owned()))
                        .unwrap_or_else(|| "card_declined".into()),
                    message: api.message.clone().unwrap_or_else(|| "Your card was declined.".into()),
                },
            }),
            Err(error) => Err(channel_error(error)),
        }
    }

    async fn refund(
        &self,
        processor_payment_id: &str,
        amount_minor: i64,
        idempotency_key: &str,
    ) -> Result<String, ChannelError> {
        let request = CreateRefund::new().payment_intent(processor_payment_id).amount(amount_minor);
        let refund =
            with_retries(idempotency_key, |strategy| request.customize().request_strategy(strategy).send(&self.client))
                .await
                .map_err(channel_error)?;
        Ok(refund.id.to_string())
    }

    async fn payment_state(&self, processor_payment_id: &str) -> Result<ChargeOutcome, ChannelError> {
        let intent =
            RetrievePaymentIntent::new(processor_payment_id).send(&self.client).await.map_err(channel_error)?;
        Ok(outcome_of(&intent))
    }

    async fn find_payment(&self, payment_id: &str) -> Result<Option<ChargeOutcome>, ChannelError> {
        // Our ids are letters, digits and underscores, so nothing in them can break the query.
        let query = format!("metadata['payment_id']:'{payment_id}'");
        let found = SearchPaymentIntent::new(query).send(&self.client).await.map_err(channel_error)?;
        // A success settles the attempt; else one still processing keeps it pending; only then a failure.
        let rank = |intent: &&PaymentIntent| match intent.status {
            PaymentIntentStatus::Succeeded => 0,
            PaymentIntentStatus::Processing => 1,
            _ => 2,
        };
        Ok(found.data.iter().min_by_key(rank).map(outcome_of))
    }

    async fn client_secret(&self, processor_payment_id: &str) -> Result<Option<String>, ChannelError> {
        let intent =
            RetrievePaymentIntent::new(processor_payment_id).send(&self.client).await.map_err(channel_error)?;
        Ok(intent.client_secret)
    }

    async fn start_setup(&self, customer_id: &str, return_url: &str) -> Result<SetupStart, ChannelError> {
        let request = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Setup)
            .customer(customer_id)
            .currency(stripe_types::Currency::USD)
            .success_url(format!("{return_url}?setup=done"))
            .cancel_url(return_url);
        let session = request.send(&self.client).await.map_err(channel_error)?;
        session
            .url
            .map(SetupStart::Redirect)
            .ok_or_else(|| ChannelError::Refused("Checkout Session without a URL".into()))
    }

    async fn payment_method(&self, payment_method_id: &str) -> Result<CardDetails, ChannelError> {
        let method = RetrievePaymentMethod::new(payment_method_id).send(&self.client).await.map_err(channel_error)?;
        let card = method.card.ok_or_else(|| ChannelError::Refused(format!("{payment_method_id} is not a card")))?;
        Ok(CardDetails {
            payment_method_id: method.id.to_string(),
            brand: card.brand,
            last4: card.last4,
            exp_month: card.exp_month,
            exp_year: card.exp_year,
        })
    }

    async fn events_page(&self, since_ms: i64, after: Option<&str>) -> Result<ListPage<ListedEvent>, ChannelError> {
        let page = EventPage { created: Since { gte: since_ms / 1000 }, limit: PAGE, starting_after: after };
        // Read untyped: each event is stored as Stripe wrote it, as a delivered one is.
        let raw: miniserde::json::Value = RequestBuilder::new(StripeMethod::Get, "/events")
            .query(&page)
            .customize()
            .send(&self.client)
            .await
            .map_err(channel_error)?;
        let list: serde_json::Value = serde_json::from_str(&miniserde::json::to_string(&raw))
            .map_err(|e| ChannelError::Refused(format!("an event list that is not JSON: {e}")))?;
        let data = list["data"].as_array().cloned().unwrap_or_default();
        let mut events = Vec::with_capacity(data.len());
        for event in &data {
            let text = |field: &str| event[field].as_str().map(str::to_owned);
            let (Some(id), Some(event_type)) = (text("id"), text("type")) else {
                return Err(ChannelError::Refused("an event without an id or a type".into()));
            };
            let created = event["created"].as_i64().unwrap_or_default();
            let livemode = event["livemode"].as_bool().unwrap_or_default();
            events.push(ListedEvent { id, event_type, created, livemode, payload: event.to_string() });
        }
        let has_more = list["has_more"].as_bool().unwrap_or_default();
        let next = events.last().filter(|_| has_more).map(|event| event.id.clone());
        Ok(ListPage { items: events, next })
    }

    async fn charges_page(
        &self,
        since_ms: i64,
        after: Option<&str>,
    ) -> Result<ListPage<ProcessorCharge>, ChannelError> {
        let mut request =
            ListPaymentIntent::new().created(stripe_types::RangeQueryTs::gte(since_ms / 1000)).limit(PAGE);
        if let Some(id) = after {
            request = request.starting_after(id);
        }
        let page = request.send(&self.client).await.map_err(channel_error)?;
        let next = page.data.last().filter(|_| page.has_more).map(|intent| intent.id.to_string());
        let items = page
            .data
            .into_iter()
            .filter(|intent| intent.status == PaymentIntentStatus::Succeeded)
            .map(|intent| ProcessorCharge {
                processor_payment_id: intent.id.to_string(),
                payment_id: intent.metadata.get("payment_id").cloned(),
                amount_minor: intent.amount,
                currency: intent.currency.to_string().to_uppercase(),
                customer_id: intent.customer.as_ref().map(|c| c.id().to_string()),
            })
            .collect();
        Ok(ListPage { items, next })
    }

    async fn customers_page(&self, after: Option<&str>) -> Result<ListPage<ProcessorCustomer>, ChannelError> {
        let mut request = ListCustomer::new().limit(PAGE);
        if let Some(id) = after {
            request = request.starting_after(id);
        }
        let page = request.send(&self.client).await.map_err(channel_error)?;
        let next = page.data.last().filter(|_| page.has_more).map(|customer| customer.id.to_string());
        let items = page
            .data
            .into_iter()
            .map(|customer| ProcessorCustomer {
                customer_id: customer.id.to_string(),
                default_payment_method: customer
                    .invoice_settings
                    .and_then(|settings| settings.default_payment_method)
                    .map(|method| method.id().to_string()),
            })
            .collect();
        Ok(ListPage { items, next })
    }
}
