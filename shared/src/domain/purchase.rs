//! A purchase: one Stripe checkout session, payment intent or invoice, and what it issues.
//! Its record is the idempotency anchor: a purchase issues its keys exactly once, however many
//! events arrive for it.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::domain::license::{EmailStatus, License, LicenseSource, LicenseStatus};
use crate::domain::{ExpirationStart, LicenseKey, Plan, Product};
use crate::time::serde_ts;

/// DynamoDB allows 100 actions per transaction; issuance writes the purchase record, the event
/// log entry and one item per license, so one purchase issues at most 98 licenses.
pub const MAX_LICENSES_PER_PURCHASE: u32 = 98;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Purchase {
    /// The Stripe object id that identifies the purchase (`cs_…`, `pi_…`, `in_…`).
    pub purchase_ref: String,
    pub tenant_id: String,
    /// The Stripe app it came through (none for licenses an admin issued by hand).
    pub app_id: Option<String>,
    /// The Stripe event that issued it (none for licenses an admin issued by hand).
    pub event_id: Option<String>,
    pub license_ids: Vec<String>,
    pub product_ids: Vec<String>,
    pub customer_email: Option<String>,
    pub customer_name: Option<String>,
    pub email_status: EmailStatus,
    /// While a mailer holds the send, until when (claims expire so a crashed mailer is retried).
    #[serde(
        with = "serde_ts::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub email_claim_until: Option<OffsetDateTime>,
    /// Whether the payment was live (`false`: Stripe test mode); `None` on records written
    /// before Keyhook recorded the mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub livemode: Option<bool>,
    #[serde(with = "serde_ts")]
    pub created_at: OffsetDateTime,
}

/// The buyer, as Stripe describes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Customer {
    pub email: Option<String>,
    pub name: Option<String>,
}

/// How many days a new license runs: `None` is perpetual.
///
/// The rule (from the ExisOne guide, extended to Lukittu's `expiration_days`): a perpetual
/// product (0 default days) overrides any incoming days; otherwise an explicit plan's days
/// override everything else (a plan of 0 days is perpetual), then the Stripe Product's
/// `expiration_days`, then the product default.
pub fn license_days(
    product: &Product,
    plan: Option<&Plan>,
    expiration_days: Option<u32>,
) -> Option<u32> {
    if product.default_license_days == 0 {
        return None;
    }
    match (plan, expiration_days) {
        (Some(p), _) if p.days == 0 => None,
        (Some(p), _) => Some(p.days),
        (None, Some(0)) => None,
        (None, Some(d)) => Some(d),
        (None, None) => Some(product.default_license_days),
    }
}

/// What to issue for one product of a purchase.
pub struct LicenseOrder<'a> {
    pub product: &'a Product,
    pub days: Option<u32>,
    /// When the clock starts (the product's, unless the Stripe Product's metadata says).
    pub expiration_start: ExpirationStart,
    pub customer: &'a Customer,
    pub source: LicenseSource,
    pub purchase_ref: Option<String>,
    /// Whether the payment was live.
    pub livemode: bool,
}

impl LicenseOrder<'_> {
    /// A new license and its key. `seal` turns the key into its stored ciphertext (bound to
    /// the license id it is given).
    pub fn new_license(
        &self,
        now: OffsetDateTime,
        seal: impl FnOnce(&str, &LicenseKey) -> String,
    ) -> (License, LicenseKey) {
        let key = LicenseKey::generate();
        let id = key.license_id();
        let key_sealed = seal(&id, &key);
        let expires_at = match (self.expiration_start, self.days) {
            (_, None) => None,
            (ExpirationStart::Activation, Some(_)) => None,
            (ExpirationStart::Creation, Some(days)) => Some(now + Duration::days(days as i64)),
        };
        let license = License {
            id,
            tenant_id: self.product.tenant_id.clone(),
            key_hash: hex::encode(key.lookup_hash()),
            key_sealed,
            product_id: self.product.id.clone(),
            status: LicenseStatus::Active,
            customer_email: self.customer.email.clone(),
            customer_name: self.customer.name.clone(),
            expires_at,
            suspend_at: None,
            expiration_start: self.expiration_start,
            license_days: self.days,
            max_devices: self.product.max_devices,
            max_ips: self.product.max_ips,
            devices: Vec::new(),
            source: self.source.clone(),
            purchase_ref: self.purchase_ref.clone(),
            email_status: if self.product.auto_email {
                EmailStatus::Pending
            } else {
                EmailStatus::Disabled
            },
            livemode: Some(self.livemode),
            created_at: now,
            updated_at: now,
        };
        (license, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(days: u32, start: ExpirationStart) -> Product {
        let mut p = crate::domain::fixtures::product();
        p.default_license_days = days;
        p.expiration_start = start;
        p.max_devices = 3;
        p
    }

    fn plan(days: u32) -> Plan {
        Plan {
            id: "pln_1".into(),
            tenant_id: "ten_a".into(),
            product_id: "42".into(),
            name: "x".into(),
            days,
            created_at: crate::time::now(),
            updated_at: crate::time::now(),
        }
    }

    #[test]
    fn perpetual_product_overrides_plan_days() {
        assert_eq!(
            license_days(
                &product(0, ExpirationStart::Creation),
                Some(&plan(30)),
                Some(7)
            ),
            None
        );
    }

    #[test]
    fn plan_days_override_product_default() {
        let p = product(365, ExpirationStart::Creation);
        assert_eq!(license_days(&p, Some(&plan(30)), Some(7)), Some(30));
        assert_eq!(license_days(&p, None, None), Some(365));
        assert_eq!(
            license_days(&p, None, Some(7)),
            Some(7),
            "Lukittu expiration_days"
        );
        assert_eq!(license_days(&p, Some(&plan(0)), None), None);
    }

    #[test]
    fn new_license_expires_from_creation_or_waits_for_activation() {
        let now = crate::time::now();
        let customer = Customer::default();
        let p = product(30, ExpirationStart::Creation);
        let order = LicenseOrder {
            product: &p,
            days: Some(30),
            expiration_start: ExpirationStart::Creation,
            customer: &customer,
            source: LicenseSource::default(),
            purchase_ref: None,
            livemode: true,
        };
        let (l, key) = order.new_license(now, |id, _| format!("sealed-for-{id}"));
        assert_eq!(l.expires_at, Some(now + Duration::days(30)));
        assert_eq!(l.id, key.license_id());
        assert_eq!(l.key_sealed, format!("sealed-for-{}", l.id));
        assert_eq!(l.max_devices, 3);

        let p = product(30, ExpirationStart::Activation);
        let order = LicenseOrder {
            product: &p,
            expiration_start: ExpirationStart::Activation,
            ..order
        };
        let (l, _) = order.new_license(now, |_, _| String::new());
        assert_eq!(l.expires_at, None);
        assert_eq!(l.license_days, Some(30));
    }
}
