//! Licenses: what a buyer holds. The key itself is stored only sealed; `key_hash` finds it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::ExpirationStart;
use crate::time::serde_ts;

/// The field a license key is sealed as (part of its associated data).
pub const KEY_SEAL_FIELD: &str = "licenseKey";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LicenseStatus {
    Active,
    Suspended,
    Revoked,
    Expired,
}

impl LicenseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LicenseStatus::Active => "active",
            LicenseStatus::Suspended => "suspended",
            LicenseStatus::Revoked => "revoked",
            LicenseStatus::Expired => "expired",
        }
    }
}

/// Where the license email stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmailStatus {
    Pending,
    Sent,
    Failed,
    /// The product does not email keys (Auto Email off).
    Disabled,
}

impl EmailStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EmailStatus::Pending => "pending",
            EmailStatus::Sent => "sent",
            EmailStatus::Failed => "failed",
            EmailStatus::Disabled => "disabled",
        }
    }
}

/// The Stripe objects a license came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LicenseSource {
    pub stripe_app_id: Option<String>,
    pub event_id: Option<String>,
    pub checkout_session_id: Option<String>,
    pub payment_intent_id: Option<String>,
    pub invoice_id: Option<String>,
    pub subscription_id: Option<String>,
}

/// A device activated on a license.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub device_id: String,
    pub device_name: Option<String>,
    #[serde(with = "serde_ts")]
    #[schemars(with = "String")]
    pub activated_at: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct License {
    pub id: String,
    pub tenant_id: String,
    /// SHA-256 of the canonical key, hex.
    pub key_hash: String,
    /// The key sealed under the tenant key (bound to this license id).
    pub key_sealed: String,
    pub product_id: String,
    pub status: LicenseStatus,
    pub customer_email: Option<String>,
    pub customer_name: Option<String>,
    #[serde(with = "serde_ts::option", default)]
    pub expires_at: Option<OffsetDateTime>,
    /// From this time the license counts as suspended (a subscription whose renewal failed,
    /// after its grace period); cleared when the payment comes through.
    #[serde(with = "serde_ts::option", default)]
    pub suspend_at: Option<OffsetDateTime>,
    pub expiration_start: ExpirationStart,
    /// Length of the license when its clock starts at activation (None = perpetual).
    pub license_days: Option<u32>,
    pub max_devices: u32,
    pub max_ips: u32,
    #[serde(default)]
    pub devices: Vec<Device>,
    pub source: LicenseSource,
    /// The purchase that issued it (`cs_…`, `pi_…`, `in_…`, or `manual_…`).
    pub purchase_ref: Option<String>,
    pub email_status: EmailStatus,
    /// Other products this license validates for (a Stripe Product listing several products,
    /// sold as one license); `product_id` is the first of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_product_ids: Vec<String>,
    /// The id the license had in the system it was imported from (`POST /api/licenses/import`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Whether the payment that issued it was live (`false`: Stripe test mode). `None` on items
    /// written before Keyhook recorded the mode; see [`License::recorded_livemode`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub livemode: Option<bool>,
    /// Floating terms of this license, overriding its product's (`None`: the product's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_borrow_seconds: Option<u32>,
    #[serde(with = "serde_ts")]
    pub created_at: OffsetDateTime,
    #[serde(with = "serde_ts")]
    pub updated_at: OffsetDateTime,
}

impl License {
    /// Whether the license validates for `product_id`.
    pub fn covers(&self, product_id: &str) -> bool {
        self.product_id == product_id || self.also_product_ids.iter().any(|p| p == product_id)
    }

    /// Every product the license validates for, its own first.
    pub fn product_ids(&self) -> Vec<String> {
        std::iter::once(self.product_id.clone())
            .chain(self.also_product_ids.iter().cloned())
            .collect()
    }

    /// The mode as far as the license item itself tells: recorded, else read from a Checkout
    /// Session id (`cs_test_…`/`cs_live_…`). `None` when neither says (a license issued before
    /// the mode was recorded, from a payment intent or invoice): validation then asks the
    /// issuing Stripe app (`handlers::validate::license`).
    pub fn recorded_livemode(&self) -> Option<bool> {
        self.livemode.or_else(|| {
            let session = self.source.checkout_session_id.as_deref()?;
            if session.starts_with("cs_test_") {
                Some(false)
            } else if session.starts_with("cs_live_") {
                Some(true)
            } else {
                None
            }
        })
    }

    /// The status at `now`: a stored `active` turns `suspended` after `suspend_at` and
    /// `expired` after `expires_at`.
    pub fn status_at(&self, now: OffsetDateTime) -> LicenseStatus {
        match self.status {
            LicenseStatus::Active if self.suspend_at.is_some_and(|t| t <= now) => {
                LicenseStatus::Suspended
            }
            LicenseStatus::Active if self.expires_at.is_some_and(|t| t <= now) => {
                LicenseStatus::Expired
            }
            other => other,
        }
    }
}
