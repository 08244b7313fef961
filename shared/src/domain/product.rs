//! Products a merchant sells, and how their licenses behave.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::time::serde_ts;

/// When a time-limited license starts its clock.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ExpirationStart {
    #[default]
    Creation,
    Activation,
}

/// What a paid subscription cycle does to licenses.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RenewalMode {
    /// A new key every paid cycle (ExisOne).
    #[default]
    NewKey,
    /// One key whose expiry follows the paid period (Lukittu).
    Extend,
}

/// What a refund or dispute does to the purchase's licenses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChargebackAction {
    Revoke,
    Suspend,
    /// Leave the licenses as they are.
    Ignore,
}

/// Grace after a failed renewal before a subscription's licenses are suspended.
pub const DEFAULT_GRACE_DAYS: u32 = 3;

fn default_grace_days() -> u32 {
    DEFAULT_GRACE_DAYS
}

fn default_refund_action() -> ChargebackAction {
    ChargebackAction::Revoke
}

fn default_dispute_action() -> ChargebackAction {
    ChargebackAction::Suspend
}

/// Default lifetime of a license file (`POST /api/licenses/checkout` without `ttl`): 7 days.
pub const DEFAULT_FILE_TTL_SECONDS: u32 = 7 * 86_400;
/// Default longest lifetime a license file may be asked for: 30 days.
pub const DEFAULT_FILE_MAX_TTL_SECONDS: u32 = 30 * 86_400;
/// Shortest lifetime of a license file: 1 hour.
pub const MIN_FILE_TTL_SECONDS: u32 = 3_600;
/// Longest lifetime any product may allow: 366 days. Retired signing keys stay published this
/// long, so every file they signed verifies until it expires.
pub const MAX_FILE_TTL_SECONDS: u32 = 366 * 86_400;

fn default_file_ttl() -> u32 {
    DEFAULT_FILE_TTL_SECONDS
}

fn default_file_max_ttl() -> u32 {
    DEFAULT_FILE_MAX_TTL_SECONDS
}

/// A product's own email; placeholders `{{ActivationKey}}`, `{{ProductName}}`,
/// `{{CustomerEmail}}`, `{{PaymentProcessorCustomerName}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmailTemplate {
    pub subject: String,
    pub html: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    /// Short numeric string, unique across the deployment ("42").
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    /// Decimal string in the app's currency ("29.99").
    pub price: String,
    pub auto_email: bool,
    /// 0 = perpetual.
    pub default_license_days: u32,
    pub trial_days: u32,
    /// 0 = unlimited.
    pub max_devices: u32,
    /// 0 = unlimited.
    pub max_ips: u32,
    pub expiration_start: ExpirationStart,
    pub renewal_mode: RenewalMode,
    pub email_template: Option<EmailTemplate>,
    /// Archived products keep their licenses but cannot be sold.
    #[serde(default)]
    pub archived: bool,
    /// Days a subscription license keeps working after a renewal fails (and past the period
    /// end, so a renewal paid a little late never interrupts it).
    #[serde(default = "default_grace_days")]
    pub grace_days: u32,
    /// What a full refund does to the purchase's licenses (default: revoke).
    #[serde(default = "default_refund_action")]
    pub refund_action: ChargebackAction,
    /// What a dispute does to the purchase's licenses (default: suspend).
    #[serde(default = "default_dispute_action")]
    pub dispute_action: ChargebackAction,
    /// Whether licenses from test-mode payments validate for apps that did not say
    /// `"environment": "test"` (default: no).
    #[serde(default)]
    pub accept_test_licenses: bool,
    /// Features the product grants, as the merchant names them; carried in license files.
    #[serde(default)]
    pub entitlements: Vec<String>,
    /// Lifetime of a license file when the app asks for none, in seconds.
    #[serde(default = "default_file_ttl")]
    pub license_file_ttl: u32,
    /// Longest lifetime an app may ask a license file for, in seconds.
    #[serde(default = "default_file_max_ttl")]
    pub license_file_max_ttl: u32,
    #[serde(with = "serde_ts")]
    pub created_at: OffsetDateTime,
    #[serde(with = "serde_ts")]
    pub updated_at: OffsetDateTime,
}

impl Product {
    /// A new product with Keyhook's defaults: free, perpetual, no limits, no trial, Auto Email
    /// on, a new key per renewal, grace and chargeback actions as documented.
    pub fn new(
        id: impl Into<String>,
        tenant_id: impl Into<String>,
        name: impl Into<String>,
        now: OffsetDateTime,
    ) -> Self {
        Product {
            id: id.into(),
            tenant_id: tenant_id.into(),
            name: name.into(),
            price: "0".into(),
            auto_email: true,
            default_license_days: 0,
            trial_days: 0,
            max_devices: 0,
            max_ips: 0,
            expiration_start: ExpirationStart::Creation,
            renewal_mode: RenewalMode::NewKey,
            email_template: None,
            archived: false,
            grace_days: DEFAULT_GRACE_DAYS,
            refund_action: default_refund_action(),
            dispute_action: default_dispute_action(),
            accept_test_licenses: false,
            entitlements: Vec::new(),
            license_file_ttl: DEFAULT_FILE_TTL_SECONDS,
            license_file_max_ttl: DEFAULT_FILE_MAX_TTL_SECONDS,
            created_at: now,
            updated_at: now,
        }
    }
}
