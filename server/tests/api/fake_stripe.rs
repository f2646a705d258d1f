//! A local stand-in for the Stripe endpoints the portal uses: it records every request (path,
//! form fields, Idempotency-Key) and answers with Stripe-shaped objects, replaying the stored
//! answer for a repeated idempotency key as Stripe does, and, as Stripe does, forgetting a key 24
//! hours after its first use on its own clock, which tests move forward. PaymentIntents are kept
//! for ever and found by the PaymentIntent search API. Tests queue failures to drive declines,
//! 429s and 5xx answers.
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub form: Vec<(String, String)>,
    pub idempotency_key: Option<String>,
    pub authorization: Option<String>,
}

impl Recorded {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// What the next request gets instead of the usual answer.
#[derive(Debug, Clone)]
pub enum Scripted {
    /// An API error with this HTTP status (429, 500, 400, ...).
    Status(u16),
    /// A card decline (402) with Stripe's decline code.
    Decline(&'static str),
    /// A PaymentIntent accepted but still processing; retrieving it later finds it succeeded.
    Processing,
    /// An off-session charge whose bank asks the card holder to authenticate (card 3155): 402,
    /// with the PaymentIntent waiting in `requires_payment_method` for an on-session confirmation.
    AuthenticationRequired,
}

/// How long Stripe remembers an idempotency key.
const KEY_LIFETIME_SECS: i64 = 24 * 3600;

#[derive(Default)]
struct Books {
    requests: Vec<Recorded>,
    script: VecDeque<Scripted>,
    /// Idempotency key → the answer and when the key was first used (seconds on the fake's clock).
    answered: HashMap<String, (u16, Value, i64)>,
    /// Every PaymentIntent created, by id.
    intents: Vec<Value>,
    /// Customers listed by `GET /v1/customers`, oldest first.
    customers: Vec<Value>,
    /// Every event Stripe would have sent by webhook, oldest first (the tests deliver, or lose, them).
    events: Vec<Value>,
    created: u64,
    /// Seconds the fake's clock has been moved forward.
    clock: i64,
}

#[derive(Clone)]
pub struct FakeStripe {
    pub url: String,
    books: Arc<Mutex<Books>>,
}

impl FakeStripe {
    pub async fn start() -> Self {
        let books = Arc::new(Mutex::new(Books::default()));
        let app = Router::new().fallback(answer).with_state(books.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake Stripe");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, books }
    }

    pub fn then(&self, scripted: Scripted) {
        self.books.lock().unwrap().script.push_back(scripted);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.books.lock().unwrap().requests.clone()
    }

    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.path == path).collect()
    }

    /// PaymentIntents actually created (a replayed idempotency key creates none).
    pub fn payment_intents_created(&self) -> usize {
        self.books.lock().unwrap().intents.len()
    }

    /// A charge made outside the portal (in Stripe's dashboard, say), with its event.
    pub fn foreign_charge(&self, amount: i64, customer: &str) {
        let mut books = self.books.lock().unwrap();
        books.created += 1;
        let request = Recorded {
            method: "POST".into(),
            path: "/v1/payment_intents".into(),
            form: vec![
                ("amount".into(), amount.to_string()),
                ("currency".into(), "usd".into()),
                ("customer".into(), customer.into()),
            ],
            idempotency_key: None,
            authorization: None,
        };
        let intent = payment_intent(&request, books.created, "succeeded");
        books.record_intent(intent);
    }

    /// An event of a kind the portal does not act on, created in the account.
    pub fn account_event(&self, event_type: &str) {
        let mut books = self.books.lock().unwrap();
        let n = books.events.len() + 1;
        let created = CREATED + books.clock;
        books.events.push(json!({ "id": format!("evt_fake{n}"), "object": "event", "created": created,
            "livemode": false, "type": event_type, "data": { "object": { "object": "balance" } } }));
    }

    /// A customer the account holds, with the method it charges by default.
    pub fn customer_with_default(&self, id: &str, default_payment_method: &str) {
        let mut books = self.books.lock().unwrap();
        books.customers.retain(|c| c["id"] != id);
        books.customers.push(customer(id, None, Some(default_payment_method)));
    }

    /// Every event the fake holds, oldest first.
    pub fn events(&self) -> Vec<Value> {
        self.books.lock().unwrap().events.clone()
    }

    /// What Stripe.js's `confirmCardPayment` does once the card holder passes their bank's
    /// check: the same PaymentIntent succeeds, and `payment_intent.succeeded` is sent. Answers
    /// the event.
    pub fn authenticate(&self, payment_intent_id: &str) -> Value {
        let mut books = self.books.lock().unwrap();
        let intent = books.intents.iter_mut().find(|i| i["id"] == payment_intent_id).expect("a PaymentIntent");
        intent["status"] = json!("succeeded");
        intent["amount_received"] = intent["amount"].clone();
        intent["last_payment_error"] = Value::Null;
        let intent = intent.clone();
        books.record_event("payment_intent.succeeded", intent);
        books.events.last().cloned().expect("the event")
    }

    /// The card holder confirmed the PaymentIntent, then their bank declined the charge: it waits
    /// for another payment method, and `payment_intent.payment_failed` is sent. Answers the event.
    pub fn decline_after_authentication(&self, payment_intent_id: &str, decline_code: &str) -> Value {
        let mut books = self.books.lock().unwrap();
        let intent = books.intents.iter_mut().find(|i| i["id"] == payment_intent_id).expect("a PaymentIntent");
        intent["status"] = json!("requires_payment_method");
        intent["last_payment_error"] = json!({ "type": "card_error", "code": "card_declined",
            "decline_code": decline_code, "message": "Your card has insufficient funds." });
        let intent = intent.clone();
        books.record_event("payment_intent.payment_failed", intent);
        books.events.last().cloned().expect("the event")
    }

    /// Moves the fake's clock on: keys first used longer ago than a day are forgotten.
    pub fn advance(&self, by: std::time::Duration) {
        self.books.lock().unwrap().clock += by.as_secs() as i64;
    }
}

async fn answer(
    State(books): State<Arc<Mutex<Books>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let recorded = Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        form: form.map(|Form(f)| f).unwrap_or_default(),
        idempotency_key: header("idempotency-key"),
        authorization: header("authorization"),
    };
    let mut books = books.lock().unwrap();
    books.requests.push(recorded.clone());
    let now = books.clock;
    books.answered.retain(|_, (_, _, first_used)| now - *first_used < KEY_LIFETIME_SECS);
    if let Some(key) = &recorded.idempotency_key
        && let Some((status, body, _)) = books.answered.get(key)
    {
        return reply(*status, body.clone());
    }
    // The lists the server's processor check reads in the background are never scripted, so a
    // check that happens to run meanwhile cannot take the answer a test scripted for a charge.
    if method == Method::GET {
        let query = uri.query().unwrap_or_default();
        match recorded.path.as_str() {
            "/v1/events" => return reply(200, list("/v1/events", &books.events, query)),
            "/v1/customers" => return reply(200, list("/v1/customers", &books.customers, query)),
            "/v1/payment_intents" => return reply(200, list("/v1/payment_intents", &books.intents, query)),
            _ => {}
        }
    }
    let (status, body) = match books.script.pop_front() {
        Some(Scripted::Status(status)) => {
            let kind = if status == 429 {
                "rate_limit_error"
            } else if status >= 500 {
                "api_error"
            } else {
                "invalid_request_error"
            };
            return reply(status, json!({ "error": { "type": kind, "message": format!("scripted {status}") } }));
        }
        Some(Scripted::Processing) => {
            books.created += 1;
            (200, payment_intent(&recorded, books.created, "processing"))
        }
        Some(Scripted::AuthenticationRequired) => {
            books.created += 1;
            let mut intent = payment_intent(&recorded, books.created, "requires_payment_method");
            let error = json!({ "type": "card_error", "code": "authentication_required",
                "decline_code": "authentication_required", "message": "Your card was declined. This transaction requires authentication." });
            intent["last_payment_error"] = error.clone();
            let mut error = error;
            error["payment_intent"] = intent;
            (402, json!({ "error": error }))
        }
        Some(Scripted::Decline(code)) => {
            books.created += 1;
            let intent = payment_intent(&recorded, books.created, "requires_payment_method");
            (
                402,
                json!({ "error": { "type": "card_error", "code": "card_declined", "decline_code": code,
                "message": "Your card was declined.", "payment_intent": intent } }),
            )
        }
        None if recorded.path == "/v1/payment_intents/search" => {
            return reply(200, search(&books.intents, uri.query().unwrap_or_default()));
        }
        None if recorded.path.starts_with("/v1/payment_intents/") => {
            let id = &recorded.path["/v1/payment_intents/".len()..];
            let found = books.intents.iter().find(|intent| intent["id"] == id).cloned();
            return match found {
                Some(mut intent) => {
                    if intent["status"] == "processing" {
                        intent["status"] = json!("succeeded");
                        intent["amount_received"] = intent["amount"].clone();
                    }
                    reply(200, intent)
                }
                None => reply(
                    404,
                    json!({ "error": { "type": "invalid_request_error", "message": "No such payment_intent" } }),
                ),
            };
        }
        None => {
            books.created += 1;
            (200, success(&recorded, books.created))
        }
    };
    let intent = if body["object"] == "payment_intent" { Some(&body) } else { body["error"].get("payment_intent") };
    if let Some(intent) = intent {
        books.record_intent(intent.clone());
    }
    if let Some(key) = &recorded.idempotency_key {
        books.answered.insert(key.clone(), (status, body.clone(), now));
    }
    reply(status, body)
}

impl Books {
    fn record_intent(&mut self, intent: Value) {
        if intent["status"] == "succeeded" {
            self.record_event("payment_intent.succeeded", intent.clone());
        }
        self.intents.push(intent);
    }

    fn record_event(&mut self, event_type: &str, object: Value) {
        let n = self.events.len() + 1;
        self.events.push(json!({ "id": format!("evt_fake{n}"), "object": "event", "api_version": "2025-03-31.basil",
            "created": CREATED + self.clock, "livemode": false, "pending_webhooks": 1,
            "request": { "id": null, "idempotency_key": null }, "type": event_type, "data": { "object": object } }));
    }
}

/// Objects per page of the fake's lists: small, so every list is read across pages.
const LIST_PAGE: usize = 2;

/// A list as Stripe answers one: newest first, a page at a time after `starting_after`.
fn list(url: &str, oldest_first: &[Value], query: &str) -> Value {
    let query = reqwest::Url::parse(&format!("http://fake/?{query}")).expect("a query string");
    let after = query.query_pairs().find(|(k, _)| k == "starting_after").map(|(_, v)| v.into_owned());
    let newest_first = oldest_first.iter().rev();
    let rest: Vec<&Value> = match after {
        Some(after) => newest_first.skip_while(|o| o["id"] != after.as_str()).skip(1).collect(),
        None => newest_first.collect(),
    };
    let data: Vec<Value> = rest.iter().take(LIST_PAGE).map(|o| (*o).clone()).collect();
    json!({ "object": "list", "url": url, "has_more": rest.len() > LIST_PAGE, "data": data })
}

/// Stripe's search for the one query the portal makes: `metadata['payment_id']:'<id>'`.
fn search(intents: &[Value], query: &str) -> Value {
    let url = reqwest::Url::parse(&format!("http://fake/?{query}")).expect("a query string");
    let query: String = url.query_pairs().find(|(k, _)| k == "query").map(|(_, v)| v.into_owned()).unwrap_or_default();
    let wanted = query.split("metadata['payment_id']:'").nth(1).and_then(|rest| rest.split('\'').next());
    let data: Vec<Value> = intents
        .iter()
        .filter(|intent| wanted.is_some() && intent["metadata"]["payment_id"].as_str() == wanted)
        .cloned()
        .collect();
    json!({ "object": "search_result", "url": "/v1/payment_intents/search", "has_more": false,
        "next_page": null, "data": data })
}

fn reply(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), axum::Json(body)).into_response()
}

const CREATED: i64 = 1_795_253_400;

fn customer(id: &str, email: Option<&str>, default_payment_method: Option<&str>) -> Value {
    json!({ "id": id, "object": "customer", "created": CREATED, "livemode": false, "email": email,
        "metadata": {}, "invoice_settings": { "default_payment_method": default_payment_method,
        "custom_fields": null, "footer": null, "rendering_options": null } })
}

fn success(request: &Recorded, n: u64) -> Value {
    let path = request.path.as_str();
    if path == "/v1/customers" {
        customer(&format!("cus_fake{n}"), request.field("email"), None)
    } else if path == "/v1/payment_intents" {
        payment_intent(request, n, "succeeded")
    } else if path == "/v1/refunds" {
        let amount: i64 = request.field("amount").and_then(|a| a.parse().ok()).unwrap_or_default();
        json!({ "id": format!("re_fake{n}"), "object": "refund", "amount": amount, "created": CREATED,
            "currency": "usd", "payment_intent": request.field("payment_intent"), "status": "succeeded",
            "metadata": {} })
    } else if path == "/v1/checkout/sessions" {
        json!({ "id": format!("cs_test_fake{n}"), "object": "checkout.session", "created": CREATED,
            "expires_at": CREATED + 86_400, "livemode": false, "mode": "setup", "payment_method_types": ["card"],
            "payment_status": "no_payment_required", "status": "open", "customer": request.field("customer"),
            "success_url": request.field("success_url"), "cancel_url": request.field("cancel_url"),
            "automatic_tax": { "enabled": false, "liability": null, "provider": null, "status": null },
            "custom_fields": [], "custom_text": { "after_submit": null, "shipping_address": null, "submit": null,
            "terms_of_service_acceptance": null }, "shipping_options": [],
            "url": format!("https://checkout.stripe.com/c/pay/cs_test_fake{n}") })
    } else if let Some(id) = path.strip_prefix("/v1/payment_methods/") {
        json!({ "id": id, "object": "payment_method", "type": "card", "created": CREATED, "livemode": false,
            "customer": "cus_fake1", "billing_details": { "address": null, "email": null, "name": null, "phone": null },
            "card": { "brand": "visa", "last4": "4242", "exp_month": 8, "exp_year": 2032, "funding": "credit",
            "country": "US", "checks": null, "wallet": null } })
    } else {
        json!({ "error": { "type": "invalid_request_error", "message": format!("no fake for {path}") } })
    }
}

fn payment_intent(request: &Recorded, n: u64, status: &str) -> Value {
    let amount: i64 = request.field("amount").and_then(|a| a.parse().ok()).unwrap_or_default();
    let metadata: serde_json::Map<String, Value> = request
        .form
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("metadata[")?.strip_suffix(']')?.to_owned(), json!(v))))
        .collect();
    json!({ "id": format!("pi_fake{n}"), "object": "payment_intent", "amount": amount, "amount_capturable": 0,
        "amount_received": if status == "succeeded" { amount } else { 0 }, "capture_method": "automatic",
        "confirmation_method": "automatic", "created": CREATED, "currency": request.field("currency"),
        "customer": request.field("customer"), "payment_method": request.field("payment_method"),
        "livemode": false, "metadata": metadata, "payment_method_types": ["card"], "status": status,
        "client_secret": format!("pi_fake{n}_secret_fake") })
}
