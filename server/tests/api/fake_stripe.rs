//! A local stand-in for the Stripe endpoints the portal uses: it records every request (path,
//! form fields, Idempotency-Key) and answers with Stripe-shaped objects, replaying the stored
//! answer for a repeated idempotency key as Stripe does. Tests queue failures to drive declines,
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
}

#[derive(Default)]
struct Books {
    requests: Vec<Recorded>,
    script: VecDeque<Scripted>,
    answered: HashMap<String, (u16, Value)>,
    created: u64,
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
        self.books.lock().unwrap().answered.values().filter(|(_, body)| body["object"] == "payment_intent").count()
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
    if let Some(key) = &recorded.idempotency_key
        && let Some((status, body)) = books.answered.get(key)
    {
        return reply(*status, body.clone());
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
        Some(Scripted::Decline(code)) => {
            books.created += 1;
            let intent = payment_intent(&recorded, books.created, "requires_payment_method");
            (
                402,
                json!({ "error": { "type": "card_error", "code": "card_declined", "decline_code": code,
                "message": "Your card was declined.", "payment_intent": intent } }),
            )
        }
        None if recorded.path.starts_with("/v1/payment_intents/") => {
            let id = &recorded.path["/v1/payment_intents/".len()..];
            let found = books.answered.values().find(|(_, body)| body["id"] == id).map(|(_, body)| body.clone());
            return match found {
                Some(mut intent) => {
                    intent["status"] = json!("succeeded");
                    intent["amount_received"] = intent["amount"].clone();
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
    if let Some(key) = &recorded.idempotency_key {
        books.answered.insert(key.clone(), (status, body.clone()));
    }
    reply(status, body)
}

fn reply(status: u16, body: Value) -> Response {
    (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), axum::Json(body)).into_response()
}

const CREATED: i64 = 1_795_253_400;

fn success(request: &Recorded, n: u64) -> Value {
    let path = request.path.as_str();
    if path == "/v1/customers" {
        json!({ "id": format!("cus_fake{n}"), "object": "customer", "created": CREATED, "livemode": false,
            "email": request.field("email"), "metadata": {}, "invoice_settings": { "default_payment_method": null,
            "custom_fields": null, "footer": null, "rendering_options": null } })
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
        "livemode": false, "metadata": metadata, "payment_method_types": ["card"], "status": status })
}
