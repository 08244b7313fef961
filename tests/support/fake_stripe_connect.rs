//! The fake Stripe's accounts and webhook endpoints (kept apart from the rest of the fake so
//! other Stripe resources are added beside it without touching it). Answers as Stripe does:
//!
//! - every call is authenticated by its `Authorization: Bearer` key: a key Stripe does not
//!   know ([`FakeStripe::refuse_key`], or not `sk_`/`rk_`) → 401 "Invalid API Key provided";
//! - `GET /v1/account` → Stripe's example `account` ([`FakeStripe::account_with`] changes it);
//! - `GET/POST /v1/webhook_endpoints`, `GET/POST/DELETE /v1/webhook_endpoints/{id}` over a
//!   state the test can read and change behind Keyhook's back; `secret` only in the create
//!   answer; 404 `resource_missing` for an endpoint that is not there; 403 for a restricted
//!   key without the webhook permission ([`FakeStripe::restrict_key`]); a POST replayed with
//!   the same `Idempotency-Key` answers what the first did.
//! - URLs: Stripe refuses non-public ones (400 `url_invalid`). The tests' Keyhook listens on
//!   loopback, so the fake lets those in (as a tunnel would) unless
//!   [`FakeStripe::refuse_private_urls`] asks for Stripe's refusal.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use wiremock::matchers::path_regex;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::fake_stripe::{stripe_error, FakeStripe};

/// Stripe's example account.
pub const ACCOUNT_FIXTURE: &str = include_str!("../../events/stripe/objects/account.json");
/// Stripe's example webhook endpoint.
pub const WEBHOOK_ENDPOINT_FIXTURE: &str =
    include_str!("../../events/stripe/objects/webhook_endpoint.json");

/// The account every accepted key belongs to.
pub const ACCOUNT_ID: &str = "acct_1PgafTB7WZ01zgkW";

#[derive(Default)]
pub struct ConnectState {
    /// Endpoints as Stripe stores them (no `secret`), oldest first.
    endpoints: Mutex<Vec<Value>>,
    secrets: Mutex<HashMap<String, String>>,
    refused_keys: Mutex<HashSet<String>>,
    restricted_keys: Mutex<HashSet<String>>,
    account: Mutex<Option<Value>>,
    refuse_private_urls: AtomicBool,
    /// POST answers by idempotency key.
    replays: Mutex<HashMap<String, (u16, Value)>>,
}

fn random(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        keyhook_shared::ids::random_symbols(24).replace(['-'], "")
    )
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn missing(id: &str) -> (u16, Value) {
    (
        404,
        stripe_error(
            "invalid_request_error",
            Some("resource_missing"),
            Some("id"),
            &format!("No such webhook endpoint: '{id}'"),
        ),
    )
}

/// The form's `metadata[k]` pairs.
fn metadata(form: &[(String, String)]) -> BTreeMap<String, String> {
    form.iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("metadata[")
                .and_then(|k| k.strip_suffix(']'))
                .map(|k| (k.to_string(), v.clone()))
        })
        .collect()
}

fn events(form: &[(String, String)]) -> Vec<String> {
    form.iter()
        .filter(|(k, _)| k == "enabled_events[]" || k.starts_with("enabled_events["))
        .map(|(_, v)| v.clone())
        .collect()
}

fn one<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn is_private(url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else {
        return true;
    };
    u.scheme() != "https"
        || matches!(
            u.host_str(),
            Some("localhost") | Some("127.0.0.1") | Some("[::1]") | None
        )
}

struct ConnectResponder {
    state: Arc<ConnectState>,
}

impl ConnectResponder {
    fn answer(&self, r: &Request) -> (u16, Value) {
        let key = r
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default()
            .to_string();
        let known = (key.starts_with("sk_") || key.starts_with("rk_"))
            && !self.state.refused_keys.lock().unwrap().contains(&key);
        if !known {
            let shown: String = key
                .chars()
                .rev()
                .take(4)
                .collect::<String>()
                .chars()
                .rev()
                .collect();
            return (
                401,
                json!({"error": {
                    "message": format!("Invalid API Key provided: {}****{shown}", key.chars().take(8).collect::<String>()),
                    "type": "invalid_request_error"
                }}),
            );
        }
        let live = key.contains("_live_");
        let path = r.url.path().to_string();
        let method = r.method.to_string();
        if path == "/v1/account" && method == "GET" {
            let account = self.state.account.lock().unwrap().clone();
            let mut a = account.unwrap_or_else(|| serde_json::from_str(ACCOUNT_FIXTURE).unwrap());
            a["id"] = json!(ACCOUNT_ID);
            return (200, a);
        }
        if self.state.restricted_keys.lock().unwrap().contains(&key) {
            let permission = if method == "GET" {
                "rak_webhook_read"
            } else {
                "rak_webhook_write"
            };
            return (
                403,
                json!({"error": {
                    "message": format!("The provided key '{}***' does not have the required permissions for this endpoint on account '{ACCOUNT_ID}'. Having the '{permission}' permission would allow this request to continue.", &key[..8]),
                    "type": "invalid_request_error"
                }}),
            );
        }
        let form: Vec<(String, String)> =
            url::form_urlencoded::parse(&r.body).into_owned().collect();
        let id = path
            .strip_prefix("/v1/webhook_endpoints/")
            .map(str::to_string);
        let mut endpoints = self.state.endpoints.lock().unwrap();
        // Each mode has its own endpoints.
        let position = |endpoints: &Vec<Value>, id: &str| {
            endpoints
                .iter()
                .position(|e| e["id"] == id && e["livemode"] == live)
        };
        match (method.as_str(), id) {
            ("GET", None) => {
                let query: Vec<(String, String)> = r.url.query_pairs().into_owned().collect();
                let limit: usize = one(&query, "limit")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(10)
                    .clamp(1, 100);
                // Newest first, as Stripe lists.
                let mut list: Vec<Value> = endpoints
                    .iter()
                    .filter(|e| e["livemode"] == live)
                    .rev()
                    .cloned()
                    .collect();
                if let Some(after) = one(&query, "starting_after") {
                    match list.iter().position(|e| e["id"] == after) {
                        Some(i) => {
                            list.drain(..=i);
                        }
                        None => return missing(after),
                    }
                }
                let has_more = list.len() > limit;
                list.truncate(limit);
                (
                    200,
                    json!({
                        "object": "list", "url": "/v1/webhook_endpoints", "has_more": has_more, "data": list
                    }),
                )
            }
            ("POST", None) => {
                let Some(url) = one(&form, "url") else {
                    return (
                        400,
                        stripe_error(
                            "invalid_request_error",
                            Some("parameter_missing"),
                            Some("url"),
                            "Missing required param: url.",
                        ),
                    );
                };
                let enabled = events(&form);
                if enabled.is_empty() {
                    return (
                        400,
                        stripe_error(
                            "invalid_request_error",
                            Some("parameter_missing"),
                            Some("enabled_events"),
                            "Missing required param: enabled_events.",
                        ),
                    );
                }
                if url::Url::parse(url).is_err()
                    || (self.state.refuse_private_urls.load(Ordering::SeqCst) && is_private(url))
                {
                    return (400, stripe_error(
                        "invalid_request_error", Some("url_invalid"), Some("url"),
                        "Invalid URL: URL must be publicly accessible. Consider using a tool like the Stripe CLI to test webhooks locally: https://github.com/stripe/stripe-cli"));
                }
                let mut e: Value = serde_json::from_str(WEBHOOK_ENDPOINT_FIXTURE).unwrap();
                let id = random("we");
                e["id"] = json!(id);
                e["url"] = json!(url);
                e["enabled_events"] = json!(enabled);
                e["description"] = json!(one(&form, "description"));
                e["metadata"] = json!(metadata(&form));
                e["livemode"] = json!(live);
                e["status"] = json!("enabled");
                e["created"] = json!(now());
                endpoints.push(e.clone());
                let secret = format!("whsec_{}", random("s").trim_start_matches("s_"));
                self.state
                    .secrets
                    .lock()
                    .unwrap()
                    .insert(id, secret.clone());
                e["secret"] = json!(secret);
                (200, e)
            }
            ("GET", Some(id)) => match position(&endpoints, &id) {
                Some(i) => (200, endpoints[i].clone()),
                None => missing(&id),
            },
            ("POST", Some(id)) => {
                let Some(i) = position(&endpoints, &id) else {
                    return missing(&id);
                };
                let e = &mut endpoints[i];
                if let Some(url) = one(&form, "url") {
                    e["url"] = json!(url);
                }
                if let Some(d) = one(&form, "description") {
                    e["description"] = json!(d);
                }
                let enabled = events(&form);
                if !enabled.is_empty() {
                    e["enabled_events"] = json!(enabled);
                }
                match one(&form, "disabled") {
                    Some("true") => e["status"] = json!("disabled"),
                    Some("false") => e["status"] = json!("enabled"),
                    _ => {}
                }
                for (k, v) in metadata(&form) {
                    e["metadata"][k] = json!(v);
                }
                (200, e.clone())
            }
            ("DELETE", Some(id)) => match position(&endpoints, &id) {
                Some(i) => {
                    endpoints.remove(i);
                    self.state.secrets.lock().unwrap().remove(&id);
                    (
                        200,
                        json!({"id": id, "object": "webhook_endpoint", "deleted": true}),
                    )
                }
                None => missing(&id),
            },
            _ => (
                404,
                stripe_error(
                    "invalid_request_error",
                    None,
                    None,
                    &format!("Unrecognized request URL ({method}: {path})."),
                ),
            ),
        }
    }
}

impl Respond for ConnectResponder {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        let idempotency = (r.method.as_str() == "POST")
            .then(|| {
                r.headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            })
            .flatten();
        if let Some(k) = &idempotency {
            if let Some((status, body)) = self.state.replays.lock().unwrap().get(k) {
                return ResponseTemplate::new(*status).set_body_json(body.clone());
            }
        }
        let (status, body) = self.answer(r);
        if let Some(k) = idempotency {
            self.state
                .replays
                .lock()
                .unwrap()
                .insert(k, (status, body.clone()));
        }
        ResponseTemplate::new(status).set_body_json(body)
    }
}

/// Mounts the accounts and webhook endpoints on the fake's server.
pub async fn mount(server: &MockServer, priority: u8) -> Arc<ConnectState> {
    let state = Arc::new(ConnectState::default());
    Mock::given(path_regex("^/v1/(account|webhook_endpoints)(/|$)"))
        .respond_with(ConnectResponder {
            state: Arc::clone(&state),
        })
        .with_priority(priority)
        .mount(server)
        .await;
    state
}

impl FakeStripe {
    /// The webhook endpoints in the fake account (both modes), oldest first, without secrets.
    pub fn webhook_endpoints(&self) -> Vec<Value> {
        self.connect.endpoints.lock().unwrap().clone()
    }

    /// The signing secret Stripe gave when it created endpoint `id` (to sign events as Stripe).
    pub fn endpoint_secret(&self, id: &str) -> Option<String> {
        self.connect.secrets.lock().unwrap().get(id).cloned()
    }

    /// Deletes an endpoint behind Keyhook's back (as the merchant would in Stripe).
    pub fn delete_webhook_endpoint(&self, id: &str) -> bool {
        let mut endpoints = self.connect.endpoints.lock().unwrap();
        let before = endpoints.len();
        endpoints.retain(|e| e["id"] != id);
        before != endpoints.len()
    }

    /// Changes an endpoint behind Keyhook's back (e.g. `status: "disabled"`).
    pub fn change_webhook_endpoint(&self, id: &str, change: impl FnOnce(&mut Value)) {
        let mut endpoints = self.connect.endpoints.lock().unwrap();
        if let Some(e) = endpoints.iter_mut().find(|e| e["id"] == id) {
            change(e);
        }
    }

    /// Adds an endpoint made by someone else (by hand in Stripe's dashboard).
    pub fn add_webhook_endpoint(&self, url: &str, events: &[&str], livemode: bool) -> String {
        let mut e: Value = serde_json::from_str(WEBHOOK_ENDPOINT_FIXTURE).unwrap();
        let id = random("we");
        e["id"] = json!(id);
        e["url"] = json!(url);
        e["enabled_events"] = json!(events);
        e["livemode"] = json!(livemode);
        self.connect.endpoints.lock().unwrap().push(e);
        id
    }

    /// Stripe no longer knows this key (401 on every call).
    pub fn refuse_key(&self, key: &str) {
        self.connect
            .refused_keys
            .lock()
            .unwrap()
            .insert(key.to_string());
    }

    /// A restricted key without the "Webhook Endpoints" permission (403 on those calls).
    pub fn restrict_key(&self, key: &str) {
        self.connect
            .restricted_keys
            .lock()
            .unwrap()
            .insert(key.to_string());
    }

    /// Refuse non-public endpoint URLs (http, loopback), as Stripe does.
    pub fn refuse_private_urls(&self) {
        self.connect
            .refuse_private_urls
            .store(true, Ordering::SeqCst);
    }

    /// Changes the account `GET /v1/account` answers (starting from Stripe's example).
    pub fn account_with(&self, change: impl FnOnce(&mut Value)) {
        let mut account = self.connect.account.lock().unwrap();
        let a = account.get_or_insert_with(|| serde_json::from_str(ACCOUNT_FIXTURE).unwrap());
        change(a);
    }

    /// The requests to the endpoints API, in order (`METHOD path`).
    pub async fn webhook_endpoint_calls(&self) -> Vec<String> {
        self.requests()
            .await
            .into_iter()
            .filter(|r| r.path.starts_with("/v1/webhook_endpoints"))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}
