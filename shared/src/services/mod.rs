//! What the request handlers and the consumers share: [`Services`], the clients and
//! configuration built once per process (outside the handler, so a warm Lambda reuses
//! connections and caches) with the state they keep in memory (the per-IP budgets, the shared
//! webhook URL's app cache), and the operations several of them run (issuing licenses, opening
//! an app's Stripe secrets).

pub mod app_cache;
pub mod app_secrets;
pub mod billing_portal;
pub mod contact_change;
pub mod delivery_queue;
pub mod ip_budgets;
pub mod issuance;
pub mod meter_reports;
pub mod stripe_connect;

use std::sync::Arc;

use aws_config::SdkConfig;

use crate::clock::Clock;
use crate::crypto::{Keyring, SigningKeys};
use crate::mail::{Outbox, Sender};
use crate::sdk::LazyClient;
use crate::services::app_cache::AppCache;
use crate::services::delivery_queue::DeliveryQueue;
use crate::services::ip_budgets::IpBudgets;
use crate::store::Store;
use crate::stripe::StripeClient;
use crate::{Config, Result};

#[derive(Clone)]
pub struct Services {
    pub config: Arc<Config>,
    pub store: Store,
    pub keyring: Keyring,
    pub outbox: Outbox,
    pub sender: Sender,
    /// Stripe's API (`config.stripe_api_base`).
    pub stripe: StripeClient,
    /// Candidate apps and opened signing secrets of the shared webhook URL.
    pub webhook_apps: Arc<AppCache>,
    /// Tenants' opened answer-signing keys (validation).
    pub signing_keys: SigningKeys,
    /// Per-IP budgets of the validation routes (churn, validate, trial starts).
    pub ip_budgets: IpBudgets,
    /// Outgoing webhook deliveries (SQS).
    pub deliveries: DeliveryQueue,
    /// The time outgoing webhooks go by (tests move it forward).
    pub clock: Clock,
}

impl Services {
    /// A Lambda function's services, from its environment: Keyhook's config plus the AWS SDK's
    /// (region, the role's credentials, `AWS_ENDPOINT_URL` for the local emulator:
    /// [`crate::sdk::config_from_env`]), every client sharing one lazily built HTTPS client.
    pub fn from_env() -> Result<Self> {
        let config = Config::from_env()?;
        let sdk = crate::sdk::config_from_env()?;
        Ok(Self::new(config, &sdk))
    }

    /// Every function reads DynamoDB, so its client is built now; KMS, SQS and SES clients are
    /// built on first use (`LazyClient`: validation never calls SQS or SES).
    pub fn new(config: Config, sdk: &SdkConfig) -> Self {
        let store = Store::new(crate::sdk::dynamodb_client(sdk), &config.table_name);
        Self::with_clients(
            config,
            store,
            LazyClient::of(sdk, aws_sdk_kms::Client::new),
            LazyClient::of(sdk, aws_sdk_sqs::Client::new),
            LazyClient::of(sdk, aws_sdk_sesv2::Client::new),
        )
    }

    /// From explicit clients (tests point one of them at a dead endpoint to simulate an outage).
    pub fn with_clients(
        config: Config,
        store: Store,
        kms: impl Into<LazyClient<aws_sdk_kms::Client>>,
        sqs: impl Into<LazyClient<aws_sdk_sqs::Client>>,
        ses: impl Into<LazyClient<aws_sdk_sesv2::Client>>,
    ) -> Self {
        let sqs = sqs.into();
        let store = store.with_cache_ttls(config.token_cache_ttl, config.product_cache_ttl);
        let keyring = Keyring::new(
            kms,
            config.kms_key_id.clone(),
            store.clone(),
            config.key_cache_ttl,
        );
        let signing_keys = SigningKeys::new(keyring.clone(), store.clone(), config.key_cache_ttl);
        Services {
            stripe: StripeClient::new(&config.stripe_api_base),
            webhook_apps: Arc::new(AppCache::new(config.key_cache_ttl)),
            signing_keys,
            ip_budgets: IpBudgets::default(),
            deliveries: DeliveryQueue::new(sqs.clone(), &config.delivery_queue_url),
            clock: Clock::default(),
            outbox: Outbox::new(sqs, &config.mail_queue_url),
            sender: Sender::new(ses, &config.mail_from),
            config: Arc::new(config),
            store,
            keyring,
        }
    }
}
