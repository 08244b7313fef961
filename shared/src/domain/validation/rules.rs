//! What `validate`, `activate` and `deactivate` decide for a license, given the license and its
//! usage as one read returned them. Pure: the handler writes the [`LicenseChange`] a decision
//! asks for, conditionally on the version read, and re-decides on a fresh read if it lost a race.
//!
//! Order of checks: product, then mode (a test-mode license only where test licenses are
//! accepted), then standing (revoked, suspended, expired), then device, then IP.
//! Expired, suspended and revoked licenses are never activated; deactivation is allowed in any
//! standing (it only frees a seat).

use time::{Duration, OffsetDateTime};

use super::budget::ChangeBudget;
use super::code::{Code, Verdict};
use super::device::DeviceId;
use super::ips::{self, IpAdmission, IpCheck};
use super::usage::LicenseUsage;
use crate::domain::license::Device;
use crate::domain::{ExpirationStart, License, LicenseStatus};

/// The request, as the rules see it.
#[derive(Debug, Clone, Copy)]
pub struct Check<'a> {
    pub product_id: &'a str,
    pub device: Option<&'a DeviceId>,
    /// Shown to the merchant next to the device; recorded at activation.
    pub device_name: Option<&'a str>,
    /// [`ips::client_ip_key`] of the client.
    pub ip: &'a str,
    pub now: OffsetDateTime,
    /// Whether the license came from a live payment.
    pub livemode: bool,
    /// Whether a test-mode license may validate here: the app said `"environment": "test"`,
    /// or the product accepts test licenses.
    pub test_accepted: bool,
}

/// A change of the license item; only the `Some` parts are written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LicenseChange {
    pub devices: Option<Vec<Device>>,
    pub ips: Option<Vec<IpAdmission>>,
    pub device_changes: Option<ChangeBudget>,
    /// Set when this change starts the clock of an `expirationStart=activation` license.
    pub expires_at: Option<OffsetDateTime>,
    /// A device newly activated on this license; also recorded per (product, device), which
    /// rules out a trial for it from then on.
    pub activated: Option<DeviceId>,
    /// The portal's frees after this one (`domain::self_service`).
    pub self_service_frees: Option<Vec<i64>>,
}

impl LicenseChange {
    /// The license and usage as they are once the change is written.
    pub fn apply(&self, license: &mut License, usage: &mut LicenseUsage) {
        if let Some(d) = &self.devices {
            license.devices = d.clone();
        }
        if let Some(ips) = &self.ips {
            usage.ips = ips.clone();
        }
        if let Some(b) = self.device_changes {
            usage.device_changes = Some(b);
        }
        if let Some(f) = &self.self_service_frees {
            usage.self_service_frees = f.clone();
        }
        if let Some(e) = self.expires_at {
            license.expires_at = Some(e);
        }
        usage.version += 1;
    }
}

/// What to do for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Answer now; nothing to write.
    Answer(Verdict),
    /// Write the change, then answer.
    Change(Verdict, LicenseChange),
    /// The license's device-change budget is spent (`429 rate_limited`).
    Throttled,
}

/// The license's status as of `now`: an active license past its expiry is expired.
pub fn effective_status(license: &License, now: OffsetDateTime) -> LicenseStatus {
    // One rule for every reader: suspension after a failed renewal's grace, then expiry.
    license.status_at(now)
}

/// Product, mode and standing: the verdict that stops the request, if any. Test-mode money
/// never makes a license valid for a live app.
pub fn standing(license: &License, check: &Check) -> Option<Verdict> {
    if !license.covers(check.product_id) {
        return Some(Code::ProductMismatch.verdict());
    }
    if !check.livemode && !check.test_accepted {
        return Some(Code::TestLicense.verdict());
    }
    match effective_status(license, check.now) {
        LicenseStatus::Revoked => Some(Code::Revoked.verdict()),
        LicenseStatus::Suspended => Some(Code::Suspended.verdict()),
        LicenseStatus::Expired => Some(Code::Expired.verdict()),
        LicenseStatus::Active => None,
    }
}

fn is_active_on(license: &License, device: &DeviceId) -> bool {
    license
        .devices
        .iter()
        .any(|d| d.device_id == device.as_str())
}

/// The IP part of a decision: `Ok(Some(list))` when the IP must be admitted (written).
fn ip_admission(
    license: &License,
    usage: &LicenseUsage,
    check: &Check,
) -> Result<Option<Vec<IpAdmission>>, Verdict> {
    match ips::check(&usage.ips, license.max_ips, check.ip, check.now) {
        IpCheck::Admitted => Ok(None),
        IpCheck::Admit(list) => Ok(Some(list)),
        IpCheck::LimitReached => Err(Code::IpLimitReached.verdict()),
    }
}

/// `validate` with a key. Devices are checked only when the license has a device limit; the
/// clock of an activation-started license does not start here.
pub fn validate(license: &License, usage: &LicenseUsage, check: &Check) -> Decision {
    if let Some(v) = standing(license, check) {
        return Decision::Answer(v);
    }
    if license.max_devices > 0 {
        match check.device {
            None => return Decision::Answer(Code::DeviceRequired.verdict()),
            Some(d) if !is_active_on(license, d) => {
                return Decision::Answer(Code::NotActivated.verdict())
            }
            Some(_) => {}
        }
    }
    match ip_admission(license, usage, check) {
        Err(v) => Decision::Answer(v),
        Ok(None) => Decision::Answer(Code::Valid.verdict()),
        Ok(Some(ips)) => Decision::Change(
            Code::Valid.verdict(),
            LicenseChange {
                ips: Some(ips),
                ..Default::default()
            },
        ),
    }
}

/// The most devices one license holds, whatever its `maxDevices` (0 = unlimited included):
/// the device list lives in the license's DynamoDB item, which cannot exceed 400 KB.
pub const MAX_DEVICES_PER_LICENSE: usize = 1000;

/// The most bytes of device ids and names one license holds (the item's other attributes and
/// the IP list keep the rest of the 400 KB).
pub const MAX_DEVICE_LIST_BYTES: usize = 256 * 1024;

/// Bytes a device takes in the list: its id, its name, and the fixed part (attribute names,
/// the activation time).
pub fn device_bytes(id: &str, name: Option<&str>) -> usize {
    id.len() + name.map_or(0, str::len) + 64
}

/// `DEVICE_LIMIT_REACHED` when one more device would pass the license's hard bounds.
fn device_list_full(license: &License, device: &DeviceId, name: Option<&str>) -> Option<Verdict> {
    if license.devices.len() >= MAX_DEVICES_PER_LICENSE {
        return Some(Verdict::with_detail(
            Code::DeviceLimitReached,
            "The license holds the most devices Keyhook keeps for one license (1000); deactivate one first.",
        ));
    }
    let used: usize = license
        .devices
        .iter()
        .map(|d| device_bytes(&d.device_id, d.device_name.as_deref()))
        .sum();
    if used + device_bytes(device.as_str(), name) > MAX_DEVICE_LIST_BYTES {
        return Some(Verdict::with_detail(
            Code::DeviceLimitReached,
            "The license's device list is full (256 KiB of device ids and names); deactivate a device first.",
        ));
    }
    None
}

/// `activate`: records the device (idempotent for an active one) within the device limit, the
/// IP limit and the change budget, and starts an activation-started license's clock.
pub fn activate(license: &License, usage: &LicenseUsage, check: &Check) -> Decision {
    let Some(device) = check.device else {
        return Decision::Answer(Code::DeviceRequired.verdict());
    };
    if let Some(v) = standing(license, check) {
        return Decision::Answer(v);
    }
    if is_active_on(license, device) {
        let verdict = Verdict::with_detail(Code::Valid, "The device is already activated.");
        return match ip_admission(license, usage, check) {
            Err(v) => Decision::Answer(v),
            Ok(None) => Decision::Answer(verdict),
            Ok(Some(ips)) => Decision::Change(
                verdict,
                LicenseChange {
                    ips: Some(ips),
                    ..Default::default()
                },
            ),
        };
    }
    if license.max_devices > 0 && license.devices.len() >= license.max_devices as usize {
        return Decision::Answer(Code::DeviceLimitReached.verdict());
    }
    if let Some(v) = device_list_full(license, device, check.device_name) {
        return Decision::Answer(v);
    }
    let ips = match ip_admission(license, usage, check) {
        Err(v) => return Decision::Answer(v),
        Ok(ips) => ips,
    };
    let Some(budget) = ChangeBudget::spend(usage.device_changes, check.now) else {
        return Decision::Throttled;
    };
    let mut devices = license.devices.clone();
    devices.push(Device {
        device_id: device.as_str().to_string(),
        device_name: check.device_name.map(str::to_string),
        activated_at: check.now,
    });
    let expires_at = match (
        license.expiration_start,
        license.expires_at,
        license.license_days,
    ) {
        // Past the end of representable time, the clock saturates (never a panic).
        (ExpirationStart::Activation, None, Some(days)) => Some(
            check
                .now
                .checked_add(Duration::days(i64::from(days)))
                .unwrap_or(time::PrimitiveDateTime::MAX.assume_utc()),
        ),
        _ => None,
    };
    Decision::Change(
        Verdict::with_detail(Code::Valid, "The device is activated."),
        LicenseChange {
            devices: Some(devices),
            ips,
            device_changes: Some(budget),
            expires_at,
            activated: Some(device.clone()),
            self_service_frees: None,
        },
    )
}

/// `deactivate`: removes the device, in any standing. The answer is about the device, which is
/// no longer activated: `NOT_ACTIVATED` (valid: false) whether it was just removed or was not
/// there (idempotent).
pub fn deactivate(license: &License, usage: &LicenseUsage, check: &Check) -> Decision {
    let Some(device) = check.device else {
        return Decision::Answer(Code::DeviceRequired.verdict());
    };
    if !license.covers(check.product_id) {
        return Decision::Answer(Code::ProductMismatch.verdict());
    }
    if !is_active_on(license, device) {
        return Decision::Answer(Code::NotActivated.verdict());
    }
    let Some(budget) = ChangeBudget::spend(usage.device_changes, check.now) else {
        return Decision::Throttled;
    };
    Decision::Change(
        Verdict::with_detail(Code::NotActivated, "The device was deactivated."),
        LicenseChange {
            devices: Some(
                license
                    .devices
                    .iter()
                    .filter(|d| d.device_id != device.as_str())
                    .cloned()
                    .collect(),
            ),
            device_changes: Some(budget),
            ..Default::default()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::validation::budget::CHANGES_PER_WINDOW;

    fn now() -> OffsetDateTime {
        crate::time::from_unix(1_800_000_000).unwrap()
    }

    fn license(max_devices: u32, max_ips: u32) -> License {
        let mut l = crate::domain::fixtures::license();
        l.expires_at = Some(now() + Duration::days(30));
        l.license_days = Some(365);
        l.max_devices = max_devices;
        l.max_ips = max_ips;
        l.created_at = now();
        l.updated_at = now();
        l
    }

    fn device(id: &str) -> DeviceId {
        DeviceId::parse(id).unwrap()
    }

    fn check<'a>(device: Option<&'a DeviceId>, ip: &'a str) -> Check<'a> {
        Check {
            product_id: "42",
            device,
            device_name: Some("Laptop"),
            ip,
            now: now(),
            livemode: true,
            test_accepted: false,
        }
    }

    fn code(d: &Decision) -> Option<Code> {
        match d {
            Decision::Answer(v) | Decision::Change(v, _) => Some(v.code),
            Decision::Throttled => None,
        }
    }

    /// Applies a decision's change, as the store would.
    fn commit(l: &mut License, u: &mut LicenseUsage, d: &Decision) {
        if let Decision::Change(_, c) = d {
            c.apply(l, u);
        }
    }

    #[test]
    fn product_and_standing_come_first() {
        let u = LicenseUsage::default();
        let a = device("a");
        let mut l = license(0, 0);
        l.product_id = "7".into();
        assert_eq!(
            code(&validate(&l, &u, &check(Some(&a), "ip"))),
            Some(Code::ProductMismatch)
        );
        // A license for several products validates for each of them.
        l.also_product_ids = vec!["42".into()];
        assert_eq!(
            code(&validate(&l, &u, &check(Some(&a), "ip"))),
            Some(Code::Valid)
        );
        for (status, expected) in [
            (LicenseStatus::Revoked, Code::Revoked),
            (LicenseStatus::Suspended, Code::Suspended),
            (LicenseStatus::Expired, Code::Expired),
        ] {
            let mut l = license(0, 0);
            l.status = status;
            assert_eq!(code(&validate(&l, &u, &check(None, "ip"))), Some(expected));
            assert_eq!(
                code(&activate(&l, &u, &check(Some(&a), "ip"))),
                Some(expected),
                "{status:?} licenses are never activated"
            );
        }
        let mut l = license(0, 0);
        l.expires_at = Some(now());
        assert_eq!(
            code(&validate(&l, &u, &check(None, "ip"))),
            Some(Code::Expired)
        );
        assert_eq!(effective_status(&l, now()), LicenseStatus::Expired);
        assert_eq!(
            code(&activate(&l, &u, &check(Some(&a), "ip"))),
            Some(Code::Expired)
        );
    }

    #[test]
    fn test_licenses_validate_only_where_test_licenses_are_accepted() {
        let u = LicenseUsage::default();
        let a = device("a");
        let l = license(0, 0);
        let mut c = check(Some(&a), "ip");
        c.livemode = false;
        assert_eq!(code(&validate(&l, &u, &c)), Some(Code::TestLicense));
        assert_eq!(code(&activate(&l, &u, &c)), Some(Code::TestLicense));
        c.test_accepted = true;
        assert_eq!(code(&validate(&l, &u, &c)), Some(Code::Valid));
        // Live licenses validate everywhere, test apps included.
        let mut c = check(Some(&a), "ip");
        c.test_accepted = true;
        assert_eq!(code(&validate(&l, &u, &c)), Some(Code::Valid));
    }

    #[test]
    fn a_device_limit_requires_an_activated_device() {
        let u = LicenseUsage::default();
        let a = device("a");
        let mut l = license(2, 0);
        assert_eq!(
            code(&validate(&l, &u, &check(None, "ip"))),
            Some(Code::DeviceRequired)
        );
        assert_eq!(
            code(&validate(&l, &u, &check(Some(&a), "ip"))),
            Some(Code::NotActivated)
        );
        let mut u = u;
        let d = activate(&l, &u, &check(Some(&a), "ip"));
        assert_eq!(code(&d), Some(Code::Valid));
        commit(&mut l, &mut u, &d);
        assert_eq!(l.devices[0].device_name.as_deref(), Some("Laptop"));
        assert_eq!(
            validate(&l, &u, &check(Some(&a), "ip")),
            Decision::Answer(Code::Valid.verdict())
        );
        // Without a limit, no device is needed.
        let free = license(0, 0);
        assert_eq!(
            validate(&free, &u, &check(None, "ip")),
            Decision::Answer(Code::Valid.verdict())
        );
    }

    #[test]
    fn activation_stops_at_the_limit_and_is_idempotent() {
        let mut l = license(2, 0);
        let mut u = LicenseUsage::default();
        for id in ["a", "b"] {
            let d = activate(&l, &u, &check(Some(&device(id)), "ip"));
            assert!(matches!(d, Decision::Change(..)));
            commit(&mut l, &mut u, &d);
        }
        assert_eq!(u.version, 2);
        assert_eq!(
            code(&activate(&l, &u, &check(Some(&device("c")), "ip"))),
            Some(Code::DeviceLimitReached)
        );
        let again = activate(&l, &u, &check(Some(&device("a")), "ip"));
        assert!(matches!(again, Decision::Answer(v) if v.code == Code::Valid));
        assert_eq!(
            code(&activate(&l, &u, &check(None, "ip"))),
            Some(Code::DeviceRequired)
        );
    }

    #[test]
    fn deactivation_frees_a_seat_and_is_idempotent() {
        let mut l = license(1, 0);
        let mut u = LicenseUsage::default();
        let a = device("a");
        let d = activate(&l, &u, &check(Some(&a), "ip"));
        commit(&mut l, &mut u, &d);
        let d = deactivate(&l, &u, &check(Some(&a), "ip"));
        assert_eq!(code(&d), Some(Code::NotActivated));
        commit(&mut l, &mut u, &d);
        assert!(l.devices.is_empty());
        assert_eq!(
            deactivate(&l, &u, &check(Some(&a), "ip")),
            Decision::Answer(Code::NotActivated.verdict())
        );
        assert!(matches!(
            activate(&l, &u, &check(Some(&device("b")), "ip")),
            Decision::Change(..)
        ));
    }

    #[test]
    fn churn_is_throttled_per_license() {
        let mut l = license(1, 0);
        let mut u = LicenseUsage::default();
        let a = device("a");
        for i in 0..CHANGES_PER_WINDOW {
            let d = if i % 2 == 0 {
                activate(&l, &u, &check(Some(&a), "ip"))
            } else {
                deactivate(&l, &u, &check(Some(&a), "ip"))
            };
            assert!(matches!(d, Decision::Change(..)), "change {i}");
            commit(&mut l, &mut u, &d);
        }
        // 20 changes: the device is off again; the next change is over budget.
        assert_eq!(
            activate(&l, &u, &check(Some(&a), "ip")),
            Decision::Throttled
        );
    }

    #[test]
    fn activation_starts_the_clock_once() {
        let mut l = license(0, 0);
        l.expiration_start = ExpirationStart::Activation;
        l.expires_at = None;
        l.license_days = Some(30);
        let mut u = LicenseUsage::default();
        assert_eq!(
            validate(&l, &u, &check(None, "ip")),
            Decision::Answer(Code::Valid.verdict()),
            "a license whose clock has not started is valid"
        );
        let d = activate(&l, &u, &check(Some(&device("a")), "ip"));
        commit(&mut l, &mut u, &d);
        assert_eq!(l.expires_at, Some(now() + Duration::days(30)));
        let b = device("b");
        let mut later = check(Some(&b), "ip");
        later.now = now() + Duration::days(1);
        match activate(&l, &u, &later) {
            Decision::Change(_, c) => assert_eq!(c.expires_at, None, "the clock starts once"),
            other => panic!("{other:?}"),
        }
        // Perpetual activation-started licenses stay perpetual.
        l.expires_at = None;
        l.license_days = None;
        match activate(&l, &u, &check(Some(&device("c")), "ip")) {
            Decision::Change(_, c) => assert_eq!(c.expires_at, None),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ip_limits_apply_to_validation_and_activation() {
        let mut l = license(0, 1);
        let mut u = LicenseUsage::default();
        let a = device("a");
        let d = validate(&l, &u, &check(None, "1.1.1.1"));
        assert!(matches!(d, Decision::Change(v, _) if v.code == Code::Valid));
        commit(&mut l, &mut u, &d);
        assert_eq!(
            validate(&l, &u, &check(None, "1.1.1.1")),
            Decision::Answer(Code::Valid.verdict()),
            "a known IP needs no write"
        );
        assert_eq!(
            code(&validate(&l, &u, &check(None, "2.2.2.2"))),
            Some(Code::IpLimitReached)
        );
        assert_eq!(
            code(&activate(&l, &u, &check(Some(&a), "2.2.2.2"))),
            Some(Code::IpLimitReached)
        );
    }

    #[test]
    fn even_an_unlimited_license_holds_a_bounded_device_list() {
        let mut l = license(0, 0);
        let u = LicenseUsage::default();
        l.devices = (0..MAX_DEVICES_PER_LICENSE)
            .map(|i| Device {
                device_id: format!("d{i}"),
                device_name: None,
                activated_at: now(),
            })
            .collect();
        let d = activate(&l, &u, &check(Some(&device("new")), "ip"));
        match d {
            Decision::Answer(v) => {
                assert_eq!(v.code, Code::DeviceLimitReached);
                assert!(v.detail.contains("1000"), "{}", v.detail);
            }
            other => panic!("{other:?}"),
        }
        // An already activated device is still fine.
        assert!(matches!(
            activate(&l, &u, &check(Some(&device("d3")), "ip")),
            Decision::Answer(v) if v.code == Code::Valid
        ));

        // Long ids and names fill the list by size before the count.
        let long = "x".repeat(256);
        l.devices = (0..200)
            .map(|i| Device {
                device_id: format!("{i}{long}"),
                device_name: Some("n".repeat(1000)),
                activated_at: now(),
            })
            .collect();
        match activate(&l, &u, &check(Some(&device("new")), "ip")) {
            Decision::Answer(v) => {
                assert_eq!(v.code, Code::DeviceLimitReached);
                assert!(v.detail.contains("256 KiB"), "{}", v.detail);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_activation_clock_never_overflows() {
        let mut l = license(0, 0);
        l.expiration_start = ExpirationStart::Activation;
        l.expires_at = None;
        l.license_days = Some(u32::MAX);
        let u = LicenseUsage::default();
        match activate(&l, &u, &check(Some(&device("a")), "ip")) {
            Decision::Change(_, c) => assert!(c.expires_at.is_some_and(|t| t > now())),
            other => panic!("{other:?}"),
        }
    }
}
