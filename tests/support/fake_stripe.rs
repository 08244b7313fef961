//! A fake Stripe API at the HTTP level (wiremock), answering with Stripe's own example objects
//! (`events/stripe/objects/`, copied from Stripe's fixtures) filled in from the request, and
//! recording every request so tests can check the exact form fields Stripe documents.
//!
//! Default behaviour (low priority, so a test can mount failures in front of it):
//! - `POST /v1/checkout/sessions` → 200, a `checkout.session` built from the form;
//! - `GET /v1/prices/{id}` → the price registered with [`FakeStripe::price`], else Stripe's 404;
//! - `GET /v1/checkout/sessions?payment_intent=…` → an empty list, as Stripe answers for an
//!   intent no Checkout Session created (tests mount the sessions they want in front).
//! - `POST /v1/billing_portal/sessions` → 200, a `billing_portal.session` for the form's
//!   `customer` and `return_url`;
//! - `GET /v1/events` → the events registered with [`FakeStripe::event`], as Stripe lists them:
//!   newest first, `created[gte]`/`created[lte]` and `types[]` filters, `limit` and
//!   `starting_after` pages with `has_more`;
//! - accounts and webhook endpoints: see `fake_stripe_connect`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Stripe's example Checkout Session.
pub const SESSION_FIXTURE: &str = include_str!("../../events/stripe/objects/checkout.session.json");
/// Stripe's example Billing Portal session.
pub const BILLING_PORTAL_SESSION_FIXTURE: &str =
    include_str!("../../events/stripe/objects/billing_portal.session.json");
/// Stripe's example Price.
pub const PRICE_FIXTURE: &str = include_str!("../../events/stripe/objects/price.json");

/// Priority of the default answers (wiremock: lower wins; a test's own mocks default to 5).
const DEFAULT_PRIORITY: u8 = 10;

pub struct FakeStripe {
    pub server: MockServer,
    prices: Arc<Mutex<HashMap<String, Value>>>,
    events: Arc<Mutex<Vec<Value>>>,
    /// Accounts and webhook endpoints (`fake_stripe_connect`).
    pub(crate) connect: Arc<super::fake_stripe_connect::ConnectState>,
}

/// Lists events as `GET /v1/events` does.
struct EventsResponder {
    events: Arc<Mutex<Vec<Value>>>,
}

impl Respond for EventsResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let query: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
        let one = |k: &str| query.iter().find(|(q, _)| q == k).map(|(_, v)| v.clone());
        let num = |k: &str| one(k).and_then(|v| v.parse::<i64>().ok());
        let types: Vec<&String> = query
            .iter()
            .filter(|(k, _)| k == "types[]")
            .map(|(_, v)| v)
            .collect();
        let limit = num("limit").unwrap_or(10).clamp(1, 100) as usize;
        let mut events: Vec<Value> = self
            .events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| {
                let created = e["created"].as_i64().unwrap_or(0);
                num("created[gte]").is_none_or(|t| created >= t)
                    && num("created[lte]").is_none_or(|t| created <= t)
                    && (types.is_empty()
                        || types.iter().any(|t| e["type"].as_str() == Some(t.as_str())))
            })
            .cloned()
            .collect();
        // Newest first; ties in the order they were registered, newest first.
        events.reverse();
        events.sort_by_key(|e| std::cmp::Reverse(e["created"].as_i64().unwrap_or(0)));
        if let Some(after) = one("starting_after") {
            match events.iter().position(|e| e["id"] == after.as_str()) {
                Some(i) => events.drain(..=i).for_each(drop),
                None => {
                    return ResponseTemplate::new(400).set_body_json(stripe_error(
                        "invalid_request_error",
                        Some("resource_missing"),
                        Some("starting_after"),
                        &format!("No such event: '{after}'"),
                    ))
                }
            }
        }
        let has_more = events.len() > limit;
        events.truncate(limit);
        ResponseTemplate::new(200).set_body_json(json!({
            "object": "list",
            "url": "/v1/events",
            "has_more": has_more,
            "data": events,
        }))
    }
}

/// One request Stripe received.
#[derive(Debug, Clone)]
pub struct StripeRequest {
    pub method: String,
    pub path: String,
    pub headers: http::HeaderMap,
    /// The query string, decoded, in order (`types[]` repeats).
    pub query: Vec<(String, String)>,
    /// The form body, decoded (`line_items[0][quantity]` → `"1"`).
    pub form: BTreeMap<String, String>,
    /// The raw body.
    pub body: String,
}

impl StripeRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A Stripe error body, as Stripe shapes it.
pub fn stripe_error(kind: &str, code: Option<&str>, param: Option<&str>, message: &str) -> Value {
    json!({"error": {"type": kind, "code": code, "param": param, "message": message,
                     "doc_url": code.map(|c| format!("https://stripe.com/docs/error-codes/{c}")),
                     "request_log_url": "https://dashboard.stripe.com/test/logs/req_fake"}})
}

fn stripe_id(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        keyhook_shared::ids::random_symbols(24).replace(['-'], "")
    )
}

/// Builds a `checkout.session` from a create form, as Stripe would answer it.
struct SessionResponder {
    prices: Arc<Mutex<HashMap<String, Value>>>,
}

impl Respond for SessionResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let form: BTreeMap<String, String> = url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect();
        let quantity: i64 = form
            .get("line_items[0][quantity]")
            .and_then(|q| q.parse().ok())
            .unwrap_or(1);
        let (currency, unit_amount) = if let Some(price) = form.get("line_items[0][price]") {
            match self.prices.lock().unwrap().get(price) {
                Some(p) => (p["currency"].clone(), p["unit_amount"].as_i64()),
                None => {
                    return ResponseTemplate::new(400).set_body_json(stripe_error(
                        "invalid_request_error",
                        Some("resource_missing"),
                        Some("line_items[0][price]"),
                        &format!("No such price: '{price}'"),
                    ))
                }
            }
        } else {
            (
                json!(form.get("line_items[0][price_data][currency]")),
                form.get("line_items[0][price_data][unit_amount]")
                    .and_then(|a| a.parse().ok()),
            )
        };
        let mut session: Value = serde_json::from_str(SESSION_FIXTURE).unwrap();
        let id = stripe_id("cs_test");
        let metadata: BTreeMap<&str, &str> = form
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("metadata[")
                    .and_then(|k| k.strip_suffix(']'))
                    .map(|k| (k, v.as_str()))
            })
            .collect();
        let total = unit_amount.map(|u| u * quantity);
        session["url"] = json!(format!("https://checkout.stripe.com/c/pay/{id}"));
        session["id"] = json!(id);
        session["mode"] = json!(form.get("mode"));
        session["currency"] = currency;
        session["amount_subtotal"] = json!(total);
        session["amount_total"] = json!(total);
        session["metadata"] = json!(metadata);
        session["customer_email"] = json!(form.get("customer_email"));
        session["success_url"] = json!(form.get("success_url"));
        session["cancel_url"] = json!(form.get("cancel_url"));
        session["payment_intent"] = Value::Null;
        session["customer_details"] = Value::Null;
        session["payment_status"] = json!("unpaid");
        session["status"] = json!("open");
        session["created"] = json!(time::OffsetDateTime::now_utc().unix_timestamp());
        ResponseTemplate::new(200).set_body_json(session)
    }
}

impl FakeStripe {
    pub async fn start() -> FakeStripe {
        let server = MockServer::start().await;
        let prices = Arc::new(Mutex::new(HashMap::new()));
        let events = Arc::new(Mutex::new(Vec::new()));
        Mock::given(method("GET"))
            .and(path("/v1/events"))
            .respond_with(EventsResponder {
                events: Arc::clone(&events),
            })
            .with_priority(DEFAULT_PRIORITY)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1/checkout/sessions"))
            .respond_with(SessionResponder {
                prices: Arc::clone(&prices),
            })
            .with_priority(DEFAULT_PRIORITY)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1/billing_portal/sessions"))
            .respond_with(|r: &Request| {
                let form: BTreeMap<String, String> =
                    url::form_urlencoded::parse(&r.body).into_owned().collect();
                let mut session: Value =
                    serde_json::from_str(BILLING_PORTAL_SESSION_FIXTURE).unwrap();
                let id = stripe_id("bps");
                session["id"] = json!(id);
                session["customer"] = json!(form.get("customer"));
                session["return_url"] = json!(form.get("return_url"));
                session["url"] = json!(format!("https://billing.stripe.com/p/session/test_{id}"));
                session["livemode"] = json!(false);
                session["flow"] = Value::Null;
                session["created"] = json!(time::OffsetDateTime::now_utc().unix_timestamp());
                ResponseTemplate::new(200).set_body_json(session)
            })
            .with_priority(DEFAULT_PRIORITY)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex("^/v1/prices/"))
            .respond_with(|r: &Request| {
                let id = r.url.path().trim_start_matches("/v1/prices/");
                ResponseTemplate::new(404).set_body_json(stripe_error(
                    "invalid_request_error",
                    Some("resource_missing"),
                    Some("price"),
                    &format!("No such price: '{id}'"),
                ))
            })
            .with_priority(DEFAULT_PRIORITY + 1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1/checkout/sessions"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "object": "list", "data": [], "has_more": false, "url": "/v1/checkout/sessions"
            })))
            .with_priority(DEFAULT_PRIORITY)
            .mount(&server)
            .await;
        let connect = super::fake_stripe_connect::mount(&server, DEFAULT_PRIORITY).await;
        FakeStripe {
            server,
            prices,
            events,
            connect,
        }
    }

    /// Registers an event (as Stripe would list it: `object: "event"`, `pending_webhooks`,
    /// `request`), e.g. one whose webhook never reached Keyhook.
    pub fn event(&self, event: &Value) {
        let mut e = event.clone();
        e["object"] = json!("event");
        if e.get("pending_webhooks").is_none() {
            e["pending_webhooks"] = json!(1);
        }
        if e.get("request").is_none() {
            e["request"] = json!({"id": null, "idempotency_key": null});
        }
        self.events.lock().unwrap().push(e);
    }

    /// The event list requests received.
    pub async fn event_list_requests(&self) -> Vec<StripeRequest> {
        self.requests()
            .await
            .into_iter()
            .filter(|r| r.method == "GET" && r.path == "/v1/events")
            .collect()
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Registers a price in Stripe's shape (`recurring` false makes a one-time price).
    pub async fn price(
        &self,
        id: &str,
        currency: &str,
        unit_amount: i64,
        recurring: bool,
    ) -> Value {
        let mut price: Value = serde_json::from_str(PRICE_FIXTURE).unwrap();
        price["id"] = json!(id);
        price["currency"] = json!(currency);
        price["unit_amount"] = json!(unit_amount);
        price["unit_amount_decimal"] = json!(unit_amount.to_string());
        if !recurring {
            price["type"] = json!("one_time");
            price["recurring"] = Value::Null;
        }
        self.prices
            .lock()
            .unwrap()
            .insert(id.to_string(), price.clone());
        Mock::given(method("GET"))
            .and(path(format!("/v1/prices/{id}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(price.clone()))
            .with_priority(DEFAULT_PRIORITY)
            .mount(&self.server)
            .await;
        price
    }

    /// Every request received, in order.
    pub async fn requests(&self) -> Vec<StripeRequest> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|r| StripeRequest {
                method: r.method.to_string(),
                path: r.url.path().to_string(),
                query: r.url.query_pairs().into_owned().collect(),
                form: url::form_urlencoded::parse(&r.body).into_owned().collect(),
                body: String::from_utf8_lossy(&r.body).into_owned(),
                headers: r.headers.clone(),
            })
            .collect()
    }

    /// Answers `GET /v1/<path>` with `object` (e.g. a Checkout Session with its customer).
    pub async fn object(&self, path_after_v1: &str, object: Value) {
        Mock::given(method("GET"))
            .and(path(format!("/v1/{path_after_v1}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(object))
            .with_priority(DEFAULT_PRIORITY)
            .mount(&self.server)
            .await;
    }

    /// The Billing Portal session creations received.
    pub async fn billing_portal_requests(&self) -> Vec<StripeRequest> {
        self.requests()
            .await
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == "/v1/billing_portal/sessions")
            .collect()
    }

    /// The session creations received.
    pub async fn session_requests(&self) -> Vec<StripeRequest> {
        self.requests()
            .await
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == "/v1/checkout/sessions")
            .collect()
    }
}
