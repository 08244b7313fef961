//! Test fixtures: a plain product and license for the domain's unit tests to adjust.

use time::OffsetDateTime;

use crate::domain::{EmailStatus, ExpirationStart, License, LicenseSource, LicenseStatus, Product};

/// Product "42" of tenant `ten_a`: perpetual, no limits, no trial, Auto Email on.
pub fn product() -> Product {
    let mut p = Product::new("42", "ten_a", "Pro", OffsetDateTime::UNIX_EPOCH);
    p.price = "29.99".into();
    p
}

/// An active, perpetual license `lic_1` of product "42", without limits or devices.
pub fn license() -> License {
    let now = OffsetDateTime::UNIX_EPOCH;
    License {
        id: "lic_1".into(),
        tenant_id: "ten_a".into(),
        key_hash: "h".into(),
        key_sealed: "s".into(),
        product_id: "42".into(),
        status: LicenseStatus::Active,
        customer_email: None,
        customer_name: None,
        expires_at: None,
        suspend_at: None,
        expiration_start: ExpirationStart::Creation,
        license_days: None,
        max_devices: 0,
        max_ips: 0,
        devices: Vec::new(),
        source: LicenseSource::default(),
        purchase_ref: None,
        email_status: EmailStatus::Sent,
        also_product_ids: Vec::new(),
        external_id: None,
        livemode: Some(true),
        max_concurrent: None,
        lease_seconds: None,
        max_borrow_seconds: None,
        created_at: now,
        updated_at: now,
    }
}
