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
//! - the catalog ([`FakeStripe::mount_catalog`]): `POST /v1/products`, `POST /v1/prices`,
//!   `GET /v1/prices` (list) and `/v1/prices/{id}`, `POST /v1/payment_links` and
//!   `/v1/payment_links/{id}`, with Stripe's idempotency keys and its errors for bad params;
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
        let fake = FakeStripe {
            server,
            prices,
            events,
            connect,
        };
        fake.mount_catalog().await;
        fake
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

/// Stripe's example Product and Payment Link.
pub const PRODUCT_FIXTURE: &str = include_str!("../../events/stripe/objects/product.json");
pub const PAYMENT_LINK_FIXTURE: &str =
    include_str!("../../events/stripe/objects/payment_link.json");

/// What the catalog holds beyond the prices (`FakeStripe::prices`): the products and links
/// made, and the answers given to each idempotency key.
#[derive(Default)]
pub struct Catalog {
    pub products: HashMap<String, Value>,
    pub links: HashMap<String, Value>,
    /// By (secret key, idempotency key): the request (method, path, body) and its answer.
    idempotent: HashMap<(String, String), (String, u16, Value)>,
    /// Creation order of prices, for lists (newest first).
    price_order: Vec<String>,
}

/// Each fake's catalog, by its server's URI: kept outside the struct so the catalog stays one
/// block of its own.
static CATALOGS: std::sync::LazyLock<Mutex<HashMap<String, Arc<Mutex<Catalog>>>>> =
    std::sync::LazyLock::new(Default::default);

fn form_of(request: &Request) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

/// `metadata[k]` (or `<prefix>[metadata][k]`) fields of a form, as an object.
fn metadata_of(form: &BTreeMap<String, String>, prefix: &str) -> Value {
    let open = format!("{prefix}[");
    let map: serde_json::Map<String, Value> = form
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(&open)
                .and_then(|k| k.strip_suffix(']'))
                .filter(|k| !k.contains('['))
                .map(|k| (k.to_string(), json!(v)))
        })
        .collect();
    Value::Object(map)
}

fn no_such(what: &str, param: &str, id: &str) -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_json(stripe_error(
        "invalid_request_error",
        Some("resource_missing"),
        Some(param),
        &format!("No such {what}: '{id}'"),
    ))
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn livemode_of(request: &Request) -> bool {
    request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("_live_"))
}

/// Creates catalog objects as Stripe does, honouring `Idempotency-Key`: the same key with the
/// same request answers the first answer again (`Idempotent-Replayed: true`); with another
/// request, Stripe's `idempotency_error`. (Stripe answers a request made while another with its
/// key is still running `409 idempotency_error`; this fake answers one at a time, so tests
/// mount that answer themselves.)
struct CatalogResponder {
    catalog: Arc<Mutex<Catalog>>,
    prices: Arc<Mutex<HashMap<String, Value>>>,
}

impl Respond for CatalogResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let auth = request
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let key = request
            .headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let path = request.url.path().to_string();
        let what = format!(
            "{} {path}\n{}",
            request.method,
            String::from_utf8_lossy(&request.body)
        );
        if let Some(k) = &key {
            let catalog = self.catalog.lock().unwrap();
            if let Some((first, status, answer)) =
                catalog.idempotent.get(&(auth.clone(), k.clone()))
            {
                if *first != what {
                    return ResponseTemplate::new(400).set_body_json(stripe_error(
                        "idempotency_error",
                        None,
                        None,
                        &format!("Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{k}' if you meant to execute a different request."),
                    ));
                }
                return ResponseTemplate::new(*status)
                    .insert_header("Idempotent-Replayed", "true")
                    .insert_header("Idempotency-Key", k.as_str())
                    .set_body_json(answer.clone());
            }
        }
        let (status, answer) = match self.create(request, &path) {
            Ok(v) => (200, v),
            Err(e) => e,
        };
        if let (Some(k), 200) = (key, status) {
            // Stripe saves an answer once the endpoint ran: not a refusal of bad params, so a
            // corrected retry with the same key runs.
            self.catalog
                .lock()
                .unwrap()
                .idempotent
                .insert((auth, k), (what, status, answer.clone()));
        }
        ResponseTemplate::new(status).set_body_json(answer)
    }
}

impl CatalogResponder {
    fn create(&self, request: &Request, path: &str) -> Result<Value, (u16, Value)> {
        let form = form_of(request);
        if let Some((param, code, message)) = self.check(path, &form) {
            let status = if code == "not_found" { 404 } else { 400 };
            let code = Some(code).filter(|c| *c != "not_found");
            return Err((
                status,
                stripe_error("invalid_request_error", code, Some(&param), &message),
            ));
        }
        Ok(match path {
            "/v1/products" => self.product(&form, request),
            "/v1/prices" => self.price(&form, request),
            "/v1/payment_links" => self.link(&form, request),
            p => self.update_link(p.trim_start_matches("/v1/payment_links/"), &form),
        })
    }

    /// Why Stripe refuses a create: (param, code, message), as Stripe words them.
    fn check(
        &self,
        path: &str,
        form: &BTreeMap<String, String>,
    ) -> Option<(String, &'static str, String)> {
        let missing = |p: &str| {
            Some((
                p.to_string(),
                "parameter_missing",
                format!("Missing required param: {p}."),
            ))
        };
        match path {
            "/v1/products" => {
                if form.get("name").is_none_or(|n| n.trim().is_empty()) {
                    return missing("name");
                }
                None
            }
            "/v1/prices" => {
                let Some(currency) = form.get("currency") else {
                    return missing("currency");
                };
                if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_lowercase()) {
                    return Some(("currency".into(), "parameter_invalid", format!("Invalid currency: {currency}. Stripe currently supports these currencies: usd, aed, afn, ...")));
                }
                match form.get("product") {
                    None if !form.keys().any(|k| k.starts_with("product_data[")) => {
                        return missing("product")
                    }
                    Some(p) if !self.catalog.lock().unwrap().products.contains_key(p) => {
                        return Some((
                            "product".into(),
                            "resource_missing",
                            format!("No such product: '{p}'"),
                        ))
                    }
                    _ => {}
                }
                match form.get("unit_amount") {
                    None => missing("unit_amount"),
                    Some(a) if a.parse::<i64>().map_or(true, |a| a < 0) => Some((
                        "unit_amount".into(),
                        "parameter_invalid_integer",
                        format!("Invalid integer: {a}"),
                    )),
                    _ => match form.get("recurring[interval]").map(String::as_str) {
                        Some("day" | "week" | "month" | "year") | None => None,
                        Some(other) => Some(("recurring[interval]".into(), "parameter_invalid", format!("Invalid recurring[interval]: must be one of day, week, month, or year (got {other})"))),
                    },
                }
            }
            "/v1/payment_links" => {
                let Some(price_id) = form.get("line_items[0][price]") else {
                    return missing("line_items");
                };
                if form.get("line_items[0][quantity]").is_none() {
                    return missing("line_items[0][quantity]");
                }
                let recurring = match self.prices.lock().unwrap().get(price_id) {
                    None => {
                        return Some((
                            "line_items[0][price]".into(),
                            "resource_missing",
                            format!("No such price: '{price_id}'"),
                        ))
                    }
                    Some(p) => p["type"] == "recurring",
                };
                if recurring && form.keys().any(|k| k.starts_with("payment_intent_data[")) {
                    return Some(("payment_intent_data".into(), "parameter_invalid", "You can only specify `payment_intent_data` when the Payment Link is in `payment` mode; it has recurring prices.".into()));
                }
                if !recurring && form.keys().any(|k| k.starts_with("subscription_data[")) {
                    return Some(("subscription_data".into(), "parameter_invalid", "You can only specify `subscription_data` when the Payment Link has recurring prices.".into()));
                }
                None
            }
            p => {
                let id = p.strip_prefix("/v1/payment_links/").unwrap_or(p);
                if !self.catalog.lock().unwrap().links.contains_key(id) {
                    return Some((
                        "id".into(),
                        "not_found",
                        format!("No such payment_link: '{id}'"),
                    ));
                }
                None
            }
        }
    }

    fn product(&self, form: &BTreeMap<String, String>, request: &Request) -> Value {
        let mut product: Value = serde_json::from_str(PRODUCT_FIXTURE).unwrap();
        let id = stripe_id("prod");
        product["id"] = json!(id);
        product["name"] = json!(form["name"]);
        product["description"] = json!(form.get("description"));
        product["metadata"] = metadata_of(form, "metadata");
        product["default_price"] = Value::Null;
        product["package_dimensions"] = Value::Null;
        product["livemode"] = json!(livemode_of(request));
        product["created"] = json!(now());
        product["updated"] = json!(now());
        product["type"] = json!("service");
        self.catalog
            .lock()
            .unwrap()
            .products
            .insert(id, product.clone());
        product
    }

    fn price(&self, form: &BTreeMap<String, String>, request: &Request) -> Value {
        let mut price: Value = serde_json::from_str(PRICE_FIXTURE).unwrap();
        let id = stripe_id("price");
        let amount: i64 = form["unit_amount"].parse().unwrap();
        price["id"] = json!(id);
        price["product"] = json!(form.get("product"));
        price["currency"] = json!(form["currency"]);
        price["unit_amount"] = json!(amount);
        price["unit_amount_decimal"] = json!(amount.to_string());
        price["metadata"] = metadata_of(form, "metadata");
        price["nickname"] = json!(form.get("nickname"));
        price["transform_quantity"] = Value::Null;
        price["custom_unit_amount"] = Value::Null;
        price["livemode"] = json!(livemode_of(request));
        price["created"] = json!(now());
        match form.get("recurring[interval]") {
            Some(interval) => {
                price["type"] = json!("recurring");
                price["recurring"]["interval"] = json!(interval);
                price["recurring"]["interval_count"] = json!(form
                    .get("recurring[interval_count]")
                    .and_then(|c| c.parse::<u32>().ok())
                    .unwrap_or(1));
            }
            None => {
                price["type"] = json!("one_time");
                price["recurring"] = Value::Null;
            }
        }
        self.prices
            .lock()
            .unwrap()
            .insert(id.clone(), price.clone());
        self.catalog.lock().unwrap().price_order.push(id);
        price
    }

    fn link(&self, form: &BTreeMap<String, String>, request: &Request) -> Value {
        let price = self.prices.lock().unwrap()[&form["line_items[0][price]"]].clone();
        let recurring = price["type"] == "recurring";
        let mut link: Value = serde_json::from_str(PAYMENT_LINK_FIXTURE).unwrap();
        let id = stripe_id("plink");
        let livemode = livemode_of(request);
        link["id"] = json!(id);
        link["url"] = json!(format!(
            "https://buy.stripe.com/{}{}",
            if livemode { "" } else { "test_" },
            id.trim_start_matches("plink_")
        ));
        link["livemode"] = json!(livemode);
        link["currency"] = price["currency"].clone();
        link["metadata"] = metadata_of(form, "metadata");
        link["payment_intent_data"] = if recurring {
            Value::Null
        } else {
            json!({"capture_method": null, "description": null, "metadata": metadata_of(form, "payment_intent_data[metadata]"),
                   "setup_future_usage": null, "statement_descriptor": null, "statement_descriptor_suffix": null, "transfer_group": null})
        };
        if recurring {
            link["subscription_data"]["metadata"] =
                metadata_of(form, "subscription_data[metadata]");
        } else {
            link["subscription_data"] = Value::Null;
        }
        link["after_completion"] = match form.get("after_completion[type]").map(String::as_str) {
            Some("redirect") => {
                json!({"type": "redirect", "redirect": {"url": form.get("after_completion[redirect][url]")}})
            }
            _ => {
                json!({"type": "hosted_confirmation", "hosted_confirmation": {"custom_message": form.get("after_completion[hosted_confirmation][custom_message]")}})
            }
        };
        link["restrictions"] = Value::Null;
        link["shipping_address_collection"] = Value::Null;
        link["transfer_data"] = Value::Null;
        link["custom_text"] = json!({"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null});
        link["payment_method_options"] = Value::Null;
        // Not a field of the object (expandable); kept for the fake's own reads.
        link["line_items"] = json!({"object": "list", "data": [{"price": price, "quantity": 1}]});
        self.catalog.lock().unwrap().links.insert(id, link.clone());
        let mut answer = link;
        answer.as_object_mut().unwrap().remove("line_items");
        answer
    }

    fn update_link(&self, id: &str, form: &BTreeMap<String, String>) -> Value {
        let mut catalog = self.catalog.lock().unwrap();
        let link = catalog.links.get_mut(id).unwrap();
        if let Some(active) = form.get("active") {
            link["active"] = json!(active == "true");
        }
        let mut answer = link.clone();
        answer.as_object_mut().unwrap().remove("line_items");
        answer
    }
}

/// `GET /v1/prices` as Stripe lists them: newest first, `active`, `type`, `product`,
/// `currency` filters, `limit` (1–100) and `starting_after` pages, `expand[]=data.product`.
struct PriceListResponder {
    catalog: Arc<Mutex<Catalog>>,
    prices: Arc<Mutex<HashMap<String, Value>>>,
}

impl Respond for PriceListResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let query: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
        let one = |k: &str| query.iter().find(|(q, _)| q == k).map(|(_, v)| v.clone());
        let limit =
            match one("limit").map(|l| l.parse::<i64>()) {
                None => 10,
                Some(Ok(l)) if (1..=100).contains(&l) => l as usize,
                Some(_) => return ResponseTemplate::new(400).set_body_json(stripe_error(
                    "invalid_request_error",
                    Some("parameter_invalid_integer"),
                    Some("limit"),
                    "This value must be greater than or equal to 1 and less than or equal to 100.",
                )),
            };
        if let Some(t) = one("type").filter(|t| t != "recurring" && t != "one_time") {
            return ResponseTemplate::new(400).set_body_json(stripe_error(
                "invalid_request_error",
                Some("parameter_invalid"),
                Some("type"),
                &format!("Invalid type: must be one of one_time or recurring (got {t})"),
            ));
        }
        let expand_product = query
            .iter()
            .any(|(k, v)| k == "expand[]" && v == "data.product");
        let catalog = self.catalog.lock().unwrap();
        let prices = self.prices.lock().unwrap();
        // Newest first: created prices in reverse order, then those registered directly.
        let mut ids: Vec<&String> = catalog.price_order.iter().rev().collect();
        let mut others: Vec<&String> = prices
            .keys()
            .filter(|k| !catalog.price_order.contains(k))
            .collect();
        others.sort();
        ids.extend(others);
        let mut list: Vec<Value> = ids
            .into_iter()
            .map(|id| prices[id].clone())
            .filter(|p| {
                one("active").is_none_or(|a| p["active"].as_bool() == Some(a == "true"))
                    && one("type").is_none_or(|t| p["type"] == t.as_str())
                    && one("product").is_none_or(|x| p["product"] == x.as_str())
                    && one("currency").is_none_or(|c| p["currency"] == c.as_str())
            })
            .collect();
        if let Some(after) = one("starting_after") {
            match list.iter().position(|p| p["id"] == after.as_str()) {
                Some(i) => list.drain(..=i).for_each(drop),
                None => return no_such("price", "starting_after", &after),
            }
        }
        let has_more = list.len() > limit;
        list.truncate(limit);
        if expand_product {
            for p in &mut list {
                let id = p["product"].as_str().unwrap_or_default().to_string();
                p["product"] = catalog.products.get(&id).cloned().unwrap_or_else(|| {
                    let mut product: Value = serde_json::from_str(PRODUCT_FIXTURE).unwrap();
                    product["id"] = json!(id);
                    product
                });
            }
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "url": "/v1/prices", "has_more": has_more, "data": list,
        }))
    }
}

/// The catalog: products, prices and Payment Links.
impl FakeStripe {
    /// Mounts the catalog's default answers (called by [`FakeStripe::start`]).
    pub async fn mount_catalog(&self) {
        let catalog = Arc::new(Mutex::new(Catalog::default()));
        CATALOGS
            .lock()
            .unwrap()
            .insert(self.uri(), Arc::clone(&catalog));
        for p in ["/v1/products", "/v1/prices", "/v1/payment_links"] {
            Mock::given(method("POST"))
                .and(path(p))
                .respond_with(CatalogResponder {
                    catalog: Arc::clone(&catalog),
                    prices: Arc::clone(&self.prices),
                })
                .with_priority(DEFAULT_PRIORITY)
                .mount(&self.server)
                .await;
        }
        Mock::given(method("POST"))
            .and(path_regex("^/v1/payment_links/plink_[A-Za-z0-9]+$"))
            .respond_with(CatalogResponder {
                catalog: Arc::clone(&catalog),
                prices: Arc::clone(&self.prices),
            })
            .with_priority(DEFAULT_PRIORITY)
            .mount(&self.server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1/prices"))
            .respond_with(PriceListResponder {
                catalog: Arc::clone(&catalog),
                prices: Arc::clone(&self.prices),
            })
            .with_priority(DEFAULT_PRIORITY)
            .mount(&self.server)
            .await;
        let prices = Arc::clone(&self.prices);
        // Prices made through the catalog, retrieved by id (registered ones answer first).
        Mock::given(method("GET"))
            .and(path_regex("^/v1/prices/[^/]+$"))
            .respond_with(move |r: &Request| {
                let id = r.url.path().trim_start_matches("/v1/prices/");
                match prices.lock().unwrap().get(id) {
                    Some(p) => ResponseTemplate::new(200).set_body_json(p.clone()),
                    None => ResponseTemplate::new(404).set_body_json(stripe_error(
                        "invalid_request_error",
                        Some("resource_missing"),
                        Some("price"),
                        &format!("No such price: '{id}'"),
                    )),
                }
            })
            .with_priority(DEFAULT_PRIORITY)
            .mount(&self.server)
            .await;
    }

    /// This fake's catalog.
    pub fn catalog(&self) -> Arc<Mutex<Catalog>> {
        Arc::clone(&CATALOGS.lock().unwrap()[&self.uri()])
    }

    /// Adds a product and a price to the account, as if made in Stripe's dashboard
    /// (`interval`: a recurring price; `active` false: an archived one). Returns the price.
    pub fn catalog_price(
        &self,
        product_name: &str,
        currency: &str,
        unit_amount: i64,
        interval: Option<&str>,
        active: bool,
    ) -> Value {
        let catalog = self.catalog();
        let mut product: Value = serde_json::from_str(PRODUCT_FIXTURE).unwrap();
        let product_id = stripe_id("prod");
        product["id"] = json!(product_id);
        product["name"] = json!(product_name);
        let mut price: Value = serde_json::from_str(PRICE_FIXTURE).unwrap();
        let price_id = stripe_id("price");
        price["id"] = json!(price_id);
        price["product"] = json!(product_id);
        price["currency"] = json!(currency);
        price["unit_amount"] = json!(unit_amount);
        price["unit_amount_decimal"] = json!(unit_amount.to_string());
        price["active"] = json!(active);
        match interval {
            Some(i) => price["recurring"]["interval"] = json!(i),
            None => {
                price["type"] = json!("one_time");
                price["recurring"] = Value::Null;
            }
        }
        let mut c = catalog.lock().unwrap();
        c.products.insert(product_id, product);
        c.price_order.push(price_id.clone());
        self.prices.lock().unwrap().insert(price_id, price.clone());
        price
    }

    /// The catalog creations received (`POST /v1/products`, `/v1/prices`, `/v1/payment_links`).
    pub async fn catalog_requests(&self, object: &str) -> Vec<StripeRequest> {
        let p = format!("/v1/{object}");
        self.requests()
            .await
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == p)
            .collect()
    }
}

/// The meter events each fake accepted, by its server's URI (kept outside the struct, as the
/// catalog is).
type MeterEventLog = Arc<Mutex<Vec<Value>>>;
static METER_EVENTS: std::sync::LazyLock<Mutex<HashMap<String, MeterEventLog>>> =
    std::sync::LazyLock::new(Default::default);

/// `POST /v1/billing/meter_events`: accepts an event once per `identifier`, as Stripe does; a
/// second one with the same identifier is Stripe's 400.
struct MeterEventResponder {
    events: Arc<Mutex<Vec<Value>>>,
}

impl Respond for MeterEventResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let form = form_of(request);
        let field = |k: &str| form.get(k).cloned().unwrap_or_default();
        for required in [
            "event_name",
            "payload[stripe_customer_id]",
            "payload[value]",
        ] {
            if field(required).is_empty() {
                return ResponseTemplate::new(400).set_body_json(stripe_error(
                    "invalid_request_error",
                    Some("parameter_missing"),
                    Some(required),
                    &format!("Missing required param: {required}."),
                ));
            }
        }
        let identifier = field("identifier");
        let mut events = self.events.lock().unwrap();
        if !identifier.is_empty()
            && events
                .iter()
                .any(|e| e["identifier"] == identifier.as_str())
        {
            return ResponseTemplate::new(400).set_body_json(stripe_error(
                "invalid_request_error",
                None,
                Some("identifier"),
                &format!("An event already exists with identifier {identifier}."),
            ));
        }
        let event = json!({
            "object": "billing.meter_event",
            "created": now(),
            "event_name": field("event_name"),
            "identifier": identifier,
            "livemode": livemode_of(request),
            "payload": {
                "stripe_customer_id": field("payload[stripe_customer_id]"),
                "value": field("payload[value]"),
            },
            "timestamp": field("timestamp").parse::<i64>().unwrap_or_else(|_| now()),
        });
        events.push(event.clone());
        ResponseTemplate::new(200).set_body_json(event)
    }
}

/// Stripe Billing meter events.
impl FakeStripe {
    /// Mounts `POST /v1/billing/meter_events` ([`MeterEventResponder`]) with no events yet
    /// (wiremock pools its servers: a URI can be an earlier test's).
    pub async fn mount_meter_events(&self) {
        let events = self.meter_event_log();
        events.lock().unwrap().clear();
        Mock::given(method("POST"))
            .and(path("/v1/billing/meter_events"))
            .respond_with(MeterEventResponder { events })
            .with_priority(DEFAULT_PRIORITY)
            .mount(&self.server)
            .await;
    }

    fn meter_event_log(&self) -> Arc<Mutex<Vec<Value>>> {
        METER_EVENTS
            .lock()
            .unwrap()
            .entry(self.uri())
            .or_default()
            .clone()
    }

    /// The meter events Stripe accepted (one per identifier), in order.
    pub fn meter_events(&self) -> Vec<Value> {
        self.meter_event_log().lock().unwrap().clone()
    }
}
