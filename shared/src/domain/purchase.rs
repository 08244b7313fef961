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

/// Longest duration in days, from any source (admin fields, plans, Stripe metadata): about 270
/// years, which keeps every expiry a representable date.
pub const MAX_LICENSE_DAYS: u32 = 100_000;

/// `from + days`, or `None` when the date would not be representable.
pub fn days_after(from: OffsetDateTime, days: u32) -> Option<OffsetDateTime> {
    from.checked_add(Duration::days(i64::from(days)))
}

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
/// The precedence (docs/stripe-integration-guide.md has it as a table):
/// 1. a product whose `defaultLicenseDays` is 0 is perpetual, whatever comes in (ExisOne:
///    "perpetual overrides incoming days");
/// 2. else an explicit plan's days (a plan of 0 days is perpetual);
/// 3. else the Stripe Product's `expiration_days` (Lukittu; 0 is perpetual);
/// 4. else the product's `defaultLicenseDays`;
/// 5. else (not set) perpetual.
pub fn license_days(
    product: &Product,
    plan: Option<&Plan>,
    expiration_days: Option<u32>,
) -> Option<u32> {
    if product.default_license_days == Some(0) {
        return None;
    }
    let days = match (plan, expiration_days) {
        (Some(p), _) => Some(p.days),
        (None, Some(d)) => Some(d),
        (None, None) => product.default_license_days,
    };
    days.filter(|d| *d > 0)
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
    /// Other products the license validates for (one license for several products).
    pub also_product_ids: Vec<String>,
    /// Whether the payment was live.
    pub livemode: bool,
}

/// A duration that does not fit in a date (refused, never a panic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a license of {0} days would expire after the last representable date")]
pub struct DaysOutOfRange(pub u32);

impl LicenseOrder<'_> {
    /// A new license and its key. `seal` turns the key into its stored ciphertext (bound to
    /// the license id it is given).
    pub fn new_license(
        &self,
        now: OffsetDateTime,
        seal: impl FnOnce(&str, &LicenseKey) -> String,
    ) -> Result<(License, LicenseKey), DaysOutOfRange> {
        let expires_at = match (self.expiration_start, self.days) {
            (_, None) => None,
            (ExpirationStart::Activation, Some(days)) => {
                // Checked now, so the activation that starts the clock cannot overflow.
                days_after(now, days).ok_or(DaysOutOfRange(days))?;
                None
            }
            (ExpirationStart::Creation, Some(days)) => {
                Some(days_after(now, days).ok_or(DaysOutOfRange(days))?)
            }
        };
        let key = LicenseKey::generate();
        let id = key.license_id();
        let key_sealed = seal(&id, &key);
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
            also_product_ids: self.also_product_ids.clone(),
            external_id: None,
            livemode: Some(self.livemode),
            max_concurrent: None,
            lease_seconds: None,
            max_borrow_seconds: None,
            created_at: now,
            updated_at: now,
        };
        Ok((license, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(days: u32, start: ExpirationStart) -> Product {
        let mut p = crate::domain::fixtures::product();
        p.default_license_days = Some(days);
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
        assert_eq!(license_days(&p, None, Some(0)), None, "expiration_days 0");
    }

    #[test]
    fn an_unset_default_lets_the_metadata_decide_else_perpetual() {
        let mut p = product(0, ExpirationStart::Creation);
        p.default_license_days = None;
        assert_eq!(license_days(&p, None, Some(30)), Some(30), "Lukittu days");
        assert_eq!(license_days(&p, Some(&plan(7)), Some(30)), Some(7));
        assert_eq!(license_days(&p, None, None), None, "perpetual");
    }

    #[test]
    fn durations_past_the_last_date_are_refused_not_panics() {
        let now = crate::time::now();
        let customer = Customer::default();
        let p = product(30, ExpirationStart::Creation);
        for start in [ExpirationStart::Creation, ExpirationStart::Activation] {
            let order = LicenseOrder {
                product: &p,
                days: Some(u32::MAX),
                expiration_start: start,
                customer: &customer,
                source: LicenseSource::default(),
                purchase_ref: None,
                also_product_ids: Vec::new(),
                livemode: true,
            };
            assert_eq!(
                order.new_license(now, |_, _| String::new()).unwrap_err(),
                DaysOutOfRange(u32::MAX)
            );
        }
        assert!(days_after(now, MAX_LICENSE_DAYS).is_some());
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
            also_product_ids: Vec::new(),
            livemode: true,
        };
        let (l, key) = order
            .new_license(now, |id, _| format!("sealed-for-{id}"))
            .unwrap();
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
        let (l, _) = order.new_license(now, |_, _| String::new()).unwrap();
        assert_eq!(l.expires_at, None);
        assert_eq!(l.license_days, Some(30));
    }
}
