//! All of Keyhook's settings, read once from the environment at start-up.
//!
//! The AWS endpoint, region and credentials are not here: the AWS SDK reads them itself
//! (`AWS_ENDPOINT_URL`, `AWS_REGION`, ...), which is how the local stack points at the emulator.

use std::time::Duration;

use crate::{Error, Result};

/// Keyhook's configuration. Build it with [`Config::from_env`] in production, or by hand in tests.
#[derive(Debug, Clone)]
pub struct Config {
    /// The single DynamoDB table (`KEYHOOK_TABLE`).
    pub table_name: String,
    /// The KMS key that wraps tenant data keys, id/ARN/alias (`KEYHOOK_KMS_KEY_ID`).
    pub kms_key_id: String,
    /// The SQS queue the mailer consumes (`KEYHOOK_MAIL_QUEUE_URL`).
    pub mail_queue_url: String,
    /// The SQS queue of outgoing webhook deliveries (`KEYHOOK_DELIVERY_QUEUE_URL`).
    pub delivery_queue_url: String,
    /// The verified SES sender address (`KEYHOOK_MAIL_FROM`).
    pub mail_from: String,
    /// The public base URL of the HTTP API, used to show each app's `webhookUrl`
    /// (`KEYHOOK_PUBLIC_BASE_URL`).
    pub public_base_url: String,
    /// Stripe's API base URL (`KEYHOOK_STRIPE_API_BASE`, default `https://api.stripe.com`).
    pub stripe_api_base: String,
    /// How long an unwrapped tenant key stays in memory (`KEYHOOK_KEY_CACHE_SECONDS`, default 300).
    pub key_cache_ttl: Duration,
    /// How long a process reuses an API token it has read (`KEYHOOK_TOKEN_CACHE_SECONDS`,
    /// default 30): a token revoked elsewhere stops working within this time.
    pub token_cache_ttl: Duration,
    /// How long a process reuses a product the purchase webhook or the mailer has read
    /// (`KEYHOOK_PRODUCT_CACHE_SECONDS`, default 10): a change made elsewhere applies to
    /// purchases and emails within this time.
    pub product_cache_ttl: Duration,
    /// Stripe signature timestamp tolerance (300 s, as Stripe's own libraries).
    pub webhook_tolerance: Duration,
    /// Receives after which the mailer gives up on a message and marks the email `failed`
    /// (`KEYHOOK_MAIL_MAX_RECEIVES`, default 5; match the queue's redrive `maxReceiveCount`).
    pub mail_max_receives: u32,
    /// Whether anyone may create a tenant from the dashboard's sign-up page
    /// (`KEYHOOK_DASHBOARD_SIGNUP=open`; default off: tenants are created by the operator with
    /// `keyhook tenant create`).
    pub dashboard_signup: bool,
    /// Whether outgoing webhooks may go to the loopback interface (`127.0.0.0/8`, `::1`) as well
    /// as to public addresses: `keyhook dev` and the tests only, where the merchant's endpoint
    /// runs on the same machine. Never in a deployment, where loopback is the function's own
    /// Runtime API: [`Config::from_env`] refuses `KEYHOOK_ALLOW_LOOPBACK_WEBHOOKS=1`.
    pub allow_loopback_webhooks: bool,
    /// Who may post to the shared Stripe webhook URLs (`KEYHOOK_STRIPE_SOURCE_IPS`, default
    /// `stripe`): matching a signature there costs one HMAC per app of every tenant, so it
    /// answers only Stripe's published webhook addresses; the per-app URLs answer anyone.
    pub stripe_source_ips: StripeSourceIps,
}

/// `KEYHOOK_STRIPE_SOURCE_IPS`: whether the shared webhook URLs check the sender's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StripeSourceIps {
    /// `stripe` (the default, and what deployments set): only requests whose source address
    /// (API Gateway's `requestContext.http.sourceIp`, never a header) is one of Stripe's
    /// published webhook addresses (`stripe::source_ips`).
    Stripe,
    /// `off`: any address (local development, where events come from `keyhook trigger`).
    Off,
}

impl StripeSourceIps {
    /// The setting from the variable's value (unset: `stripe`).
    pub fn parse(value: Option<&str>) -> Result<Self> {
        match value.map(str::trim) {
            None | Some("") | Some("stripe") => Ok(StripeSourceIps::Stripe),
            Some("off") => Ok(StripeSourceIps::Off),
            Some(other) => Err(Error::internal(format!(
                "KEYHOOK_STRIPE_SOURCE_IPS is {other:?}; it must be `stripe` or `off`"
            ))),
        }
    }
}

impl Config {
    /// Reads the configuration from the environment; missing required variables are an error
    /// that names them all.
    pub fn from_env() -> Result<Self> {
        let mut missing = Vec::new();
        let mut required = |name: &str| match std::env::var(name) {
            Ok(v) if !v.trim().is_empty() => v,
            _ => {
                missing.push(name.to_string());
                String::new()
            }
        };
        let table_name = required("KEYHOOK_TABLE");
        let kms_key_id = required("KEYHOOK_KMS_KEY_ID");
        let mail_queue_url = required("KEYHOOK_MAIL_QUEUE_URL");
        let delivery_queue_url = required("KEYHOOK_DELIVERY_QUEUE_URL");
        let mail_from = required("KEYHOOK_MAIL_FROM");
        let public_base_url = required("KEYHOOK_PUBLIC_BASE_URL");
        refuse_loopback_webhooks(
            std::env::var("KEYHOOK_ALLOW_LOOPBACK_WEBHOOKS")
                .ok()
                .as_deref(),
        )?;
        if !missing.is_empty() {
            return Err(Error::internal(format!(
                "missing environment variables: {}",
                missing.join(", ")
            )));
        }
        let optional_u64 = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(default)
        };
        Ok(Config {
            table_name,
            kms_key_id,
            mail_queue_url,
            delivery_queue_url,
            mail_from,
            public_base_url: public_base_url.trim_end_matches('/').to_string(),
            stripe_api_base: std::env::var("KEYHOOK_STRIPE_API_BASE")
                .unwrap_or_else(|_| "https://api.stripe.com".to_string()),
            key_cache_ttl: Duration::from_secs(optional_u64("KEYHOOK_KEY_CACHE_SECONDS", 300)),
            token_cache_ttl: Duration::from_secs(optional_u64("KEYHOOK_TOKEN_CACHE_SECONDS", 30)),
            product_cache_ttl: Duration::from_secs(optional_u64(
                "KEYHOOK_PRODUCT_CACHE_SECONDS",
                10,
            )),
            webhook_tolerance: Duration::from_secs(300),
            mail_max_receives: optional_u64("KEYHOOK_MAIL_MAX_RECEIVES", 5) as u32,
            dashboard_signup: std::env::var("KEYHOOK_DASHBOARD_SIGNUP")
                .is_ok_and(|v| v.trim().eq_ignore_ascii_case("open")),
            allow_loopback_webhooks: false,
            stripe_source_ips: StripeSourceIps::parse(
                std::env::var("KEYHOOK_STRIPE_SOURCE_IPS").ok().as_deref(),
            )?,
        })
    }
}

/// A configuration read from the environment is a deployment's (a Lambda function, `keyhook
/// serve`, an operator's command), which must never send webhooks to loopback: asking for it
/// there is an error, not a setting quietly ignored. Only `keyhook dev` allows it.
fn refuse_loopback_webhooks(value: Option<&str>) -> Result<()> {
    match value.map(str::trim) {
        None | Some("") | Some("0") => Ok(()),
        Some(_) => Err(Error::internal(
            "KEYHOOK_ALLOW_LOOPBACK_WEBHOOKS is for `keyhook dev` only: a deployed Keyhook sends \
             webhooks to public addresses only (on Lambda, 127.0.0.1:9001 is the function's own \
             Runtime API); unset it",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deployment_refuses_to_start_with_loopback_webhooks() {
        assert!(refuse_loopback_webhooks(None).is_ok());
        assert!(refuse_loopback_webhooks(Some("")).is_ok());
        assert!(refuse_loopback_webhooks(Some("0")).is_ok());
        for on in ["1", "true", " 1 "] {
            let e = refuse_loopback_webhooks(Some(on)).unwrap_err().to_string();
            assert!(e.contains("KEYHOOK_ALLOW_LOOPBACK_WEBHOOKS"), "{e}");
        }
    }

    #[test]
    fn stripe_source_ips_default_to_stripe_and_refuse_anything_unknown() {
        assert_eq!(
            StripeSourceIps::parse(None).unwrap(),
            StripeSourceIps::Stripe
        );
        assert_eq!(
            StripeSourceIps::parse(Some("stripe")).unwrap(),
            StripeSourceIps::Stripe
        );
        assert_eq!(
            StripeSourceIps::parse(Some(" off ")).unwrap(),
            StripeSourceIps::Off
        );
        let e = StripeSourceIps::parse(Some("no")).unwrap_err().to_string();
        assert!(e.contains("KEYHOOK_STRIPE_SOURCE_IPS"), "{e}");
    }
}
