//! The validation state kept on a license item next to the [`License`](crate::domain::License)
//! attributes, so that one read serves a validation and one conditional write an activation.
//! Only the validation routes write it; `version` orders every such write (optimistic
//! concurrency: a write succeeds only if the version it read is still current).

use serde::{Deserialize, Serialize};

use super::budget::ChangeBudget;
use super::ips::IpAdmission;

/// Item attributes owned by [`LicenseUsage`] (split off the item before reading the license).
pub const ATTRIBUTES: [&str; 10] = [
    "ips",
    "meters",
    "meterVersion",
    "leaseLimitReachedAt",
    "leases",
    "leaseVersion",
    "deviceChanges",
    "version",
    "activity",
    "selfServiceFrees",
];

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseUsage {
    /// IPs currently admitted under `maxIps`.
    #[serde(default)]
    pub ips: Vec<IpAdmission>,
    /// The device-change budget window.
    #[serde(default)]
    pub device_changes: Option<ChangeBudget>,
    /// Incremented by every validation write; 0 (absent) before the first.
    #[serde(default)]
    pub version: u64,
    /// The license's activity log (`domain::activity`), read with the rest so that a write
    /// knows how long the list it appends to is.
    #[serde(default)]
    pub activity: Vec<crate::domain::activity::ActivityEntry>,
    /// When the buyer freed devices in the portal (epoch seconds, `domain::self_service`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub self_service_frees: Vec<i64>,
    /// Floating seats held (`domain::validation::leases`); lapsed ones are dropped by the next
    /// lease write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leases: Vec<super::leases::Lease>,
    /// Incremented by every lease write (its own version, so that leases and activations never
    /// make each other retry); 0 (absent) before the first.
    #[serde(default)]
    pub lease_version: u64,
    /// When the seats last ran out (epoch seconds), recorded at most once an hour: the
    /// stream makes each record a `license.lease_limit_reached` event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_limit_reached_at: Option<i64>,
    /// What the license used of each meter (`domain::validation::meters`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub meters: std::collections::BTreeMap<String, super::meters::MeterCount>,
    /// Incremented by every usage write (its own version, like `leaseVersion`).
    #[serde(default)]
    pub meter_version: u64,
}
