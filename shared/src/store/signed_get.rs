//! The validation hot path's one read (the license's strongly consistent GetItem), signed with
//! the SDK's own SigV4 crate (`aws-sigv4`) and sent over the SDK client's own HTTP connector.
//!
//! Why not the SDK's fluent `get_item()` here: the SDK's orchestrator (interceptors, config bag
//! layers, endpoint rules, auth scheme resolution, serialisers, retry strategy, body checks)
//! costs more CPU per call than the whole validation request's budget, whatever its
//! configuration (docs/validation.md, "Online validation", has the figures). The request
//! itself is the same one the SDK sends, built and signed directly.
//!
//! What is reused, so that nothing is resolved differently from the SDK client (`Store::client`):
//! the first read of a process goes through the SDK client, and an interceptor on that one call
//! records what the SDK resolved for it: the endpoint URL the request went to (the SDK's own
//! endpoint resolution: `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL`, the client's
//! `endpoint_url`, else `https://dynamodb.{region}.amazonaws.com`), the HTTP connector it used
//! (the shared reqwest client of `crate::sdk`, so its pooled keep-alive connections), the
//! identity cache and the credentials resolver (so credentials come from the SDK's cached
//! provider and are re-resolved when they expire, as they do on Lambda), the retry and timeout
//! configuration. Every later read is signed here with those. A client for which any of them is
//! missing keeps using the SDK for every read.
//!
//! Retries: throttling errors, 5xx answers and transient I/O errors are retried up to the
//! client's `max_attempts`, with full-jitter exponential backoff from its initial backoff, as the
//! SDK's standard retry strategy does; the operation and attempt timeouts of the client apply,
//! and the connector applies the connect and read timeouts. Errors become the same
//! `Error::Upstream { service: "dynamodb" }` as the SDK path (`dynamo_err`).
//!
//! Interceptors set on the SDK client do not see these calls: `Store::signed_get_items` counts
//! them (the benchmark's AWS call counts add it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::auth::AuthSchemeId;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::identity::ResolveCachedIdentity;
use aws_smithy_runtime_api::client::identity::SharedIdentityResolver;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::{GetIdentityResolver, RuntimeComponents};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use serde::{Deserialize, Serialize};

use super::table_keys::Key;
use super::{dynamo_err, Store};
use crate::backoff::Backoff;
use crate::{Error, Result};

/// The SDK's name of the SigV4 auth scheme.
const SIGV4: AuthSchemeId = AuthSchemeId::new("sigv4");

/// Error codes the SDK's standard retry strategy treats as throttling (retried).
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];
/// Error codes the SDK treats as transient (retried).
const TRANSIENT: &[&str] = &["RequestTimeout", "RequestTimeoutException"];
/// Statuses the SDK treats as transient (retried), whatever the error code.
const TRANSIENT_STATUS: &[u16] = &[500, 502, 503, 504];

/// The directly signed reads of a store (shared by its clones): what the SDK resolved, once
/// known, and how many reads were sent this way.
#[derive(Default)]
pub(crate) struct SignedGet {
    resolved: Arc<OnceLock<Resolved>>,
    sent: AtomicU64,
}

/// What the SDK client resolved for its own GetItem, recorded by [`Learn`].
struct Resolved {
    endpoint: String,
    region: String,
    connector: SharedHttpConnector,
    components: RuntimeComponents,
    identity: SharedIdentityResolver,
    /// The retry and timeout configuration, as the identity cache reads them (its load timeout).
    bag: ConfigBag,
    retry: RetryConfig,
    timeouts: TimeoutConfig,
}

/// The request body: `{"TableName": .., "Key": {"pk": {"S": ..}, "sk": {"S": ..}}, "ConsistentRead": true}`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetItemIn<'a> {
    table_name: &'a str,
    key: KeyIn<'a>,
    consistent_read: bool,
}

#[derive(Serialize)]
struct KeyIn<'a> {
    pk: S<'a>,
    sk: S<'a>,
}

#[derive(Serialize)]
struct S<'a> {
    #[serde(rename = "S")]
    s: &'a str,
}

/// The answer: the item in DynamoDB's JSON, which `serde_dynamo` reads.
#[derive(Deserialize)]
struct GetItemOut {
    #[serde(rename = "Item")]
    item: Option<serde_dynamo::Item>,
}

/// An error answer's body.
#[derive(Deserialize, Default)]
struct ErrorOut {
    #[serde(rename = "__type", default)]
    kind: String,
    #[serde(alias = "Message", default)]
    message: String,
}

/// One attempt's failure: retried or not, and what to report.
struct Failed {
    retry: bool,
    detail: String,
}

impl Store {
    /// A strongly consistent GetItem of one item: the validation routes' license read. Signed
    /// directly (module docs) once the SDK client has made the first one. The item comes as
    /// `serde_dynamo` reads it (from the answer's JSON, with no round trip through the SDK's
    /// types).
    pub(crate) async fn get_item_signed(&self, key: Key) -> Result<Option<serde_dynamo::Item>> {
        if let Some(resolved) = self.signed.resolved.get() {
            self.signed.sent.fetch_add(1, Ordering::Relaxed);
            return resolved.get_item(&self.table, &key).await;
        }
        let out = self
            .consistent_get(key)
            .customize()
            .interceptor(Learn {
                resolved: self.signed.resolved.clone(),
                region: self.client.config().region().map(|r| r.to_string()),
            })
            .send()
            .await
            .map_err(dynamo_err)?;
        Ok(out.item.map(Into::into))
    }

    /// GetItems this store signed and sent itself (not through the SDK client, whose
    /// interceptors do not see them).
    pub fn signed_get_items(&self) -> u64 {
        self.signed.sent.load(Ordering::Relaxed)
    }
}

impl Resolved {
    async fn get_item(&self, table: &str, key: &Key) -> Result<Option<serde_dynamo::Item>> {
        let body = serde_json::to_vec(&GetItemIn {
            table_name: table,
            key: KeyIn {
                pk: S { s: &key.0 },
                sk: S { s: &key.1 },
            },
            consistent_read: true,
        })
        .map_err(|e| Error::internal(format!("GetItem request: {e}")))?;
        let attempts = self.retry.max_attempts().max(1);
        let operation = async {
            let mut attempt = 1;
            loop {
                let once = self.attempt(&body);
                let result = match self.timeouts.operation_attempt_timeout() {
                    Some(limit) => match tokio::time::timeout(limit, once).await {
                        Ok(r) => r,
                        Err(_) => Err(Failed {
                            retry: true,
                            detail: format!("attempt timed out after {limit:?}"),
                        }),
                    },
                    None => once.await,
                };
                match result {
                    Ok(item) => return Ok(item),
                    Err(f) if f.retry && attempt < attempts => {
                        tracing::debug!(attempt, detail = %f.detail, "GetItem retried");
                        tokio::time::sleep(self.backoff(attempt)).await;
                        attempt += 1;
                    }
                    Err(f) => return Err(Error::aws("dynamodb", format!("GetItem: {}", f.detail))),
                }
            }
        };
        match self.timeouts.operation_timeout() {
            Some(limit) => tokio::time::timeout(limit, operation).await.map_err(|_| {
                Error::aws("dynamodb", format!("GetItem timed out after {limit:?}"))
            })?,
            None => operation.await,
        }
    }

    /// Full jitter on an exponential backoff: a random share of `initial × 2^(attempt-1)`,
    /// capped at the maximum (the SDK's standard strategy).
    fn backoff(&self, attempt: u32) -> Duration {
        Backoff::new(self.retry.initial_backoff(), self.retry.max_backoff()).jittered(attempt)
    }

    async fn attempt(
        &self,
        body: &[u8],
    ) -> std::result::Result<Option<serde_dynamo::Item>, Failed> {
        let fail = |retry: bool, detail: String| Failed { retry, detail };
        let identity = self
            .components
            .identity_cache()
            .resolve_cached_identity(self.identity.clone(), &self.components, &self.bag)
            .await
            .map_err(|e| fail(false, format!("credentials: {e}")))?;
        let now = self
            .components
            .time_source()
            .map(|t| t.now())
            .unwrap_or_else(std::time::SystemTime::now);
        let headers = [
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", "DynamoDB_20120810.GetItem"),
        ];
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("dynamodb")
            .time(now)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| fail(false, format!("signing: {e}")))?
            .into();
        let signable = SignableRequest::new(
            "POST",
            self.endpoint.as_str(),
            headers.into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| fail(false, format!("signing: {e}")))?;
        let (signature, _) = sign(signable, &params)
            .map_err(|e| fail(false, format!("signing: {e}")))?
            .into_parts();
        let mut request = HttpRequest::new(SdkBody::from(body.to_vec()));
        request
            .set_method("POST")
            .map_err(|e| fail(false, e.to_string()))?;
        request
            .set_uri(self.endpoint.as_str())
            .map_err(|e| fail(false, e.to_string()))?;
        for (name, value) in headers {
            request.headers_mut().insert(name, value);
        }
        for (name, value) in signature.headers() {
            request
                .headers_mut()
                .insert(name.to_string(), value.to_string());
        }
        let response = self.connector.call(request).await.map_err(|e| {
            fail(
                e.is_io() || e.is_timeout(),
                format!("dispatch failure: {}", DisplayError(&e)),
            )
        })?;
        let status = response.status().as_u16();
        let bytes = ByteStream::new(response.into_body())
            .collect()
            .await
            .map_err(|e| fail(true, format!("reading the answer: {e}")))?
            .into_bytes();
        if status == 200 {
            let out: GetItemOut = serde_json::from_slice(&bytes)
                .map_err(|e| fail(false, format!("reading the answer: {e}")))?;
            return Ok(out.item);
        }
        let error: ErrorOut = serde_json::from_slice(&bytes).unwrap_or_default();
        // `com.amazonaws.dynamodb.v20120810#ThrottlingException` → `ThrottlingException`.
        let code = error.kind.rsplit('#').next().unwrap_or_default();
        let retry = TRANSIENT_STATUS.contains(&status)
            || THROTTLING.contains(&code)
            || TRANSIENT.contains(&code);
        Err(fail(
            retry,
            format!("service error ({status}): {code}: {}", error.message),
        ))
    }
}

/// An error with its sources.
struct DisplayError<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for DisplayError<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

/// Records, on the SDK's own first GetItem, what the SDK resolved for it (module docs).
#[derive(Debug)]
struct Learn {
    resolved: Arc<OnceLock<Resolved>>,
    region: Option<String>,
}

impl Intercept for Learn {
    fn name(&self) -> &'static str {
        "keyhook::store::signed_get::Learn"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> std::result::Result<(), BoxError> {
        if self.resolved.get().is_some() {
            return Ok(());
        }
        let (Some(region), Some(http), Some(identity), Some(timeouts)) = (
            self.region.clone(),
            components.http_client(),
            components.identity_resolver(SIGV4),
            cfg.load::<TimeoutConfig>().cloned(),
        ) else {
            return Ok(());
        };
        // The SDK signed this request with SigV4 (not another scheme, not anonymously).
        if context
            .request()
            .headers()
            .get("authorization")
            .is_none_or(|a| !a.starts_with("AWS4-HMAC-SHA256 "))
        {
            return Ok(());
        }
        let retry = cfg
            .load::<RetryConfig>()
            .cloned()
            .unwrap_or_else(RetryConfig::standard);
        // The connector the SDK uses for these settings (cached by them: the same pool).
        let mut settings = HttpConnectorSettings::builder();
        settings.set_connect_timeout(timeouts.connect_timeout());
        settings.set_read_timeout(timeouts.read_timeout());
        let connector = http.http_connector(&settings.build(), components);
        let mut bag = ConfigBag::base();
        bag.interceptor_state().store_put(retry.clone());
        bag.interceptor_state().store_put(timeouts.clone());
        let _ = self.resolved.set(Resolved {
            endpoint: context.request().uri().to_string(),
            region,
            connector,
            components: components.clone(),
            identity,
            bag,
            retry,
            timeouts,
        });
        Ok(())
    }
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolved")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}
