//! Products a merchant sells, and how their licenses behave.

use std::collections::BTreeMap;

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

/// What a Stripe Product whose `product_id` metadata lists several Keyhook products issues
/// (decided by the first listed product).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ListedProducts {
    /// One license per listed product, each with its own product's days, limits and email
    /// (the default: nothing changes for merchants who sell bundles as separate keys).
    #[default]
    Separate,
    /// One license that validates for every listed product (Lukittu's license with several
    /// products); the first listed product's settings apply to it.
    OneLicense,
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
/// `{{CustomerEmail}}`, `{{PaymentProcessorCustomerName}}`, `{{portal_url}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("anyOf" = [
    {"properties": {"html": {"pattern": "\\{\\{ActivationKey\\}\\}"}}},
    {"properties": {"text": {"pattern": "\\{\\{ActivationKey\\}\\}"}}}
]))]
pub struct EmailTemplate {
    #[schemars(extend("pattern" = crate::domain::patterns::NON_BLANK, "maxLength" = 500))]
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
    /// Decimal string in the currency of the app that sells it ("29.99").
    pub price: String,
    /// Explicit prices in other currencies, by lowercase code (`{"eur": "27.00"}`). A checkout
    /// in a currency other than the app's sells only at one of these: a price is a price in
    /// one currency, never the same number in another.
    #[serde(default)]
    pub prices: BTreeMap<String, String>,
    pub auto_email: bool,
    /// How long a license runs. `None` (not set): the purchase's metadata decides
    /// (`planId`, `expiration_days`), else perpetual. `Some(0)`: perpetual, whatever the
    /// metadata says (ExisOne's rule). Stored products always carry a number, so they read as
    /// `Some(n)` and behave as before this became optional.
    #[serde(default)]
    pub default_license_days: Option<u32>,
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
    /// Other names of this product in Stripe metadata (`productId` / `product_id`), such as
    /// the ids a merchant's previous licensing service gave it; unique per tenant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_ids: Vec<String>,
    /// What a Stripe Product listing several products issues, when this one is listed first.
    #[serde(default)]
    pub listed_products: ListedProducts,
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
    /// The Stripe Payment Links Keyhook made for this product, one per Stripe app at most.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub payment_links: Vec<ProductPaymentLink>,
    /// Bumped by every write of the product's item, each conditional on the version it read
    /// (`store::products`), so that a save never silently undoes a concurrent one. Items
    /// written before versions existed read as 0.
    #[serde(default)]
    pub version: u64,
    /// Floating licenses: how many devices may hold a lease at once (`None`: not floating).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
    /// A lease lapses this long after its last heartbeat (10 to 86,400; default 900).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_seconds: Option<u32>,
    /// Longest a lease may be borrowed for offline use, in seconds (`None`/0: no borrowing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_borrow_seconds: Option<u32>,
    /// Usage limits (`domain::validation::meters`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub meters: Vec<crate::domain::validation::meters::Meter>,
    #[serde(with = "serde_ts")]
    pub created_at: OffsetDateTime,
    #[serde(with = "serde_ts")]
    pub updated_at: OffsetDateTime,
}

/// A Stripe Payment Link that sells a product through one Stripe app ("Create a payment
/// link"): the Stripe objects it is made of and what it charges, so a second request returns
/// it unless the charge changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductPaymentLink {
    pub app_id: String,
    pub livemode: bool,
    /// `plink_…`.
    pub payment_link_id: String,
    /// The shareable URL.
    pub url: String,
    /// `prod_…`.
    pub stripe_product_id: String,
    /// `price_…`.
    pub stripe_price_id: String,
    /// `payment` (one-time, the product's price) or `subscription` (a mapped recurring price).
    pub mode: String,
    pub currency: String,
    /// In the currency's minor unit; `null` for a tiered Stripe price.
    pub unit_amount: Option<i64>,
    /// The price mapping whose recurring price a subscription link sells.
    #[serde(default)]
    pub price_mapping_id: Option<String>,
    /// How many links were made for this product and app before this one (part of the
    /// idempotency keys, so a replacement is a new link, and a retry the same one).
    #[serde(default)]
    pub generation: u32,
    #[serde(with = "serde_ts")]
    #[schemars(with = "String")]
    pub created_at: OffsetDateTime,
}

impl Product {
    /// The payment link made for `app_id`, if any.
    pub fn payment_link(&self, app_id: &str) -> Option<&ProductPaymentLink> {
        self.payment_links.iter().find(|l| l.app_id == app_id)
    }

    /// The product's price in `currency`, sold through an app whose currency is
    /// `app_currency`: the explicit price in that currency, else `price` when the currency is
    /// the app's; `None` when the product has no price in it.
    pub fn price_in(&self, currency: &str, app_currency: &str) -> Option<&str> {
        match self.prices.get(currency) {
            Some(p) => Some(p),
            None if currency == app_currency => Some(&self.price),
            None => None,
        }
    }

    /// A new product with Keyhook's defaults: free, no default duration (the metadata decides,
    /// else perpetual), no limits, no trial, Auto Email on, a new key per renewal, grace and
    /// chargeback actions as documented.
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
            prices: BTreeMap::new(),
            auto_email: true,
            default_license_days: None,
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
            external_ids: Vec::new(),
            listed_products: ListedProducts::Separate,
            accept_test_licenses: false,
            entitlements: Vec::new(),
            license_file_ttl: DEFAULT_FILE_TTL_SECONDS,
            license_file_max_ttl: DEFAULT_FILE_MAX_TTL_SECONDS,
            payment_links: Vec::new(),
            version: 0,
            max_concurrent: None,
            lease_seconds: None,
            max_borrow_seconds: None,
            meters: Vec::new(),
            created_at: now,
            updated_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_price_is_a_price_in_one_currency() {
        let mut p = crate::domain::fixtures::product();
        p.price = "29.99".into();
        p.prices.insert("eur".into(), "27.00".into());
        assert_eq!(p.price_in("usd", "usd"), Some("29.99"));
        assert_eq!(p.price_in("eur", "usd"), Some("27.00"));
        assert_eq!(p.price_in("mxn", "usd"), None, "29.99 is not 29.99 MXN");
        // Sold through a euro app, the explicit euro price wins over `price`.
        assert_eq!(p.price_in("eur", "eur"), Some("27.00"));
        assert_eq!(p.price_in("usd", "eur"), None);
    }

    /// A product as stored before `defaultLicenseDays` could be unset, or aliases existed.
    fn stored(days: serde_json::Value) -> Product {
        let mut item = json!({
            "id": "42", "tenantId": "ten_a", "name": "Pro", "price": "29.99", "autoEmail": true,
            "trialDays": 0, "maxDevices": 0, "maxIps": 0, "expirationStart": "creation",
            "renewalMode": "new_key", "emailTemplate": null,
            "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-01-01T00:00:00Z"
        });
        if !days.is_null() {
            item["defaultLicenseDays"] = days;
        }
        serde_json::from_value(item).unwrap()
    }

    #[test]
    fn stored_products_read_as_before() {
        assert_eq!(
            stored(json!(0)).default_license_days,
            Some(0),
            "still perpetual"
        );
        assert_eq!(stored(json!(365)).default_license_days, Some(365));
        assert_eq!(stored(serde_json::Value::Null).default_license_days, None);
        let p = stored(json!(0));
        assert!(p.external_ids.is_empty());
        assert_eq!(p.listed_products, ListedProducts::Separate);
        assert_eq!(
            Product::new("1", "t", "n", OffsetDateTime::UNIX_EPOCH).default_license_days,
            None,
            "new products leave the duration to the metadata"
        );
    }
}
