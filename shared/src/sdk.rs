//! How Keyhook builds the AWS SDK: one HTTPS client shared by every service client of the
//! process, and the DynamoDB client's settings for the hot path (validation is one GetItem).
//!
//! Why not the defaults: each SDK client built with its default HTTP client loads and parses
//! the system's trust roots when it is built (about 150 certificates, for each of DynamoDB,
//! KMS, SQS, SES and the credential providers), which was most of a function's cold start.
//! Here one client serves them all and builds its TLS configuration once, on its first
//! connection; connections are pooled across services.

use std::fmt;

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
pub async fn config_from_env() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .load()
        .await
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
