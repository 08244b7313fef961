//! How Keyhook builds the AWS SDK: one HTTPS client shared by every service client of the
//! process, and the DynamoDB client's settings for the hot path (validation is one GetItem).
//!
//! Why not the defaults: each SDK client built with its default HTTP client loads and parses
//! the system's trust roots when it is built (about 150 certificates, for each of DynamoDB,
//! KMS, SQS, SES and the credential providers), which was most of a function's cold start.
//! Here one client serves them all and builds its TLS configuration once, on its first
//! connection; connections are pooled across services.

use std::fmt;
use std::sync::{Arc, OnceLock};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_http_client::ConnectorBuilder;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared;

/// The AWS SDK's configuration from the environment (region, credentials,
/// `AWS_ENDPOINT_URL` for the local emulator), with the shared lazy HTTPS client.
///
/// On Lambda the runtime puts the region and the execution role's credentials in the
/// environment. Given them, the loader is told so and skips building its default provider
/// chains (an STS client for web identity tokens, an IMDS client, the profile chain), which
/// were a fifth of a function's start before its first `next` (perf, 2026-11-29). The answer
/// is the same: both default chains look at these variables first.
pub async fn config_from_env() -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http_client());
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let Some(region) = set("AWS_REGION") {
        loader = loader.region(aws_config::Region::new(region));
    }
    if set("AWS_ACCESS_KEY_ID").is_some() && set("AWS_SECRET_ACCESS_KEY").is_some() {
        loader = loader.credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        );
    }
    loader.load().await
}

/// An AWS service client built on its first use. Building one parses the SDK's endpoint
/// partitions and compiles their region patterns (about 0.2 ms per client at a cold start),
/// and most functions never call most services: validation calls KMS once per tenant key and
/// never SQS or SES. Clones share the client.
pub struct LazyClient<C> {
    inner: Arc<LazyInner<C>>,
}

struct LazyInner<C> {
    client: OnceLock<C>,
    make: Box<dyn Fn() -> C + Send + Sync>,
}

impl<C> LazyClient<C> {
    /// A client `make` builds when it is first needed.
    pub fn new(make: impl Fn() -> C + Send + Sync + 'static) -> Self {
        LazyClient {
            inner: Arc::new(LazyInner {
                client: OnceLock::new(),
                make: Box::new(make),
            }),
        }
    }

    /// A client of `sdk`'s configuration (`build` is the service's `Client::new`), built when
    /// it is first needed.
    pub fn of(sdk: &SdkConfig, build: fn(&SdkConfig) -> C) -> Self
    where
        C: 'static,
    {
        let sdk = sdk.clone();
        Self::new(move || build(&sdk))
    }

    /// The client (built now if this is its first use).
    pub fn get(&self) -> &C {
        self.inner.client.get_or_init(|| (self.inner.make)())
    }
}

/// A client already built (tests pass their own): there is nothing left to build.
impl<C> From<C> for LazyClient<C> {
    fn from(client: C) -> Self {
        LazyClient {
            inner: Arc::new(LazyInner {
                client: OnceLock::from(client),
                make: Box::new(|| unreachable!("a client given built is set from the start")),
            }),
        }
    }
}

impl<C> Clone for LazyClient<C> {
    fn clone(&self) -> Self {
        LazyClient {
            inner: self.inner.clone(),
        }
    }
}

impl<C> fmt::Debug for LazyClient<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyClient")
            .field("built", &self.inner.client.get().is_some())
            .finish()
    }
}

/// The HTTPS client every AWS SDK client of the process shares: the SDK's own default one
/// (hyper 1, rustls with aws-lc, the system's trust roots, proxy settings from the
/// environment), built lazily.
pub fn http_client() -> SharedHttpClient {
    let inner = aws_smithy_http_client::Builder::new().build_with_connector_fn(
        |settings: Option<&HttpConnectorSettings>, components: Option<&RuntimeComponents>| {
            let mut builder =
                ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::AwsLc));
            builder.set_connector_settings(settings.cloned());
            if let Some(components) = components {
                builder.set_sleep_impl(components.sleep_impl());
            }
            builder.set_proxy_config(Some(ProxyConfig::from_env()));
            builder.build()
        },
    );
    LazyRoots(inner).into_shared()
}

/// Delegates to the SDK's client, except that it does not build a connector when a service
/// client is built (the SDK does, to load the trust roots early, once per service client):
/// the first request builds it, once for all services (connectors are cached by settings).
struct LazyRoots(SharedHttpClient);

impl fmt::Debug for LazyRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LazyRoots").field(&self.0).finish()
    }
}

impl HttpClient for LazyRoots {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

/// The DynamoDB client every function uses (the validation hot path is one GetItem).
pub fn dynamodb_client(sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        dynamodb_settings(aws_sdk_dynamodb::config::Builder::from(sdk)).build(),
    )
}

/// Keyhook's settings on a DynamoDB client configuration. For now the SDK's defaults (standard
/// retries, stalled-stream protection, the lazy identity cache): `make bench` measures them
/// against single changes on a keep-alive GetItem responder (`KEYHOOK_BENCH_VARIANTS=1`), and
/// none is changed until a measurement says it pays.
pub fn dynamodb_settings(
    builder: aws_sdk_dynamodb::config::Builder,
) -> aws_sdk_dynamodb::config::Builder {
    builder
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;

    use super::LazyClient;

    #[test]
    fn a_lazy_client_is_built_on_first_use_once_for_all_its_clones() {
        let built = Arc::new(AtomicUsize::new(0));
        let lazy = LazyClient::new({
            let built = built.clone();
            move || {
                built.fetch_add(1, SeqCst);
                String::from("client")
            }
        });
        let clone = lazy.clone();
        assert_eq!(built.load(SeqCst), 0, "not built before its first use");
        assert_eq!(clone.get(), "client");
        assert_eq!(lazy.get(), "client");
        assert_eq!(built.load(SeqCst), 1, "built once, shared by clones");
    }

    #[test]
    fn a_client_given_built_is_used_as_it_is() {
        let lazy = LazyClient::from(String::from("given"));
        assert!(format!("{lazy:?}").contains("built: true"));
        assert_eq!(lazy.get(), "given");
    }
}
