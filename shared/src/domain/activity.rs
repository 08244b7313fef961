//! Who did what to a license, and when: its activity log (the dashboard's license page,
//! `GET /api/licenses/{id}/activity`) and the `actor` of its outgoing webhooks.
//!
//! The merchant is anyone with the tenant's authority (dashboard, API token, CLI, import);
//! Stripe is what Stripe's events cause (webhook or reconciliation); the app is the validation
//! API; the customer is the buyer in the portal.
//!
//! The log is a bounded list on the license item (attribute `activity`), appended to by the
//! very write that makes the change: no change without its entry, no entry without its change,
//! no transaction on the validation path, and the stream record that carries the change also
//! carries its entry (how a webhook knows its actor, `domain::webhooks::derive`). Appends are
//! unconditional `list_append`s so concurrent changes all keep theirs; `store::activity` cuts
//! the list back to the newest [`MAX_ACTIVITY`] so the item stays far below DynamoDB's limit.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::license::Device;
use crate::domain::License;
use crate::time::serde_ts;

/// The entries a license keeps (the newest).
pub const MAX_ACTIVITY: usize = 50;

/// How far past [`MAX_ACTIVITY`] the list may grow before a write cuts it back (so most writes
/// need no second write).
pub const TRIM_SLACK: usize = 10;

/// Who made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// The buyer, in the customer portal.
    Customer,
    /// The merchant: the dashboard, the admin API (scripts, the `keyhook` CLI), imports.
    Merchant,
    /// The merchant's app, through the validation API.
    App,
    /// Stripe's events: purchases, refunds, disputes, subscription changes.
    Stripe,
}

impl Actor {
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Customer => "customer",
            Actor::Merchant => "merchant",
            Actor::App => "app",
            Actor::Stripe => "stripe",
        }
    }
}

/// Who is making a change and from where: what each write path passes down to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub actor: Actor,
    /// The client's address (none for Stripe's events: Stripe's servers say nothing about
    /// who caused them).
    pub ip: Option<IpAddr>,
}

impl Origin {
    pub fn new(actor: Actor, ip: Option<IpAddr>) -> Self {
        Origin { actor, ip }
    }

    /// A change caused by a Stripe event.
    pub fn stripe() -> Self {
        Origin::new(Actor::Stripe, None)
    }
}

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Issued (a purchase, or by hand).
    Issued,
    /// Imported from another system.
    Imported,
    /// `from` → `to`: active, suspended, revoked, expired.
    StatusChanged,
    /// `from` → `to`: timestamps, absent for "never".
    ExpiryChanged,
    /// A suspension set for a later moment (a subscription past due), or cleared.
    SuspensionScheduled,
    MaxDevicesChanged,
    MaxIpsChanged,
    /// The buyer's email or name (the values are not kept here).
    ContactChanged,
    DeviceActivated,
    DeviceDeactivated,
    /// The key's email was queued again.
    EmailResent,
}

impl Action {
    /// How the dashboard says it.
    pub fn label(self) -> &'static str {
        match self {
            Action::Issued => "Issued",
            Action::Imported => "Imported",
            Action::StatusChanged => "Status changed",
            Action::ExpiryChanged => "Expiry changed",
            Action::SuspensionScheduled => "Suspension scheduled",
            Action::MaxDevicesChanged => "Device limit changed",
            Action::MaxIpsChanged => "IP limit changed",
            Action::ContactChanged => "Contact details changed",
            Action::DeviceActivated => "Device activated",
            Action::DeviceDeactivated => "Device freed",
            Action::EmailResent => "Key email resent",
        }
    }
}

/// One entry of a license's activity log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivityEntry {
    /// `act_…`: names the entry (two equal changes at the same millisecond stay two entries).
    pub id: String,
    pub action: Action,
    pub actor: Actor,
    #[serde(with = "serde_ts")]
    #[schemars(with = "String")]
    pub at: OffsetDateTime,
    /// The client's address, when the actor has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The device concerned (`device_activated`, `device_deactivated`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// The value before a change, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The value after a change, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

impl ActivityEntry {
    pub fn new(action: Action, origin: &Origin, at: OffsetDateTime) -> Self {
        ActivityEntry {
            id: crate::ids::new_id("act"),
            action,
            actor: origin.actor,
            at,
            ip: origin.ip.map(|ip| ip.to_string()),
            device_id: None,
            from: None,
            to: None,
        }
    }

    pub fn device(mut self, device_id: &str) -> Self {
        self.device_id = Some(device_id.to_string());
        self
    }

    pub fn change(mut self, from: Option<String>, to: Option<String>) -> Self {
        self.from = from;
        self.to = to;
        self
    }
}

/// The entries that record the change from `before` to `after` (one per kind of change), made
/// by `origin` at `at`.
pub fn describe(
    before: &License,
    after: &License,
    origin: &Origin,
    at: OffsetDateTime,
) -> Vec<ActivityEntry> {
    let time = |t: Option<OffsetDateTime>| t.map(crate::time::format);
    let entry = |action| ActivityEntry::new(action, origin, at);
    let mut out = Vec::new();
    if before.status != after.status {
        out.push(entry(Action::StatusChanged).change(
            Some(before.status.as_str().into()),
            Some(after.status.as_str().into()),
        ));
    }
    if before.expires_at != after.expires_at {
        out.push(
            entry(Action::ExpiryChanged).change(time(before.expires_at), time(after.expires_at)),
        );
    }
    if before.suspend_at != after.suspend_at {
        out.push(
            entry(Action::SuspensionScheduled)
                .change(time(before.suspend_at), time(after.suspend_at)),
        );
    }
    if before.max_devices != after.max_devices {
        out.push(entry(Action::MaxDevicesChanged).change(
            Some(before.max_devices.to_string()),
            Some(after.max_devices.to_string()),
        ));
    }
    if before.max_ips != after.max_ips {
        out.push(entry(Action::MaxIpsChanged).change(
            Some(before.max_ips.to_string()),
            Some(after.max_ips.to_string()),
        ));
    }
    if before.customer_email != after.customer_email || before.customer_name != after.customer_name
    {
        out.push(entry(Action::ContactChanged));
    }
    out.extend(describe_devices(
        &before.devices,
        &after.devices,
        origin,
        at,
    ));
    out
}

/// The entries that record a license's devices going from `before` to `after`.
pub fn describe_devices(
    before: &[Device],
    after: &[Device],
    origin: &Origin,
    at: OffsetDateTime,
) -> Vec<ActivityEntry> {
    let entry = |action, d: &Device| ActivityEntry::new(action, origin, at).device(&d.device_id);
    let missing = |from: &[Device], d: &Device| !from.iter().any(|o| o.device_id == d.device_id);
    let activated = after.iter().filter(|d| missing(before, d));
    let freed = before.iter().filter(|d| missing(after, d));
    activated
        .map(|d| entry(Action::DeviceActivated, d))
        .chain(freed.map(|d| entry(Action::DeviceDeactivated, d)))
        .collect()
}

/// The entries in `after` that `before` does not have: what one write added.
pub fn added<'a>(before: &[ActivityEntry], after: &'a [ActivityEntry]) -> Vec<&'a ActivityEntry> {
    after
        .iter()
        .filter(|a| !before.iter().any(|b| b.id == a.id))
        .collect()
}

/// Newest first, as shown.
pub fn newest_first(mut entries: Vec<ActivityEntry>) -> Vec<ActivityEntry> {
    entries.reverse();
    entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::LicenseStatus;

    fn t0() -> OffsetDateTime {
        crate::time::from_unix(1_800_000_000).unwrap()
    }

    #[test]
    fn describes_each_kind_of_change_once() {
        let before = crate::domain::fixtures::license();
        let mut after = before.clone();
        after.status = LicenseStatus::Suspended;
        after.max_devices += 1;
        after.customer_name = Some("New".into());
        after.devices.push(Device {
            device_id: "dev-9".into(),
            device_name: None,
            activated_at: t0(),
        });
        let origin = Origin::new(Actor::Merchant, "203.0.113.7".parse().ok());
        let entries = describe(&before, &after, &origin, t0());
        let actions: Vec<Action> = entries.iter().map(|e| e.action).collect();
        assert_eq!(
            actions,
            [
                Action::StatusChanged,
                Action::MaxDevicesChanged,
                Action::ContactChanged,
                Action::DeviceActivated
            ]
        );
        assert_eq!(entries[0].from.as_deref(), Some("active"));
        assert_eq!(entries[0].to.as_deref(), Some("suspended"));
        assert_eq!(entries[3].device_id.as_deref(), Some("dev-9"));
        assert!(entries.iter().all(|e| e.actor == Actor::Merchant
            && e.ip.as_deref() == Some("203.0.113.7")
            && e.id.starts_with("act_")));
        assert!(describe(&before, &before, &origin, t0()).is_empty());
    }

    #[test]
    fn added_is_what_a_write_appended_even_after_a_trim() {
        let o = Origin::stripe();
        let a = ActivityEntry::new(Action::Issued, &o, t0());
        let b = ActivityEntry::new(Action::StatusChanged, &o, t0());
        let c = ActivityEntry::new(Action::StatusChanged, &o, t0());
        let before = vec![a.clone(), b.clone()];
        let after = vec![b, c.clone()];
        assert_eq!(added(&before, &after), vec![&c]);
    }
}
