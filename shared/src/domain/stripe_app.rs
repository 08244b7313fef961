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
    /// Which Stripe Connect events the app accepts (none unless configured).
    #[serde(default)]
    pub connect: ConnectSettings,
    #[serde(with = "serde_ts")]
    pub created_at: OffsetDateTime,
    #[serde(with = "serde_ts")]
    pub updated_at: OffsetDateTime,
}

/// Stripe Connect: events about a connected account carry `account`. A platform's endpoint
/// receives them for every account connected to it, so an app takes them only when its
/// merchant says so; others are recorded `failed` (answered 200, so Stripe stops resending).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectSettings {
    /// Accept Connect events (default false).
    #[serde(default)]
    pub enabled: bool,
    /// When not empty, only events of these connected accounts (`acct_…`) are accepted.
    #[serde(default)]
    #[schemars(extend("maxItems" = ConnectSettings::MAX_ACCOUNTS, "items" = {"type": "string", "pattern": crate::domain::patterns::STRIPE_ACCOUNT_ID}))]
    pub account_ids: Vec<String>,
}

impl ConnectSettings {
    /// Most connected accounts an app can name.
    pub const MAX_ACCOUNTS: usize = 100;

    /// Whether an event for connected account `account` is accepted.
    pub fn accepts(&self, account: &str) -> bool {
        self.enabled
            && (self.account_ids.is_empty() || self.account_ids.iter().any(|a| a == account))
    }

    /// Why a Connect event for `account` is refused, if it is.
    pub fn refusal(&self, account: &str, app_id: &str) -> Option<String> {
        if self.accepts(account) {
            None
        } else if !self.enabled {
            Some(format!(
                "a Connect event (account {account}), but Stripe app {app_id} does not accept Connect events; set connect.enabled on the app if it should"
            ))
        } else {
            Some(format!(
                "a Connect event for account {account}, which is not in Stripe app {app_id}'s connect.accountIds"
            ))
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_events_are_accepted_only_as_configured() {
        let off = ConnectSettings::default();
        assert!(!off.accepts("acct_1"));
        assert!(off
            .refusal("acct_1", "app_1")
            .unwrap()
            .contains("does not accept"));
        let any = ConnectSettings {
            enabled: true,
            account_ids: vec![],
        };
        assert!(any.accepts("acct_1") && any.refusal("acct_1", "app_1").is_none());
        let some = ConnectSettings {
            enabled: true,
            account_ids: vec!["acct_1".into()],
        };
        assert!(some.accepts("acct_1"));
        assert!(!some.accepts("acct_2"));
        assert!(some
            .refusal("acct_2", "app_1")
            .unwrap()
            .contains("accountIds"));
    }
}
