//! A merchant's Stripe account as registered with Keyhook ("Stripe app"), with its secrets
//! sealed under the tenant key (see `crypto::seal`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::time::serde_ts;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StripeApp {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub publishable_key: Option<String>,
    /// Sealed `sk_…`/`rk_…` key.
    pub secret_key_sealed: Option<String>,
    /// Sealed `whsec_…` signing secret.
    pub webhook_secret_sealed: Option<String>,
    /// Sealed previous signing secret, accepted during a roll.
    pub previous_webhook_secret_sealed: Option<String>,
    pub default_currency: String,
    pub is_live: bool,
    pub active: bool,
    pub is_default: bool,
    #[serde(with = "serde_ts")]
    pub created_at: OffsetDateTime,
    #[serde(with = "serde_ts")]
    pub updated_at: OffsetDateTime,
}

/// The contract's readiness of an app, computed from whether its secrets actually decrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppStatus {
    Ready,
    Partial,
    NotConfigured,
}

impl AppStatus {
    pub fn from_decryptable(secret_key: bool, webhook_secret: bool) -> Self {
        match (secret_key, webhook_secret) {
            (true, true) => AppStatus::Ready,
            (true, false) => AppStatus::Partial,
            (false, _) => AppStatus::NotConfigured,
        }
    }
}

/// Names of the sealed fields of an app (part of each value's associated data).
pub mod fields {
    pub const SECRET_KEY: &str = "secretKey";
    pub const WEBHOOK_SECRET: &str = "webhookSigningSecret";
    pub const PREVIOUS_WEBHOOK_SECRET: &str = "previousWebhookSigningSecret";
}
