//! How Keyhook builds the AWS SDK: one HTTPS client shared by every service client of the
//! process, and the DynamoDB client's settings for the hot path (validation is one GetItem).
//!
//! Why not the defaults: each SDK client built with its default HTTP client loads and parses
//! the system's trust roots when it is built (about 150 certificates, for each of DynamoDB,
//! KMS, SQS, SES and the credential providers), the larger part of a cold start.
//! Here one client serves them all and builds its TLS configuration once, on its first
//! connection; connections are pooled across services.

use std::fmt;
use std::sync::{Arc, OnceLock};

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_runtime::env_config::EnvConfigValue;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::shared::IntoShared;
use aws_types::os_shim_internal::Env;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

pub mod reqwest_client;

/// The AWS SDK's configuration for a Lambda function, from its environment only: the region
/// (`AWS_REGION`), the execution role's credentials (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`: the Lambda runtime sets all of them), the
/// endpoint URLs the SDK reads from the environment (`AWS_ENDPOINT_URL`, or per service
/// `AWS_ENDPOINT_URL_DYNAMODB` and the like: the local emulator), `AWS_USE_FIPS_ENDPOINT` and
/// `AWS_USE_DUALSTACK_ENDPOINT`, and the shared lazy HTTPS client; everything else (retries,
/// timeouts, identity cache) is the service clients' defaults.
///
/// Why not `aws_config::defaults(..).load()`: on Lambda its default chains find the same
/// variables first, but the loader also reads profile files and a dozen settings, and its
/// chains link an STS client (web identity, assume-role), an IMDS client, SSO and the profile
/// parser into every function (docs/deploy.md, "Performance", has the sizes) and work before
/// the first `next`. An operator's machine
/// (the CLI and local server, with profiles and SSO) loads the full default chain instead
/// (`keyhook-cli`).
pub fn config_from_env() -> crate::Result<SdkConfig> {
    config_from(Env::real())
}

fn config_from(env: Env) -> crate::Result<SdkConfig> {
    let region = ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .into_iter()
        .find_map(|name| env.get(name).ok().filter(|v| !v.trim().is_empty()))
        .ok_or_else(|| {
            crate::Error::internal("missing environment variable: AWS_REGION (Lambda sets it)")
        })?;
    let credentials = EnvironmentVariableCredentialsProvider::new();
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(http_client());
    // FIPS and dual-stack endpoints, for deployments that need them (GovCloud, IPv6).
    builder.set_use_fips(flag(&env, "AWS_USE_FIPS_ENDPOINT")?);
    builder.set_use_dual_stack(flag(&env, "AWS_USE_DUALSTACK_ENDPOINT")?);
    Ok(builder.service_config(EnvServiceConfig { env }).build())
}

/// A boolean setting as the SDK reads it: `true` or `false` (any case), unset if absent.
fn flag(env: &Env, name: &str) -> crate::Result<Option<bool>> {
    match env.get(name) {
        Err(_) => Ok(None),
        Ok(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Ok(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Ok(v) => Err(crate::Error::internal(format!(
            "{name} must be true or false, not {v:?}"
        ))),
    }
}

/// Per-service settings as the SDK reads them from the environment (`AWS_ENDPOINT_URL_DYNAMODB`,
/// then `AWS_ENDPOINT_URL`), with the SDK's own lookup (`aws_runtime::env_config`) and no profile
/// file.
#[derive(Debug)]
struct EnvServiceConfig {
    env: Env,
}

impl LoadServiceConfig for EnvServiceConfig {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        EnvConfigValue::new()
            .env(key.env())
            .profile(key.profile())
            .service_id(key.service_id())
            .load(&self.env, None)
            .map(|(value, _source)| value.into_owned())
    }
}

/// An AWS service client built on its first use. Building one parses the SDK's endpoint
/// partitions and compiles their region patterns (work at a cold start),
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

/// The HTTPS client every AWS SDK client of the process shares ([`reqwest_client::SdkHttpClient`]:
/// reqwest over HTTP/1.1, its TLS built on the first request).
pub fn http_client() -> SharedHttpClient {
    reqwest_client::SdkHttpClient::default().into_shared()
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

    use aws_types::os_shim_internal::Env;
    use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

    use super::{config_from, EnvServiceConfig, LazyClient};

    fn key<'a>(service_id: &'a str) -> ServiceConfigKey<'a> {
        ServiceConfigKey::builder()
            .service_id(service_id)
            .env("AWS_ENDPOINT_URL")
            .profile("endpoint_url")
            .build()
            .unwrap()
    }

    #[test]
    fn endpoint_urls_come_from_the_environment_the_service_specific_one_first() {
        let config = EnvServiceConfig {
            env: Env::from_slice(&[
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
                ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000"),
            ]),
        };
        assert_eq!(
            config.load_config(key("DynamoDB")).as_deref(),
            Some("http://127.0.0.1:8000")
        );
        assert_eq!(
            config.load_config(key("KMS")).as_deref(),
            Some("http://127.0.0.1:5000")
        );
        let none = EnvServiceConfig {
            env: Env::from_slice(&[]),
        };
        assert_eq!(none.load_config(key("DynamoDB")), None);
    }

    #[test]
    fn the_region_is_aws_region_else_aws_default_region_else_a_named_error() {
        let region = |vars: &[(&str, &str)]| {
            config_from(Env::from_slice(vars)).map(|c| c.region().map(|r| r.to_string()))
        };
        let both = [
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "us-east-2"),
        ];
        assert_eq!(region(&both).unwrap().as_deref(), Some("eu-west-1"));
        let default = [("AWS_DEFAULT_REGION", "us-east-2")];
        assert_eq!(region(&default).unwrap().as_deref(), Some("us-east-2"));
        let err = region(&[("AWS_REGION", " ")]).unwrap_err().to_string();
        assert!(err.contains("AWS_REGION"), "{err}");
    }

    #[test]
    fn fips_and_dual_stack_are_read_as_the_sdk_reads_them() {
        let config = config_from(Env::from_slice(&[
            ("AWS_REGION", "us-gov-west-1"),
            ("AWS_USE_FIPS_ENDPOINT", "TRUE"),
            ("AWS_USE_DUALSTACK_ENDPOINT", "false"),
        ]))
        .unwrap();
        assert_eq!(config.use_fips(), Some(true));
        assert_eq!(config.use_dual_stack(), Some(false));
        let plain = config_from(Env::from_slice(&[("AWS_REGION", "eu-west-1")])).unwrap();
        assert_eq!((plain.use_fips(), plain.use_dual_stack()), (None, None));
        let err = config_from(Env::from_slice(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_USE_FIPS_ENDPOINT", "yes"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(err.contains("AWS_USE_FIPS_ENDPOINT"), "{err}");
    }

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
