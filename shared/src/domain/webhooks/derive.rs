//! Which outgoing events a change of a stored item means. Keyhook does not enqueue webhooks
//! from each write path: every committed write reaches the table's stream with the item's old
//! and new image, and this module compares the two. So an event is sent exactly when its
//! state change is committed, whatever code path made it (webhook, admin, validation, mailer).
//!
//! Pure: no I/O. The items watched are licenses (`LICENSE#`), product devices (`DEVICE#`,
//! trials), the Stripe event log (`EVENT#`), purchases (`PURCHASE#`, email status) and
//! subscriptions (`SUB#`, new-key renewals); everything else means nothing here.
//!
//! Event ids are derived from the stream record's id (stable across redeliveries of the same
//! record), so a record processed twice derives the same events.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::EventType;
use crate::domain::activity::{self, Action, ActivityEntry, Actor};
use crate::domain::license::Device;
use crate::domain::validation::ProductDevice;
use crate::domain::{EmailStatus, EventLogEntry, EventStatus, License, LicenseStatus, Purchase};

pub type Image = HashMap<String, AttributeValue>;

/// When each meter of a license image last ran out (`meters.{name}.reachedAt`), by meter.
fn usage_limits(image: &Option<Image>) -> std::collections::BTreeMap<String, String> {
    let Some(AttributeValue::M(meters)) = image.as_ref().and_then(|i| i.get("meters")) else {
        return Default::default();
    };
    meters
        .iter()
        .filter_map(|(name, v)| {
            let at = v.as_m().ok()?.get("reachedAt")?.as_n().ok()?;
            Some((name.clone(), at.clone()))
        })
        .collect()
}

/// The license whose new image has usage still to report to Stripe (`meters.*.pending`):
/// the stream consumer sends it (`services::meter_reports`).
pub fn pending_meter_reports(change: &Change) -> Option<String> {
    let image = change.new.as_ref()?;
    let pk = key(image, "pk")?;
    let license_id = pk.strip_prefix("LICENSE#")?;
    let AttributeValue::M(meters) = image.get("meters")? else {
        return None;
    };
    meters
        .values()
        .any(|v| {
            v.as_m()
                .ok()
                .and_then(|m| m.get("pending"))
                .and_then(|p| p.as_l().ok())
                .is_some_and(|l| !l.is_empty())
        })
        .then(|| license_id.to_string())
}

/// One change of one item, as the stream tells it.
#[derive(Debug, Clone)]
pub struct Change {
    /// The stream record's id.
    pub record_id: String,
    /// When the change was committed (approximately, to the second).
    pub at: OffsetDateTime,
    pub old: Option<Image>,
    pub new: Option<Image>,
}

/// A license timer: the moment a stored `active` license turns expired or suspended on its own
/// (no write happens then; a sweep notices, see `consumers::deliveries::sweep`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerKind {
    Expire,
    Suspend,
}

impl TimerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::Expire => "expire",
            TimerKind::Suspend => "suspend",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [TimerKind::Expire, TimerKind::Suspend]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    pub fn event_type(self) -> EventType {
        match self {
            TimerKind::Expire => EventType::LicenseExpired,
            TimerKind::Suspend => EventType::LicenseSuspended,
        }
    }
}

/// What a change means.
#[derive(Debug, Clone)]
pub enum Derived {
    /// An event about a license, with the license as it now is.
    License {
        id: String,
        kind: EventType,
        license: Box<License>,
        /// The device activated or deactivated.
        device: Option<Device>,
        /// A renewal: the expiry before it.
        previous_expires_at: Option<OffsetDateTime>,
        /// `license.usage_limit_reached`: the meter that ran out.
        meter: Option<String>,
        /// Who made the change: from the activity entry the same write recorded
        /// (`domain::activity`); `None` when it recorded none (a change made before Keyhook
        /// recorded actors).
        actor: Option<Actor>,
    },
    /// A new-key renewal: a subscription's current licenses were replaced.
    NewKeyRenewal {
        id: String,
        tenant_id: String,
        subscription_id: String,
        license_ids: Vec<String>,
        previous_license_ids: Vec<String>,
    },
    TrialStarted {
        id: String,
        device: ProductDevice,
    },
    PurchaseFailed {
        id: String,
        entry: Box<EventLogEntry>,
    },
    EmailFailed {
        id: String,
        purchase: Box<Purchase>,
    },
    /// Not an event: remember to look at this license at `at`.
    Timer {
        tenant_id: String,
        license_id: String,
        kind: TimerKind,
        at: OffsetDateTime,
    },
}

/// A stable event id: `evt_` + 130 bits of SHA-256 of what identifies the event.
pub fn event_id(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0x1f]);
    }
    let digest = h.finalize();
    format!(
        "evt_{}",
        crate::ids::crockford_encode(&digest[..17]).to_ascii_lowercase()
    )
}

fn key(image: &Image, attr: &str) -> Option<String> {
    image.get(attr).and_then(|v| v.as_s().ok()).cloned()
}

fn read<T: DeserializeOwned>(image: &Option<Image>) -> Option<T> {
    image
        .as_ref()
        .and_then(|i| serde_dynamo::from_item(i.clone()).ok())
}

/// The events (and timers) a change means.
pub fn derive(change: &Change) -> Vec<Derived> {
    let Some(image) = change.new.as_ref().or(change.old.as_ref()) else {
        return Vec::new();
    };
    let (Some(pk), Some(sk)) = (key(image, "pk"), key(image, "sk")) else {
        return Vec::new();
    };
    if pk.starts_with("LICENSE#") {
        license(change)
    } else if pk.starts_with("DEVICE#") {
        trial(change)
    } else if sk.starts_with("EVENT#") {
        event_log(change)
    } else if sk.starts_with("PURCHASE#") {
        purchase(change)
    } else if sk.starts_with("SUB#") {
        subscription(change)
    } else {
        Vec::new()
    }
}

/// A license image's activity log.
fn activity_of(image: &Option<Image>) -> Vec<ActivityEntry> {
    image
        .as_ref()
        .and_then(|i| i.get("activity"))
        .and_then(|v| serde_dynamo::from_attribute_value(v.clone()).ok())
        .unwrap_or_default()
}

fn license(change: &Change) -> Vec<Derived> {
    let Some(new) = read::<License>(&change.new) else {
        return Vec::new();
    };
    let old = read::<License>(&change.old);
    let (before, after) = (activity_of(&change.old), activity_of(&change.new));
    let recorded = activity::added(&before, &after);
    // One write is one actor's; a device's own entry names the device's.
    let actor_of = |device: Option<&Device>| {
        let own = device.and_then(|d| {
            recorded.iter().rev().find(|e| {
                matches!(
                    e.action,
                    Action::DeviceActivated | Action::DeviceDeactivated
                ) && e.device_id.as_deref() == Some(d.device_id.as_str())
            })
        });
        own.or(recorded.last()).map(|e| e.actor)
    };
    let mut out = Vec::new();
    let mut event = |kind: EventType, subject: &str, device: Option<Device>, previous| {
        out.push(Derived::License {
            id: event_id(&[&change.record_id, kind.as_str(), subject]),
            kind,
            actor: actor_of(device.as_ref()),
            license: Box::new(new.clone()),
            device,
            previous_expires_at: previous,
            meter: None,
        })
    };
    let at = change.at;
    match &old {
        None => event(EventType::LicenseCreated, &new.id, None, None),
        Some(old) => {
            // Renewed: the expiry moved later (or the license became perpetual). An expiry set
            // for the first time is a license's clock starting at activation, not a renewal.
            let renewed = match (old.expires_at, new.expires_at) {
                (Some(before), Some(after)) => after > before,
                (Some(_), None) => true,
                _ => false,
            };
            if renewed {
                event(EventType::LicenseRenewed, &new.id, None, old.expires_at);
            }
            let (before, after) = (old.status_at(at), new.status_at(at));
            if before != after {
                let kind = match after {
                    LicenseStatus::Suspended => Some(EventType::LicenseSuspended),
                    LicenseStatus::Revoked => Some(EventType::LicenseRevoked),
                    LicenseStatus::Expired => Some(EventType::LicenseExpired),
                    // Back to active because of a renewal is said by `license.renewed`.
                    LicenseStatus::Active if before == LicenseStatus::Expired && renewed => None,
                    LicenseStatus::Active => Some(EventType::LicenseReinstated),
                };
                if let Some(kind) = kind {
                    event(kind, &new.id, None, None);
                }
            }
            for d in &new.devices {
                if !old.devices.iter().any(|o| o.device_id == d.device_id) {
                    event(
                        EventType::LicenseActivated,
                        &d.device_id,
                        Some(d.clone()),
                        None,
                    );
                }
            }
            for d in &old.devices {
                if !new.devices.iter().any(|n| n.device_id == d.device_id) {
                    event(
                        EventType::LicenseDeactivated,
                        &d.device_id,
                        Some(d.clone()),
                        None,
                    );
                }
            }
        }
    }
    // The seats ran out (`handlers::validate::leases` records it at most once an hour): the
    // app asked, so the app is the actor.
    let limit_at = |image: &Option<Image>| {
        image
            .as_ref()
            .and_then(|i| i.get("leaseLimitReachedAt"))
            .and_then(|v| v.as_n().ok())
            .cloned()
    };
    if let Some(reached) =
        limit_at(&change.new).filter(|n| limit_at(&change.old).as_ref() != Some(n))
    {
        out.push(Derived::License {
            id: event_id(&[
                &change.record_id,
                EventType::LicenseLeaseLimitReached.as_str(),
                &reached,
            ]),
            kind: EventType::LicenseLeaseLimitReached,
            actor: Some(Actor::App),
            license: Box::new(new.clone()),
            device: None,
            previous_expires_at: None,
            meter: None,
        });
    }
    // A meter ran out (`handlers::validate::usage` records it in `meters.{name}.reachedAt` at
    // most once an hour per meter): the app asked, so the app is the actor.
    for (meter, reached) in usage_limits(&change.new) {
        if usage_limits(&change.old).get(&meter) == Some(&reached) {
            continue;
        }
        out.push(Derived::License {
            id: event_id(&[
                &change.record_id,
                EventType::LicenseUsageLimitReached.as_str(),
                &meter,
                &reached,
            ]),
            kind: EventType::LicenseUsageLimitReached,
            actor: Some(Actor::App),
            license: Box::new(new.clone()),
            device: None,
            previous_expires_at: None,
            meter: Some(meter),
        });
    }
    // Timers for a stored `active` license that will turn expired or suspended by itself.
    let changed = |f: fn(&License) -> Option<OffsetDateTime>| {
        f(&new).filter(|t| *t > at && old.as_ref().and_then(f) != Some(*t))
    };
    for (kind, t) in [
        (TimerKind::Expire, changed(|l| l.expires_at)),
        (TimerKind::Suspend, changed(|l| l.suspend_at)),
    ] {
        if let Some(t) = t {
            if new.status == LicenseStatus::Active {
                out.push(Derived::Timer {
                    tenant_id: new.tenant_id.clone(),
                    license_id: new.id.clone(),
                    kind,
                    at: t,
                });
            }
        }
    }
    out
}

fn trial(change: &Change) -> Vec<Derived> {
    let Some(new) = read::<ProductDevice>(&change.new) else {
        return Vec::new();
    };
    let before = read::<ProductDevice>(&change.old).and_then(|o| o.trial_started_at);
    if new.trial_started_at.is_some() && before.is_none() && !new.tenant_id.is_empty() {
        let id = event_id(&[&change.record_id, EventType::TrialStarted.as_str()]);
        return vec![Derived::TrialStarted { id, device: new }];
    }
    Vec::new()
}

fn event_log(change: &Change) -> Vec<Derived> {
    let Some(new) = read::<EventLogEntry>(&change.new) else {
        return Vec::new();
    };
    let before = read::<EventLogEntry>(&change.old).map(|o| o.status);
    if new.status == EventStatus::Failed && before != Some(EventStatus::Failed) {
        let id = event_id(&[&change.record_id, EventType::PurchaseFailed.as_str()]);
        return vec![Derived::PurchaseFailed {
            id,
            entry: Box::new(new),
        }];
    }
    Vec::new()
}

fn purchase(change: &Change) -> Vec<Derived> {
    let Some(new) = read::<Purchase>(&change.new) else {
        return Vec::new();
    };
    let before = read::<Purchase>(&change.old).map(|o| o.email_status);
    if new.email_status == EmailStatus::Failed && before != Some(EmailStatus::Failed) {
        let id = event_id(&[&change.record_id, EventType::EmailFailed.as_str()]);
        return vec![Derived::EmailFailed {
            id,
            purchase: Box::new(new),
        }];
    }
    Vec::new()
}

fn subscription(change: &Change) -> Vec<Derived> {
    let ids = |image: &Option<Image>| -> Vec<String> {
        image
            .as_ref()
            .and_then(|i| i.get("licenseIds"))
            .and_then(|v| v.as_l().ok())
            .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
            .unwrap_or_default()
    };
    let (before, after) = (ids(&change.old), ids(&change.new));
    let replaced =
        !before.is_empty() && !after.is_empty() && after.iter().all(|id| !before.contains(id));
    let Some(new) = change.new.as_ref() else {
        return Vec::new();
    };
    match (key(new, "tenantId"), key(new, "subscriptionId")) {
        (Some(tenant_id), Some(subscription_id)) if replaced => vec![Derived::NewKeyRenewal {
            id: event_id(&[&change.record_id, EventType::LicenseRenewed.as_str()]),
            tenant_id,
            subscription_id,
            license_ids: after,
            previous_license_ids: before,
        }],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ExpirationStart, LicenseSource};
    use time::Duration;

    fn t0() -> OffsetDateTime {
        crate::time::from_unix(1_800_000_000).unwrap()
    }

    fn license() -> License {
        License {
            id: "lic_1".into(),
            tenant_id: "ten_1".into(),
            key_hash: "h".into(),
            key_sealed: "s".into(),
            product_id: "42".into(),
            status: LicenseStatus::Active,
            customer_email: Some("a@example.com".into()),
            customer_name: None,
            expires_at: Some(t0() + Duration::days(30)),
            suspend_at: None,
            expiration_start: ExpirationStart::Creation,
            license_days: Some(30),
            max_devices: 2,
            max_ips: 0,
            devices: vec![],
            source: LicenseSource::default(),
            purchase_ref: Some("cs_1".into()),
            email_status: EmailStatus::Pending,
            also_product_ids: vec![],
            external_id: None,
            livemode: Some(true),
            max_concurrent: None,
            lease_seconds: None,
            max_borrow_seconds: None,
            created_at: t0(),
            updated_at: t0(),
        }
    }

    fn image(l: &License) -> Image {
        let mut i: Image = serde_dynamo::to_item(l).unwrap();
        i.insert("pk".into(), AttributeValue::S(format!("LICENSE#{}", l.id)));
        i.insert("sk".into(), AttributeValue::S("LICENSE".into()));
        i
    }

    fn change(old: Option<&License>, new: &License) -> Change {
        Change {
            record_id: "rec-1".into(),
            at: t0() + Duration::hours(1),
            old: old.map(image),
            new: Some(image(new)),
        }
    }

    fn kinds(d: &[Derived]) -> Vec<&'static str> {
        d.iter()
            .map(|d| match d {
                Derived::License { kind, .. } => kind.as_str(),
                Derived::Timer { kind, .. } => kind.as_str(),
                Derived::TrialStarted { .. } => "trial.started",
                Derived::PurchaseFailed { .. } => "purchase.failed",
                Derived::EmailFailed { .. } => "email.failed",
                Derived::NewKeyRenewal { .. } => "renewal",
            })
            .collect()
    }

    fn with_activity(mut image: Image, entries: &[ActivityEntry]) -> Image {
        image.insert(
            "activity".into(),
            serde_dynamo::to_attribute_value(entries).unwrap(),
        );
        image
    }

    fn actors(d: &[Derived]) -> Vec<(&'static str, Option<Actor>)> {
        d.iter()
            .filter_map(|d| match d {
                Derived::License { kind, actor, .. } => Some((kind.as_str(), *actor)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_license_event_names_the_actor_its_write_recorded() {
        use crate::domain::activity::{Action, Origin};
        let issued = ActivityEntry::new(Action::Issued, &Origin::stripe(), t0());
        let mut old = license();
        old.devices.push(Device {
            device_id: "laptop".into(),
            device_name: None,
            activated_at: t0(),
        });
        let mut new = old.clone();
        new.devices.clear();
        let customer = Origin::new(Actor::Customer, "198.51.100.4".parse().ok());
        let freed = activity::describe(&old, &new, &customer, t0());
        let mut c = change(Some(&old), &new);
        c.old = c
            .old
            .map(|i| with_activity(i, std::slice::from_ref(&issued)));
        c.new = c
            .new
            .map(|i| with_activity(i, &[issued.clone(), freed[0].clone()]));
        assert_eq!(
            actors(&derive(&c)),
            [("license.deactivated", Some(Actor::Customer))]
        );

        // Created: the issuing entry's actor.
        let mut c = change(None, &old);
        c.new = c
            .new
            .map(|i| with_activity(i, std::slice::from_ref(&issued)));
        assert_eq!(
            actors(&derive(&c)),
            [("license.created", Some(Actor::Stripe))]
        );

        // A write that recorded nothing (an item from before actors were recorded) names none.
        let c = change(Some(&old), &new);
        assert_eq!(actors(&derive(&c)), [("license.deactivated", None)]);
    }

    #[test]
    fn seats_running_out_is_an_event_by_the_app_once_per_record() {
        let l = license();
        let marked = |at: &str| {
            let mut i = image(&l);
            i.insert("leaseLimitReachedAt".into(), AttributeValue::N(at.into()));
            i
        };
        let mut c = change(Some(&l), &l);
        c.new = Some(marked("1800003600"));
        assert_eq!(
            actors(&derive(&c)),
            [("license.lease_limit_reached", Some(Actor::App))]
        );
        // The same record again (another lease write): no new event.
        c.old = Some(marked("1800003600"));
        assert!(actors(&derive(&c)).is_empty());
        // An hour later, recorded again: a new event.
        c.new = Some(marked("1800007200"));
        assert_eq!(actors(&derive(&c)).len(), 1);
    }

    #[test]
    fn a_new_license_is_created_with_an_expiry_timer() {
        let l = license();
        let d = derive(&change(None, &l));
        assert_eq!(kinds(&d), ["license.created", "expire"]);
    }

    #[test]
    fn status_changes_renewals_and_devices() {
        let old = license();
        let mut new = old.clone();
        new.status = LicenseStatus::Suspended;
        assert_eq!(
            kinds(&derive(&change(Some(&old), &new))),
            ["license.suspended"]
        );
        assert_eq!(
            kinds(&derive(&change(Some(&new), &old))),
            ["license.reinstated"]
        );
        new.status = LicenseStatus::Revoked;
        assert_eq!(
            kinds(&derive(&change(Some(&old), &new))),
            ["license.revoked"]
        );

        let mut renewed = old.clone();
        renewed.expires_at = Some(t0() + Duration::days(60));
        assert_eq!(
            kinds(&derive(&change(Some(&old), &renewed))),
            ["license.renewed", "expire"]
        );

        let mut activated = old.clone();
        activated.devices.push(Device {
            device_id: "mac-1".into(),
            device_name: None,
            activated_at: t0(),
        });
        assert_eq!(
            kinds(&derive(&change(Some(&old), &activated))),
            ["license.activated"]
        );
        assert_eq!(
            kinds(&derive(&change(Some(&activated), &old))),
            ["license.deactivated"]
        );
        // Unrelated changes (email status, version) mean nothing.
        let mut mailed = old.clone();
        mailed.email_status = EmailStatus::Sent;
        assert!(derive(&change(Some(&old), &mailed)).is_empty());
    }

    #[test]
    fn an_expired_license_renewed_is_renewed_not_reinstated() {
        let mut old = license();
        old.expires_at = Some(t0());
        let mut new = old.clone();
        new.expires_at = Some(t0() + Duration::days(30));
        assert_eq!(
            kinds(&derive(&change(Some(&old), &new))),
            ["license.renewed", "expire"]
        );
    }

    #[test]
    fn ids_are_stable_per_record_and_distinct_per_event() {
        let old = license();
        let mut new = old.clone();
        new.status = LicenseStatus::Suspended;
        let id = |d: &[Derived]| match &d[0] {
            Derived::License { id, .. } => id.clone(),
            _ => unreachable!(),
        };
        let a = id(&derive(&change(Some(&old), &new)));
        assert_eq!(a, id(&derive(&change(Some(&old), &new))));
        let mut other = change(Some(&old), &new);
        other.record_id = "rec-2".into();
        assert_ne!(a, id(&derive(&other)));
        assert!(a.starts_with("evt_") && a.len() == 32, "{a}");
    }

    #[test]
    fn a_subscriptions_licenses_replaced_is_a_new_key_renewal() {
        let sub = |ids: &[&str]| {
            let mut i = Image::new();
            i.insert("pk".into(), AttributeValue::S("TENANT#ten_1".into()));
            i.insert("sk".into(), AttributeValue::S("SUB#sub_1".into()));
            i.insert("tenantId".into(), AttributeValue::S("ten_1".into()));
            i.insert("subscriptionId".into(), AttributeValue::S("sub_1".into()));
            i.insert(
                "licenseIds".into(),
                AttributeValue::L(
                    ids.iter()
                        .map(|s| AttributeValue::S(s.to_string()))
                        .collect(),
                ),
            );
            i
        };
        let change = |old: &[&str], new: &[&str]| Change {
            record_id: "r".into(),
            at: t0(),
            old: Some(sub(old)),
            new: Some(sub(new)),
        };
        match &derive(&change(&["lic_old"], &["lic_new"]))[..] {
            [Derived::NewKeyRenewal {
                license_ids,
                previous_license_ids,
                ..
            }] => {
                assert_eq!(license_ids, &["lic_new"]);
                assert_eq!(previous_license_ids, &["lic_old"]);
            }
            other => panic!("{other:?}"),
        }
        // The first link, and an extend-mode addition, are not renewals by new key.
        assert!(derive(&change(&[], &["lic_1"])).is_empty());
        assert!(derive(&change(&["lic_1"], &["lic_1", "lic_2"])).is_empty());
    }

    #[test]
    fn a_grace_period_end_is_a_suspend_timer_and_a_past_one_a_suspension() {
        let old = license();
        let mut grace = old.clone();
        grace.suspend_at = Some(t0() + Duration::days(3));
        assert_eq!(kinds(&derive(&change(Some(&old), &grace))), ["suspend"]);
        let mut lapsed = old.clone();
        lapsed.suspend_at = Some(t0());
        assert_eq!(
            kinds(&derive(&change(Some(&old), &lapsed))),
            ["license.suspended"]
        );
    }

    #[test]
    fn event_log_and_purchase_failures() {
        let entry = |status: EventStatus| {
            let e = EventLogEntry {
                event_id: "evt_stripe".into(),
                tenant_id: "ten_1".into(),
                app_id: "app_1".into(),
                event_type: "checkout.session.completed".into(),
                status,
                error: None,
                livemode: false,
                api_version: None,
                received_at: t0(),
                license_ids: vec![],
                purchase_ref: None,
                source: Default::default(),
            };
            let mut i: Image = serde_dynamo::to_item(&e).unwrap();
            i.insert("pk".into(), AttributeValue::S("TENANT#ten_1".into()));
            i.insert("sk".into(), AttributeValue::S("EVENT#evt_stripe".into()));
            i
        };
        let c = Change {
            record_id: "r".into(),
            at: t0(),
            old: Some(entry(EventStatus::Received)),
            new: Some(entry(EventStatus::Failed)),
        };
        assert_eq!(kinds(&derive(&c)), ["purchase.failed"]);
        let c = Change {
            old: Some(entry(EventStatus::Received)),
            new: Some(entry(EventStatus::Verified)),
            ..c
        };
        assert!(derive(&c).is_empty());
    }
}
