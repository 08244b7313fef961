//! Stripe's HTTP API, called with a tenant app's secret key: form-encoded requests exactly as
//! Stripe expects them (`metadata[productId]`, `line_items[0][price_data][currency]`), an
//! `Idempotency-Key` on every POST, a timeout, and retries with backoff on connection errors,
//! 429 and 5xx (honouring `Retry-After`). Stripe's error body is kept for the caller to map.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::backoff::Backoff;
use crate::crypto::Secret;
use crate::Error;

/// How hard the client tries: timeouts, attempts and the waits between them.
///
/// The default suits a request a merchant's buyer is waiting on: at worst about
/// `3 × 10 s + 0.2 s + 0.4 s`. Tests shorten it so outages are simulated in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request (1 + retries).
    pub attempts: u32,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for one whole attempt (connect, send, read the answer).
    pub timeout: Duration,
    /// Wait before the first retry; doubled for each further one.
    pub first_backoff: Duration,
    /// Longest wait between attempts, whatever `Retry-After` says.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            connect_timeout: Duration::from_secs(3),
            timeout: Duration::from_secs(10),
            first_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt` (1-based count of retries so far): Stripe's
    /// `Retry-After` when it gave one, else exponential backoff; capped either way.
    fn wait_before(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        retry_after
            .unwrap_or_else(|| Backoff::new(self.first_backoff, self.max_backoff).ceiling(attempt))
            .min(self.max_backoff)
    }
}

/// A form body, in Stripe's bracket notation, in insertion order.
#[derive(Debug, Default, Clone)]
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn new() -> Self {
        Form::default()
    }

    pub fn set(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.0.push((key.into(), value.to_string()));
        self
    }

    pub fn set_opt(self, key: impl Into<String>, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.set(key, v),
            None => self,
        }
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    pub fn encode(&self) -> String {
        serde_urlencoded::to_string(&self.0).expect("string pairs encode")
    }
}

/// Why a Stripe call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StripeError {
    /// Stripe answered with an error body (4xx, or 5xx after the retries).
    #[error("Stripe {status}: {message}")]
    Api {
        status: u16,
        /// `invalid_request_error`, `card_error`, `authentication_error`, …
        kind: String,
        code: Option<String>,
        param: Option<String>,
        message: String,
    },
    /// Stripe could not be reached, or kept failing.
    #[error("Stripe unreachable: {0}")]
    Unreachable(String),
}

impl From<StripeError> for Error {
    /// Client errors Stripe explains (a bad currency, a bad price) are the caller's to fix:
    /// 422 with Stripe's message. A key Stripe refuses, and Stripe being down, are ours: 502.
    fn from(e: StripeError) -> Self {
        match e {
            StripeError::Api {
                status,
                kind,
                param,
                message,
                ..
            } if (400..500).contains(&status)
                && kind != "authentication_error"
                && status != 429 =>
            {
                Error::Validation {
                    field: param.map(|p| format!("stripe.{p}")),
                    message: format!("Stripe refused the request: {message}"),
                }
            }
            StripeError::Api {
                status,
                kind,
                message,
                ..
            } => Error::Upstream {
                service: "stripe",
                detail: format!("{status} {kind}: {message}"),
            },
            StripeError::Unreachable(detail) => Error::Upstream {
                service: "stripe",
                detail,
            },
        }
    }
}

impl Error {
    /// A failed read the webhook needed: always retryable from Stripe's side (5xx), since the
    /// event cannot be processed without it and nothing was written.
    pub fn from_stripe_read(e: StripeError) -> Self {
        Error::Upstream {
            service: "stripe",
            detail: e.to_string(),
        }
    }
}

/// Stripe's API at a configurable base URL (`KEYHOOK_STRIPE_API_BASE`; tests point it at a
/// fake Stripe).
#[derive(Clone)]
pub struct StripeClient {
    /// Built on the first call to Stripe, not with the services: most functions never call
    /// Stripe (validate, the mailer), and building it loads its TLS roots, which is cold-start
    /// time; a function that never calls Stripe links none of its HTTP client.
    http: Arc<OnceLock<reqwest::Client>>,
    base: String,
    policy: RetryPolicy,
}

impl StripeClient {
    /// A client with the default [`RetryPolicy`].
    pub fn new(base: &str) -> Self {
        Self::with_policy(base, RetryPolicy::default())
    }

    pub fn with_policy(base: &str, policy: RetryPolicy) -> Self {
        StripeClient {
            http: Arc::default(),
            base: base.trim_end_matches('/').to_string(),
            policy,
        }
    }

    fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            crate::http::outbound::client_builder()
                .connect_timeout(self.policy.connect_timeout)
                .timeout(self.policy.timeout)
                .build()
                .expect("HTTP client builds")
        })
    }

    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    /// `POST /v1/<path>` with a form body and an idempotency key (reused on retries, so a
    /// retried create is never applied twice).
    pub async fn post(
        &self,
        secret: &Secret,
        path: &str,
        form: &Form,
        idempotency_key: &str,
    ) -> Result<Value, StripeError> {
        let url = format!("{}/v1/{path}", self.base);
        self.send(|| {
            self.http()
                .post(&url)
                .bearer_auth(secret.expose())
                .header("Idempotency-Key", idempotency_key)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form.encode())
        })
        .await
    }

    /// `GET /v1/<path>` with query parameters (e.g. `expand[]`).
    pub async fn get(
        &self,
        secret: &Secret,
        path: &str,
        query: &Form,
    ) -> Result<Value, StripeError> {
        let url = format!("{}/v1/{path}", self.base);
        self.send(|| {
            self.http()
                .get(&url)
                .bearer_auth(secret.expose())
                .query(query.pairs())
        })
        .await
    }

    /// `DELETE /v1/<path>`.
    pub async fn delete(&self, secret: &Secret, path: &str) -> Result<Value, StripeError> {
        let url = format!("{}/v1/{path}", self.base);
        self.send(|| self.http().delete(&url).bearer_auth(secret.expose()))
            .await
    }

    async fn send(
        &self,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Value, StripeError> {
        let mut last = StripeError::Unreachable("no attempt made".into());
        let mut retry_after: Option<Duration> = None;
        for attempt in 0..self.policy.attempts.max(1) {
            if attempt > 0 {
                tokio::time::sleep(self.policy.wait_before(attempt, retry_after.take())).await;
            }
            let response = match request().send().await {
                Ok(r) => r,
                Err(e) => {
                    // Never log the request: it carries the secret key.
                    last = StripeError::Unreachable(if e.is_timeout() {
                        "timed out".into()
                    } else {
                        "connection failed".into()
                    });
                    tracing::warn!(attempt = attempt + 1, error = %last, "Stripe call failed");
                    continue;
                }
            };
            let status = response.status();
            retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body: Value = match response.json().await {
                Ok(v) => v,
                Err(_) if status.is_success() => {
                    return Err(StripeError::Unreachable(
                        "Stripe answered with a body that is not JSON".into(),
                    ))
                }
                Err(_) => Value::Null,
            };
            if status.is_success() {
                return Ok(body);
            }
            let error = &body["error"];
            last = StripeError::Api {
                status: status.as_u16(),
                kind: error["type"].as_str().unwrap_or("api_error").to_string(),
                code: error["code"].as_str().map(str::to_string),
                param: error["param"].as_str().map(str::to_string),
                message: error["message"]
                    .as_str()
                    .unwrap_or("no message")
                    .to_string(),
            };
            if !(status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS) {
                return Err(last);
            }
            tracing::warn!(
                attempt = attempt + 1,
                status = status.as_u16(),
                "Stripe asked to retry"
            );
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_use_stripes_bracket_notation() {
        let f = Form::new()
            .set("mode", "payment")
            .set("line_items[0][price_data][currency]", "usd")
            .set("metadata[productId]", "42")
            .set_opt("customer_email", None::<String>);
        assert_eq!(
            f.encode(),
            "mode=payment&line_items%5B0%5D%5Bprice_data%5D%5Bcurrency%5D=usd&metadata%5BproductId%5D=42"
        );
    }

    #[test]
    fn stripe_errors_map_to_the_contract() {
        let api = |status: u16, kind: &str| StripeError::Api {
            status,
            kind: kind.into(),
            code: None,
            param: Some("currency".into()),
            message: "Invalid currency: xyz".into(),
        };
        let e: Error = api(400, "invalid_request_error").into();
        assert_eq!((e.status().as_u16(), e.code()), (422, "validation_failed"));
        assert!(e.body().error.message.contains("Invalid currency"));
        let e: Error = api(401, "authentication_error").into();
        assert_eq!(
            (e.status().as_u16(), e.code()),
            (502, "upstream_unavailable")
        );
        let e: Error = StripeError::Unreachable("timed out".into()).into();
        assert_eq!(e.status().as_u16(), 502);
    }

    #[test]
    fn waits_back_off_and_honour_retry_after_within_the_cap() {
        let p = RetryPolicy::default();
        assert_eq!(p.wait_before(1, None), Duration::from_millis(200));
        assert_eq!(p.wait_before(2, None), Duration::from_millis(400));
        assert_eq!(p.wait_before(40, None), p.max_backoff);
        assert_eq!(
            p.wait_before(1, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(
            p.wait_before(1, Some(Duration::from_secs(3600))),
            p.max_backoff
        );
    }
}
