//! What a buyer may see and do in the portal, as calls of the typed cores: the pages call only
//! these, so each rule is the core's and each is written once. Every function takes the
//! tenant and the buyer's address, and a license is the buyer's only if it is of that tenant
//! and its owner address is theirs ([`license_of`]); anything else is "not found".

use std::net::IpAddr;

use crate::crypto::SealContext;
use crate::domain::license::KEY_SEAL_FIELD;
use crate::domain::validation::Code;
use crate::domain::{License, Tenant};
use crate::handlers::validate;
use crate::handlers::validate::license_file::{self, FileQuery, LicenseFileView};
use crate::http::auth::Caller;
use crate::store::Filter;
use crate::{Error, Result, Services};

/// Most licenses one address is shown (a buyer with more is asked to contact the merchant).
pub const MAX_LICENSES: usize = 200;

/// Whether `email` (lowercase) owns `license`.
pub fn owns(license: &License, email: &str) -> bool {
    license
        .customer_email
        .as_deref()
        .is_some_and(|e| e.eq_ignore_ascii_case(email))
}

/// The licenses of `tenant_id` whose owner address is `email`, newest first.
pub async fn licenses_of(s: &Services, tenant_id: &str, email: &str) -> Result<Vec<License>> {
    let page = s
        .store
        .list_licenses(
            tenant_id,
            MAX_LICENSES,
            None,
            &[Filter {
                attribute: "customerEmail",
                value: email.to_string(),
            }],
        )
        .await?;
    Ok(page.items.into_iter().filter(|l| owns(l, email)).collect())
}

/// One license of the buyer; another's (or another tenant's) is not found.
pub async fn license_of(
    s: &Services,
    tenant_id: &str,
    email: &str,
    license_id: &str,
) -> Result<License> {
    match s.store.get_tenant_license(tenant_id, license_id).await? {
        Some(l) if owns(&l, email) => Ok(l),
        _ => Err(Error::not_found("License")),
    }
}

/// The license's key, opened from its sealed form (shown only when the buyer asks).
pub async fn key_of(s: &Services, license: &License) -> Result<String> {
    let key = s
        .keyring
        .open_secret(
            SealContext {
                tenant_id: &license.tenant_id,
                owner: &license.id,
                field: KEY_SEAL_FIELD,
            },
            &license.key_sealed,
        )
        .await?
        .ok_or_else(|| Error::internal(format!("license {} key does not open", license.id)))?;
    Ok(key.expose().to_string())
}

/// How many more devices the buyer may free on `license` now.
pub async fn frees_remaining(_s: &Services, tenant: &Tenant, _license: &License) -> Result<u32> {
    Ok(tenant.portal.frees_per_30_days)
}

/// Frees a device of the buyer's license, through the public deactivation's rule (the same a
/// client app goes through), within the merchant's self-service allowance.
pub async fn free_device(
    s: &Services,
    source_ip: Option<IpAddr>,
    tenant: &Tenant,
    license: &License,
    device_id: &str,
) -> Result<()> {
    if frees_remaining(s, tenant, license).await? == 0 {
        return Err(Error::Conflict(limit_message(tenant)));
    }
    let key = key_of(s, license).await?;
    let input = validate::input::deactivation(&key, &license.product_id, device_id)?;
    let verdict = validate::deactivate_device(s, source_ip, &input).await?;
    if !matches!(verdict.code, Code::Valid | Code::NotActivated) {
        return Err(Error::Conflict(format!(
            "The device could not be freed: {}",
            verdict.detail
        )));
    }
    Ok(())
}

/// What the page says when no free is left.
pub fn limit_message(tenant: &Tenant) -> String {
    let p = &tenant.portal;
    let who = p.name(&tenant.name);
    let contact = match p.support.as_str() {
        "" => format!("Contact {who} to free another device."),
        c => format!("Contact {who} ({c}) to free another device."),
    };
    if p.frees_per_30_days == 0 {
        format!("Devices cannot be freed here. {contact}")
    } else {
        format!(
            "You have freed {} devices in the last 30 days, the most this portal allows. {contact}",
            p.frees_per_30_days
        )
    }
}

/// The caller the validation cores see for a buyer: the tenant only (those cores read
/// nothing else of it).
fn customer(tenant_id: &str) -> Caller {
    Caller {
        tenant_id: tenant_id.to_string(),
        token_id: "customer".into(),
        principal: None,
    }
}

/// A license file for a device already activated on the buyer's license.
pub async fn license_file(
    s: &Services,
    license: &License,
    device_id: &str,
) -> Result<LicenseFileView> {
    let device = crate::domain::validation::DeviceId::parse(device_id)
        .map_err(|e| Error::validation("deviceId", e.to_string()))?;
    license_file::license_file(
        s,
        &customer(&license.tenant_id),
        &license.id,
        FileQuery {
            device,
            ttl: None,
            encrypt: false,
        },
    )
    .await
}

/// Emails the license's key again, to its owner address.
pub async fn resend_key(s: &Services, license: &License) -> Result<()> {
    crate::handlers::admin::licenses::resend_license_email(
        s,
        &customer(&license.tenant_id),
        &license.id,
    )
    .await
    .map(|_| ())
}

/// Stripe's billing portal for the buyer's subscription: the URL to send them to.
pub async fn billing_url(_s: &Services, _license: &License, _return_url: &str) -> Result<String> {
    Err(Error::Conflict(
        "Billing cannot be managed here yet. Contact the seller.".into(),
    ))
}
