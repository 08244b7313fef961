//! What a buyer may see and do in the portal: the self-service cores (`handlers::self_service`,
//! `services::billing_portal`, `services::contact_change`) with this tenant's portal settings
//! and the buyer's address. The pages call only these, so every rule (whose license it is, the
//! 30-day free quota, the app's deactivation rule) is the core's, written once; each action is
//! recorded on the license as the customer's, from the buyer's IP.

use std::net::IpAddr;

use crate::domain::{License, Tenant};
use crate::handlers::admin::licenses::LicenseView;
use crate::handlers::self_service::{self as core, SelfServiceError};
use crate::handlers::validate::license_file::LicenseFileView;
use crate::services::billing_portal;
use crate::services::contact_change::{self, ContactChanged};
use crate::store::licenses::owned_by;
use crate::{Error, Result, Services};

/// The licenses of `tenant_id` whose owner address is `email`, newest first.
pub async fn licenses_of(s: &Services, tenant_id: &str, email: &str) -> Result<Vec<License>> {
    Ok(core::licenses_of(s, tenant_id, email).await?)
}

/// One license of the buyer (its key included, shown only when asked); another's, or another
/// tenant's, is not found.
pub async fn license_of(
    s: &Services,
    tenant_id: &str,
    email: &str,
    license_id: &str,
) -> Result<LicenseView> {
    Ok(core::license_of(s, tenant_id, email, license_id).await?)
}

/// One license of the buyer with how many more devices they may free on it now (one read).
pub async fn license_with_frees(
    s: &Services,
    tenant: &Tenant,
    email: &str,
    license_id: &str,
) -> Result<(LicenseView, u32)> {
    Ok(core::license_with_frees(
        s,
        &tenant.id,
        email,
        license_id,
        tenant.portal.frees_per_30_days,
    )
    .await?)
}

/// Frees a device within the merchant's self-service allowance (the app's deactivation rule,
/// the quota in the same write); past it, the page's message names the merchant's support.
pub async fn free_device(
    s: &Services,
    ip: Option<IpAddr>,
    tenant: &Tenant,
    email: &str,
    license_id: &str,
    device_id: &str,
) -> Result<u32> {
    let limit = tenant.portal.frees_per_30_days;
    match core::free_device(s, &tenant.id, email, license_id, device_id, ip, limit).await {
        Ok(left) => Ok(left),
        Err(SelfServiceError::Off | SelfServiceError::LimitReached { .. }) => {
            Err(Error::ConflictCode {
                code: "self_service_limit_reached",
                message: limit_message(tenant),
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// What the page says when no free is left (or freeing here is off).
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
        let n = p.frees_per_30_days;
        let devices = if n == 1 { "device" } else { "devices" };
        format!(
            "You have freed {n} {devices} in the last 30 days, the most this portal allows. {contact}"
        )
    }
}

/// A license file for a device already activated on the buyer's license.
pub async fn license_file(
    s: &Services,
    tenant: &Tenant,
    email: &str,
    license_id: &str,
    device_id: &str,
) -> Result<LicenseFileView> {
    Ok(core::license_file_for_device(s, &tenant.id, email, license_id, device_id).await?)
}

/// Emails the license's key again, to its owner address.
pub async fn resend_key(
    s: &Services,
    ip: Option<IpAddr>,
    tenant: &Tenant,
    email: &str,
    license_id: &str,
) -> Result<()> {
    core::resend_key(s, &tenant.id, email, license_id, ip).await?;
    Ok(())
}

/// Stripe's billing portal for the buyer's subscription: the URL to send them to (a bearer
/// credential for their billing: redirected to, never logged).
pub async fn billing_url(
    s: &Services,
    tenant: &Tenant,
    email: &str,
    license_id: &str,
) -> Result<String> {
    let license = s
        .store
        .get_tenant_license(&tenant.id, license_id)
        .await?
        .filter(|l| owned_by(l, email))
        .ok_or_else(|| Error::not_found("License"))?;
    Ok(billing_portal::create_session(s, &license).await?.url)
}

/// Asks to move the buyer's licenses with this tenant to `new_email`: a confirmation link goes
/// to that address; nothing changes until it is used.
pub async fn change_contact(
    s: &Services,
    tenant: &Tenant,
    email: &str,
    new_email: &str,
) -> Result<()> {
    contact_change::request(s, &tenant.id, email, new_email).await?;
    Ok(())
}

/// Confirms a change with its emailed link's token: the licenses move to the new address,
/// each move recorded as the customer's, from `ip`.
pub async fn confirm_contact(
    s: &Services,
    tenant: &Tenant,
    token: &str,
    ip: Option<IpAddr>,
) -> Result<ContactChanged> {
    Ok(contact_change::confirm(s, &tenant.id, token, ip).await?)
}
