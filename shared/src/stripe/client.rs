//! Stripe's HTTP API, called with a tenant app's secret key: form-encoded requests exactly as
//! Stripe expects them (`metadata[productId]`, `line_items[0][price_data][currency]`), an
//! `Idempotency-Key` on every POST, a timeout, and retries with backoff on connection errors,
//! 429 and 5xx (honouring `Retry-After`). Stripe's error body is kept for the caller to map.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::crypto::Secret;
use crate::Error;

/// Attempts per request (1 + retries).
const ATTEMPTS: u32 = 3;
/// Longest wait between attempts, whatever `Retry-After` says.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

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
    http: reqwest::Client,
    base: String,
}

impl StripeClient {
    pub fn new(base: &str) -> Self {
        StripeClient {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(3))
                .timeout(Duration::from_secs(10))
                .build()
                .expect("HTTP client builds"),
            base: base.trim_end_matches('/').to_string(),
        }
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
            self.http
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
            self.http
                .get(&url)
                .bearer_auth(secret.expose())
                .query(query.pairs())
        })
        .await
    }

    async fn send(
        &self,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Value, StripeError> {
        let mut last = StripeError::Unreachable("no attempt made".into());
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt, &last)).await;
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
                    continue;
                }
            };
            let status = response.status();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
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
            if let Some(secs) = retry_after {
                tokio::time::sleep(Duration::from_secs(secs).min(MAX_BACKOFF)).await;
            }
        }
        Err(last)
    }
}

fn backoff(attempt: u32, _last: &StripeError) -> Duration {
    (Duration::from_millis(200) * 2u32.pow(attempt - 1)).min(MAX_BACKOFF)
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
}
