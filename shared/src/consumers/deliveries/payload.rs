//! The `data` of each outgoing event, and the bounds on what is sent. License events carry the
//! license as `GET /api/licenses/{id}` shows it, key included (the payload is stored sealed
//! under the tenant key and sent only over TLS to the tenant's own endpoints), except its
//! devices, which are summarised: a license may hold 1,000 device ids of 256 characters, and
//! one tenant's license must not make a payload that cannot be stored or sent.
//!
//! The rules (docs/webhooks.md, "Payload size"):
//! - `license.devices` holds at most [`MAX_PAYLOAD_DEVICES`] devices, the most recently
//!   activated (among equal times, the later in the license's list), in the license's order;
//!   `license.deviceCount` is how many it has and `license.devicesTruncated` whether some were
//!   left out;
//! - a whole body is at most [`MAX_BODY_BYTES`]: a larger one is sent in its reference form,
//!   `data` cut to the ids (see [`reference`]) with `data.truncated: true`. An event whose
//!   data cannot be read at all is recorded in that form too (see `emit`).

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use crate::domain::activity::Actor;
use crate::domain::license::Device;
use crate::domain::webhooks::derive::Derived;
use crate::domain::License;
use crate::handlers::admin::events::EventView;
use crate::handlers::admin::licenses::{self, LicenseView};
use crate::{Result, Services};

/// The most devices a license event lists.
pub const MAX_PAYLOAD_DEVICES: usize = 10;

/// The largest body sent (and stored, sealed: 4/3 of it in base64, far below DynamoDB's 400 KB
/// item). Events without a device list are a few kilobytes; a license with
/// [`MAX_PAYLOAD_DEVICES`] of the longest device ids and names stays under 32 KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The fields an object keeps in the reference form: what names it, and a license's status.
const REFERENCE_FIELDS: [&str; 7] = [
    "id",
    "productId",
    "status",
    "eventId",
    "purchaseRef",
    "deviceId",
    "deviceHash",
];

/// `{ "license": LicenseView, "actor": … }`, devices summarised; `actor` is who made the
/// change (`domain::activity`), `null` when no one did (the expiry passing) or it was not
/// recorded.
pub async fn license(s: &Services, l: License, actor: Option<Actor>) -> Result<Value> {
    let status = l.status_at(s.clock.now());
    let mut view = licenses::view(s, l).await?;
    view.status = status;
    Ok(json!({ "license": summarised(view), "actor": actor }))
}

/// A license view with its device list cut to the most recent [`MAX_PAYLOAD_DEVICES`], and
/// `deviceCount` and `devicesTruncated` beside it.
pub fn summarised(mut view: LicenseView) -> Value {
    let all = std::mem::take(&mut view.devices);
    let count = all.len();
    let kept = most_recent(all, MAX_PAYLOAD_DEVICES);
    let truncated = kept.len() < count;
    let mut v = serde_json::to_value(view).expect("a license view serialises");
    v["devices"] = json!(kept);
    v["deviceCount"] = json!(count);
    v["devicesTruncated"] = json!(truncated);
    v
}

/// The `n` most recently activated devices (among equal times, the later in the list), in
/// their original order.
fn most_recent(devices: Vec<Device>, n: usize) -> Vec<Device> {
    if devices.len() <= n {
        return devices;
    }
    let mut newest_first: Vec<usize> = (0..devices.len()).collect();
    newest_first.sort_by(|&a, &b| {
        devices[b]
            .activated_at
            .cmp(&devices[a].activated_at)
            .then(b.cmp(&a))
    });
    let mut keep = newest_first[..n].to_vec();
    keep.sort_unstable();
    let mut slots: Vec<Option<Device>> = devices.into_iter().map(Some).collect();
    keep.into_iter().filter_map(|i| slots[i].take()).collect()
}

/// The `data` of a derived event (not of a new-key renewal or a timer: see `stream`).
pub async fn data(s: &Services, d: &Derived) -> Result<Value> {
    Ok(match d {
        Derived::License {
            license: l,
            device,
            previous_expires_at,
            actor,
            meter,
            ..
        } => {
            let mut data = license(s, (**l).clone(), *actor).await?;
            if let Some(m) = meter {
                data["meter"] = json!(m);
            }
            if let Some(device) = device {
                data["device"] = json!(device);
            }
            if let Some(t) = previous_expires_at {
                data["previousExpiresAt"] = json!(crate::time::format(*t));
            }
            data
        }
        other => stored(other),
    })
}

/// The data of the events built from the stored item alone (no key to open).
fn stored(d: &Derived) -> Value {
    match d {
        Derived::TrialStarted { device, .. } => json!({
            "trial": {
                "productId": device.product_id,
                "deviceHash": device.device_hash,
                "startedAt": device.trial_started_at.map(crate::time::format),
                "expiresAt": device.trial_expires_at.map(crate::time::format),
            }
        }),
        Derived::PurchaseFailed { entry, .. } => {
            json!({ "event": EventView::from((**entry).clone()) })
        }
        Derived::EmailFailed { purchase: p, .. } => json!({
            "purchase": {
                "purchaseRef": p.purchase_ref,
                "appId": p.app_id,
                "eventId": p.event_id,
                "customerEmail": p.customer_email,
                "customerName": p.customer_name,
                "licenseIds": p.license_ids,
                "productIds": p.product_ids,
                "emailStatus": p.email_status,
            }
        }),
        Derived::License { .. } | Derived::NewKeyRenewal { .. } | Derived::Timer { .. } => {
            Value::Null
        }
    }
}

/// The reference form of a license event's data, from the stored license alone: what is sent
/// when the license's view cannot be built (its key does not open). `actor` as in [`license`].
pub fn license_reference(l: &License, at: OffsetDateTime, actor: Option<Actor>) -> Value {
    let mut data = reference(&json!({
        "license": { "id": l.id, "productId": l.product_id, "status": l.status_at(at) }
    }));
    data["actor"] = json!(actor);
    data
}

/// The reference form of a derived event's data, without I/O.
pub fn reference_of(d: &Derived, at: OffsetDateTime) -> Value {
    match d {
        Derived::License {
            license,
            device,
            previous_expires_at,
            actor,
            meter,
            ..
        } => {
            let mut data = license_reference(license, at, *actor);
            if let Some(m) = meter {
                data["meter"] = json!(m);
            }
            if let Some(device) = device {
                data["device"] = json!({ "deviceId": device.device_id });
            }
            if let Some(t) = previous_expires_at {
                data["previousExpiresAt"] = json!(crate::time::format(*t));
            }
            data
        }
        other => reference(&stored(other)),
    }
}

/// The reference form of `data`: each object keeps only its [`REFERENCE_FIELDS`], strings,
/// numbers and booleans stay, lists are left out; `truncated: true` says so.
pub fn reference(data: &Value) -> Value {
    let mut out = Map::new();
    if let Value::Object(fields) = data {
        for (name, value) in fields {
            match value {
                Value::Object(object) => {
                    let kept: Map<String, Value> = object
                        .iter()
                        .filter(|(k, v)| REFERENCE_FIELDS.contains(&k.as_str()) && !v.is_null())
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    out.insert(name.clone(), Value::Object(kept));
                }
                Value::Array(_) | Value::Null => {}
                scalar => {
                    out.insert(name.clone(), scalar.clone());
                }
            }
        }
    }
    out.insert("truncated".into(), Value::Bool(true));
    Value::Object(out)
}

/// The body sent: `{ id, type, timestamp, data }`, at most [`MAX_BODY_BYTES`]: `data` in its
/// reference form when whole it would be larger (and `{ "truncated": true }` alone should even
/// that be: it cannot, the ids are bounded, but the bound does not rest on it).
pub fn body(id: &str, kind: &str, at: OffsetDateTime, data: &Value) -> Vec<u8> {
    let with = |data: &Value| {
        serde_json::to_vec(&json!({
            "id": id,
            "type": kind,
            "timestamp": crate::time::format(at),
            "data": data,
        }))
        .expect("JSON serialises")
    };
    let whole = with(data);
    if whole.len() <= MAX_BODY_BYTES {
        return whole;
    }
    let cut = with(&reference(data));
    if cut.len() <= MAX_BODY_BYTES {
        return cut;
    }
    with(&json!({ "truncated": true }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EmailStatus, LicenseSource, LicenseStatus};
    use time::Duration;

    fn t0() -> OffsetDateTime {
        crate::time::from_unix(1_800_000_000).unwrap()
    }

    fn device(i: usize, at: OffsetDateTime) -> Device {
        let head = format!("node-{i:04}-");
        Device {
            device_id: format!("{head}{}", "é".repeat(256 - head.chars().count())),
            device_name: Some("n".repeat(200)),
            activated_at: at,
        }
    }

    fn view(devices: Vec<Device>) -> LicenseView {
        LicenseView {
            id: "lic_1".into(),
            key: "ABCDE-FGHIJ".into(),
            product_id: "42".into(),
            status: LicenseStatus::Active,
            customer_email: Some("a@example.com".into()),
            customer_name: Some("x".repeat(200)),
            expires_at: None,
            max_devices: 0,
            max_ips: 0,
            devices,
            source: LicenseSource::default(),
            email_status: EmailStatus::Sent,
            product_ids: vec!["42".into()],
            external_id: Some("e".repeat(200)),
            livemode: Some(true),
            max_concurrent: None,
            lease_seconds: None,
            max_borrow_seconds: None,
            created_at: crate::time::format(t0()),
        }
    }

    fn ids(v: &Value) -> Vec<String> {
        v["devices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["deviceId"].as_str().unwrap()[..9].to_string())
            .collect()
    }

    #[test]
    fn a_short_device_list_is_sent_whole() {
        let devices: Vec<Device> = (0..3).map(|i| device(i, t0())).collect();
        let v = summarised(view(devices.clone()));
        assert_eq!(v["devices"], json!(devices));
        assert_eq!(v["deviceCount"], 3);
        assert_eq!(v["devicesTruncated"], false);
        assert_eq!(v["key"], "ABCDE-FGHIJ");
    }

    #[test]
    fn a_long_device_list_keeps_the_most_recently_activated_in_the_licenses_order() {
        // Activated in reverse order: the first in the list is the newest.
        let devices: Vec<Device> = (0..1000)
            .map(|i| device(i, t0() + Duration::minutes(1000 - i as i64)))
            .collect();
        let v = summarised(view(devices));
        assert_eq!(v["deviceCount"], 1000);
        assert_eq!(v["devicesTruncated"], true);
        let first_ten: Vec<String> = (0..10).map(|i| format!("node-{i:04}")).collect();
        assert_eq!(ids(&v), first_ten);
        // Equal times (an import without activation times): the later in the list, kept in
        // the list's order.
        let same: Vec<Device> = (0..30).map(|i| device(i, t0())).collect();
        let last_ten: Vec<String> = (20..30).map(|i| format!("node-{i:04}")).collect();
        assert_eq!(ids(&summarised(view(same))), last_ten);
    }

    #[test]
    fn a_license_with_a_thousand_of_the_longest_devices_fits_the_cap_whole() {
        let devices: Vec<Device> = (0..1000).map(|i| device(i, t0())).collect();
        let data = json!({ "license": summarised(view(devices.clone())), "device": devices[0] });
        let body = body("evt_1", "license.activated", t0(), &data);
        assert!(body.len() <= MAX_BODY_BYTES / 2, "{} bytes", body.len());
        let sent: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(sent["data"], data, "not cut: the summary is enough");
    }

    #[test]
    fn a_body_over_the_cap_is_sent_in_its_reference_form() {
        let mut license = serde_json::to_value(view(vec![])).unwrap();
        license["customerName"] = json!("y".repeat(MAX_BODY_BYTES));
        let data = json!({
            "license": license,
            "previousExpiresAt": "2027-01-01T00:00:00.000Z",
            "previousLicenseIds": ["lic_0"],
        });
        let body = body("evt_1", "license.renewed", t0(), &data);
        assert!(body.len() <= MAX_BODY_BYTES);
        let sent: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(sent["id"], "evt_1");
        assert_eq!(sent["type"], "license.renewed");
        assert_eq!(
            sent["data"],
            json!({
                "license": {"id": "lic_1", "productId": "42", "status": "active"},
                "previousExpiresAt": "2027-01-01T00:00:00.000Z",
                "truncated": true,
            })
        );
        // Even a reference form over the cap is cut to the flag.
        let huge = json!({ "license": { "id": "i".repeat(MAX_BODY_BYTES) } });
        let sent: Value = serde_json::from_slice(&body_of(&huge)).unwrap();
        assert_eq!(sent["data"], json!({ "truncated": true }));
    }

    fn body_of(data: &Value) -> Vec<u8> {
        body("evt_2", "license.created", t0(), data)
    }

    #[test]
    fn a_license_events_reference_names_the_license_and_the_device() {
        let l = License {
            id: "lic_1".into(),
            tenant_id: "ten_1".into(),
            key_hash: "h".into(),
            key_sealed: "not a seal".into(),
            product_id: "42".into(),
            status: LicenseStatus::Suspended,
            customer_email: None,
            customer_name: None,
            expires_at: None,
            suspend_at: None,
            expiration_start: crate::domain::ExpirationStart::Creation,
            license_days: None,
            max_devices: 0,
            max_ips: 0,
            devices: (0..1000).map(|i| device(i, t0())).collect(),
            source: LicenseSource::default(),
            purchase_ref: None,
            email_status: EmailStatus::Sent,
            also_product_ids: vec![],
            external_id: None,
            livemode: Some(true),
            max_concurrent: None,
            lease_seconds: None,
            max_borrow_seconds: None,
            created_at: t0(),
            updated_at: t0(),
        };
        let d = Derived::License {
            id: "evt_1".into(),
            kind: crate::domain::webhooks::EventType::LicenseDeactivated,
            license: Box::new(l),
            device: Some(device(7, t0())),
            previous_expires_at: None,
            actor: Some(Actor::Customer),
            meter: None,
        };
        let r = reference_of(&d, t0());
        assert_eq!(
            r["license"],
            json!({"id": "lic_1", "productId": "42", "status": "suspended"})
        );
        assert_eq!(r["device"]["deviceId"], device(7, t0()).device_id);
        assert_eq!(r["truncated"], true);
        assert_eq!(r["actor"], "customer");
    }
}
