//! What a buyer can do in the customer portal, without HTTP: the portal's pages call these
//! typed cores, the same the admin API's rules run through (no rule written twice). Every core
//! takes the tenant and the signed-in buyer's address and only ever touches that buyer's
//! licenses with that tenant: another buyer's license, or another tenant's, is `NotFound`.

use std::net::IpAddr;

use time::OffsetDateTime;

use crate::domain::activity::{Actor, Origin};
use crate::domain::self_service;
use crate::domain::validation::ips::client_ip_key;
use crate::domain::validation::{rules, Check, Decision, DeviceId, LicenseUsage};
use crate::domain::License;
use crate::handlers::admin::licenses::{self as admin_licenses, LicenseView, ResendView};
use crate::handlers::validate::license_file::{self, FileQuery, LicenseFileView};
use crate::store::license_usage::ChangeWrite;
use crate::store::licenses::{owned_by, EDIT_ATTEMPTS, EDIT_BACKOFF};
use crate::{Error, Services};

/// Why the portal refuses an action: each with a machine code and a message for the buyer.
#[derive(Debug, thiserror::Error)]
pub enum SelfServiceError {
    /// The merchant turned self-service freeing off (a limit of 0).
    #[error("Freeing devices yourself is turned off for this product; contact the seller.")]
    Off,
    /// The license's frees in the last 30 days reached the limit.
    #[error("You have freed {limit} devices on this license in the last 30 days, the most allowed; contact the seller.")]
    LimitReached {
        limit: u32,
        /// When the oldest free leaves the window.
        next_free_at: Option<OffsetDateTime>,
    },
    /// No such license for this buyer with this tenant (another buyer's included).
    #[error("No such license.")]
    NotFound,
    /// The device is not activated on the license.
    #[error("This device is not activated on the license.")]
    NotActivated,
    /// The license's device-change budget (against activation churn) is spent for now.
    #[error("Too many device changes on this license today; try again tomorrow.")]
    Throttled,
    /// Anything else (storage, a conflict the admin core reports).
    #[error(transparent)]
    Failed(#[from] Error),
}

impl SelfServiceError {
    /// The machine code (`Failed`: the underlying error's code).
    pub fn code(&self) -> &'static str {
        match self {
            SelfServiceError::Off => "SELF_SERVICE_OFF",
            SelfServiceError::LimitReached { .. } => "SELF_SERVICE_LIMIT_REACHED",
            SelfServiceError::NotFound => "NOT_FOUND",
            SelfServiceError::NotActivated => "NOT_ACTIVATED",
            SelfServiceError::Throttled => "RATE_LIMITED",
            SelfServiceError::Failed(e) => e.code(),
        }
    }
}

impl From<SelfServiceError> for Error {
    fn from(e: SelfServiceError) -> Error {
        let message = e.to_string();
        match e {
            SelfServiceError::Off => Error::ConflictCode {
                code: "self_service_off",
                message,
            },
            SelfServiceError::LimitReached { .. } => Error::ConflictCode {
                code: "self_service_limit_reached",
                message,
            },
            SelfServiceError::NotFound => Error::NotFound(message),
            SelfServiceError::NotActivated => Error::ConflictCode {
                code: "not_activated",
                message,
            },
            SelfServiceError::Throttled => Error::RateLimited(message),
            SelfServiceError::Failed(e) => e,
        }
    }
}

pub type Result<T> = std::result::Result<T, SelfServiceError>;

/// The buyer's licenses with the tenant, newest first (`gsi2`, by owner address).
pub async fn licenses_of(s: &Services, tenant_id: &str, buyer_email: &str) -> Result<Vec<License>> {
    Ok(s.store.buyer_licenses(tenant_id, buyer_email).await?)
}

/// One of the buyer's licenses as the admin API shows it (with its key, for "reveal").
pub async fn license_of(
    s: &Services,
    tenant_id: &str,
    buyer_email: &str,
    license_id: &str,
) -> Result<LicenseView> {
    let license = owned(s, tenant_id, buyer_email, license_id).await?.0;
    Ok(admin_licenses::view(s, license).await?)
}

/// One of the buyer's licenses as [`license_of`] gives it, with the frees left as
/// [`frees_remaining`] counts them: both from one read, for the license's page.
pub async fn license_with_frees(
    s: &Services,
    tenant_id: &str,
    buyer_email: &str,
    license_id: &str,
    limit: u32,
) -> Result<(LicenseView, u32)> {
    let (license, usage) = owned(s, tenant_id, buyer_email, license_id).await?;
    let remaining = self_service::remaining(&usage.self_service_frees, limit, crate::time::now());
    Ok((admin_licenses::view(s, license).await?, remaining))
}

/// How many devices the buyer may still free on the license (`limit` per 30 days).
pub async fn frees_remaining(
    s: &Services,
    tenant_id: &str,
    buyer_email: &str,
    license_id: &str,
    limit: u32,
) -> Result<u32> {
    let (_, usage) = owned(s, tenant_id, buyer_email, license_id).await?;
    Ok(self_service::remaining(
        &usage.self_service_frees,
        limit,
        crate::time::now(),
    ))
}

/// Frees a device as the buyer (`Actor::Customer`, from `ip`) under the tenant's policy of
/// `limit` frees per license per 30 days (0: off). The quota and the removal are one write,
/// conditional on the license's version, so concurrent frees never pass the limit. Answers
/// how many frees remain.
pub async fn free_device(
    s: &Services,
    tenant_id: &str,
    buyer_email: &str,
    license_id: &str,
    device_id: &str,
    ip: Option<IpAddr>,
    limit: u32,
) -> Result<u32> {
    if limit == 0 {
        return Err(SelfServiceError::Off);
    }
    let device = DeviceId::parse(device_id).map_err(|_| SelfServiceError::NotActivated)?;
    let origin = Origin::new(Actor::Customer, ip);
    let ip_key = client_ip_key(ip);
    for attempt in 0..EDIT_ATTEMPTS {
        let (license, usage) = owned(s, tenant_id, buyer_email, license_id).await?;
        let now = crate::time::now();
        let check = Check {
            product_id: &license.product_id,
            device: Some(&device),
            device_name: None,
            ip: &ip_key,
            now,
            livemode: true,
            test_accepted: true,
        };
        // The app's deactivation rule (and its churn budget), then the portal's quota.
        let mut change = match rules::deactivate(&license, &usage, &check) {
            Decision::Change(_, change) => change,
            Decision::Answer(_) => return Err(SelfServiceError::NotActivated),
            Decision::Throttled => return Err(SelfServiceError::Throttled),
        };
        let frees = &usage.self_service_frees;
        let Some(spent) = self_service::spend(frees, limit, now) else {
            return Err(SelfServiceError::LimitReached {
                limit,
                next_free_at: self_service::next_free_at(frees, now),
            });
        };
        let left = limit - spent.len() as u32;
        change.self_service_frees = Some(spent);
        match s
            .store
            .write_license_change(&license, &usage, &change, now, &origin)
            .await?
        {
            ChangeWrite::Written => {
                tracing::info!(license_id, "device freed by the buyer");
                return Ok(left);
            }
            ChangeWrite::Stale => EDIT_BACKOFF.sleep(attempt + 1).await,
        }
    }
    Err(Error::Conflict(format!(
        "license {license_id} is being changed by other requests; retry"
    ))
    .into())
}

/// A license file for a device already activated on the buyer's license (for a machine that
/// stays offline), with the product's default lifetime.
pub async fn license_file_for_device(
    s: &Services,
    tenant_id: &str,
    buyer_email: &str,
    license_id: &str,
    device_id: &str,
) -> Result<LicenseFileView> {
    let (license, _) = owned(s, tenant_id, buyer_email, license_id).await?;
    // Even on a license without a device limit: the buyer gets files for their own devices.
    let device = DeviceId::parse(device_id)
        .ok()
        .filter(|d| license.devices.iter().any(|x| x.device_id == d.as_str()))
        .ok_or(SelfServiceError::NotActivated)?;
    let query = FileQuery {
        device,
        ttl: None,
        encrypt: false,
    };
    Ok(license_file::file_of(s, license, query).await?)
}

/// Emails the license's key again to its owner address (the admin API's resend), recorded as
/// the buyer's.
pub async fn resend_key(
    s: &Services,
    tenant_id: &str,
    buyer_email: &str,
    license_id: &str,
    ip: Option<IpAddr>,
) -> Result<ResendView> {
    owned(s, tenant_id, buyer_email, license_id).await?;
    let origin = Origin::new(Actor::Customer, ip);
    Ok(admin_licenses::resend_as(s, tenant_id, license_id, &origin).await?)
}

/// The license and its usage, if it is the tenant's and its owner address is the buyer's.
async fn owned(
    s: &Services,
    tenant_id: &str,
    buyer_email: &str,
    license_id: &str,
) -> Result<(License, LicenseUsage)> {
    s.store
        .get_license_with_usage(license_id)
        .await?
        .filter(|(l, _)| l.tenant_id == tenant_id && owned_by(l, buyer_email))
        .ok_or(SelfServiceError::NotFound)
}
