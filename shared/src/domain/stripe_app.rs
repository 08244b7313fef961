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
    /// What Keyhook knows of the app's Stripe side (account, endpoint, last check).
    #[serde(default, flatten)]
    pub link: StripeLink,
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

/// What Keyhook knows of an app's Stripe side. Stored flat on the app (older apps have none
/// of these attributes: all default).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StripeLink {
    /// The Stripe account (`acct_…`) the secret key belongs to, as Stripe said.
    #[serde(default)]
    pub stripe_account_id: Option<String>,
    /// The webhook endpoint (`we_…`) Keyhook created in that account; none on the manual path.
    #[serde(default)]
    pub webhook_endpoint_id: Option<String>,
    /// When the last check with Stripe ran, and what it found ([`AppCheck`]s about the key and
    /// the endpoint; the local ones are computed when shown).
    #[serde(default, with = "serde_ts::option")]
    pub checked_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub checks: Vec<AppCheck>,
    /// When an event Stripe sent for this app last verified with its signing secret (noted at
    /// most once per [`VERIFIED_EVENT_NOTE_EVERY`]).
    #[serde(default, with = "serde_ts::option")]
    pub last_verified_event_at: Option<OffsetDateTime>,
}

/// How often a verified event's time is written on its app (a write per event would cost a
/// write per sale).
pub const VERIFIED_EVENT_NOTE_EVERY: time::Duration = time::Duration::hours(1);

/// What one check of an app is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckCode {
    /// Stripe accepts the secret key (and could be asked).
    SecretKey,
    /// The webhook endpoint exists in Stripe, at the app's own URL (or can be made).
    WebhookEndpoint,
    /// The endpoint is enabled.
    EndpointEnabled,
    /// The endpoint subscribes to every event type Keyhook handles.
    EndpointEvents,
    /// A webhook signing secret is stored and opens.
    SigningSecret,
    /// An event signed by Stripe verified with that secret.
    VerifiedEvent,
}

/// One check of an app: what, whether it passed, and in words what it found (and, when it
/// failed, what to do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppCheck {
    pub code: CheckCode,
    pub ok: bool,
    pub message: String,
    /// `POST /api/stripe/apps/{appId}/repair` can fix it (a missing, disabled or outdated
    /// endpoint, or a missing secret, when the key may manage endpoints).
    #[serde(default)]
    pub repairable: bool,
}

impl AppCheck {
    pub fn ok(code: CheckCode, message: impl Into<String>) -> Self {
        AppCheck {
            code,
            ok: true,
            message: message.into(),
            repairable: false,
        }
    }

    pub fn failed(code: CheckCode, message: impl Into<String>, repairable: bool) -> Self {
        AppCheck {
            code,
            ok: false,
            message: message.into(),
            repairable,
        }
    }
}

/// The contract's readiness of an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppStatus {
    Ready,
    Partial,
    NotConfigured,
}

impl AppStatus {
    /// Not configured without a secret key that opens; Ready when every check passed (so never
    /// before Stripe was asked); else Partial.
    pub fn from_checks(secret_key: bool, checks: &[AppCheck]) -> Self {
        if !secret_key {
            AppStatus::NotConfigured
        } else if !checks.is_empty() && checks.iter().all(|c| c.ok) {
            AppStatus::Ready
        } else {
            AppStatus::Partial
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
    fn ready_only_when_every_check_passed() {
        let ok = AppCheck::ok(CheckCode::SecretKey, "accepted");
        let bad = AppCheck::failed(CheckCode::VerifiedEvent, "none yet", false);
        assert_eq!(
            AppStatus::from_checks(false, std::slice::from_ref(&ok)),
            AppStatus::NotConfigured
        );
        assert_eq!(AppStatus::from_checks(true, &[]), AppStatus::Partial);
        assert_eq!(
            AppStatus::from_checks(true, &[ok.clone(), bad]),
            AppStatus::Partial
        );
        assert_eq!(AppStatus::from_checks(true, &[ok]), AppStatus::Ready);
    }

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
