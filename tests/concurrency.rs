//! Writers of one license racing each other over HTTP against the emulator: admin PATCHes,
//! activations and a refund. A write decided from what it read (a limit, the status, the
//! expiry) is conditional on the version it read (a read-modify-write with bounded retries);
//! contact details, which depend on nothing read, are written as given and never make the
//! others retry. Either way none undoes another: the activation's expiry stays, the refund's
//! revocation stays, the devices stay, and the last PATCH's name and limit are the ones kept.

use futures::future::join_all;
use keyhook_shared::domain::activity::{Actor, Origin};
use keyhook_tests::stripe::{self as fake, Shape};
use keyhook_tests::{checkout_event, Stack, TestApp, TestTenant, WEBHOOK};
use serde_json::{json, Value};

const ACTIVATE: &str = "/api/licenses/activate";
const LICENSES: usize = 4;
const PATCHES: usize = 12;
const DEVICES: usize = 3;
// The last PATCH is one that changes the limit too (see `max_devices`).
const _: () = assert!((PATCHES - 1) % 4 == 3);

async fn activate(stack: &Stack, key: &str, product: &str, device: &str) -> Value {
    let res = stack
        .http
        .post(format!("{}{ACTIVATE}", stack.base_url))
        // Test-mode purchase: the app says it is a test build.
        .json(&json!({"licenseKey": key, "productId": product, "deviceId": device, "environment": "test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The limit the `i`th PATCH sets: always above the devices activated, so none is refused.
fn max_devices(i: usize) -> usize {
    DEVICES + 1 + i
}

async fn patch(stack: &Stack, t: &TestTenant, id: &str, body: Value) -> (u16, Value) {
    stack
        .api(
            &t.token,
            "PATCH",
            &format!("/api/licenses/{id}"),
            Some(body),
        )
        .await
}

async fn refund(stack: &Stack, app: &TestApp, payment_intent: &str) {
    let event = fake::event(
        "charge.refunded",
        fake::charge(Some(payment_intent), None, 2999, 2999),
        Shape::Basil,
        time::OffsetDateTime::now_utc().unix_timestamp(),
    );
    let (status, receipt) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["status"], "verified", "{receipt}");
}

#[tokio::test]
async fn patches_activations_and_a_refund_racing_lose_nothing() {
    let stack = Stack::start().await;
    let tenant = stack.tenant("Acme").await;
    let app = stack.app(&tenant).await;
    // The clock starts at the first activation; no device limit.
    let product = stack
        .product(
            &tenant,
            json!({"defaultLicenseDays": 30, "expirationStart": "activation"}),
        )
        .await;
    let (event, _) = checkout_event(&product, Some(LICENSES as u32));
    let payment_intent = event["data"]["object"]["payment_intent"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, receipt) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!(status, 200, "{receipt}");
    let ids: Vec<String> = receipt["licenseIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), LICENSES);
    let mut keys = Vec::new();
    for id in &ids {
        let (_, l) = stack
            .api(&tenant.token, "GET", &format!("/api/licenses/{id}"), None)
            .await;
        assert!(l["expiresAt"].is_null(), "the clock has not started: {l}");
        keys.push(l["key"].as_str().unwrap().to_string());
    }

    // Per license: a stream of PATCHes of the name, and activations of a few devices, all at
    // once; the refund lands in the middle of it.
    let races = ids.iter().zip(&keys).map(|(id, key)| {
        let (stack, tenant, product) = (&stack, &tenant, &product);
        async move {
            let patches = async move {
                for i in 0..PATCHES {
                    let mut body = json!({"customerName": format!("Name {i}")});
                    // Every fourth also changes a limit: a versioned edit racing the others.
                    if i % 4 == 3 {
                        body["maxDevices"] = json!(max_devices(i));
                    }
                    let (status, body) = patch(stack, tenant, id, body).await;
                    assert_eq!(status, 200, "{body}");
                }
            };
            let activations = async move {
                for d in 0..DEVICES {
                    let answer = activate(stack, key, product, &format!("{id}-device-{d}")).await;
                    // After the refund, the license is revoked: that answer is right too.
                    assert!(
                        answer["code"] == "VALID" || answer["code"] == "REVOKED",
                        "{answer}"
                    );
                }
            };
            futures::join!(patches, activations);
        }
    });
    let refund_in_the_middle = async {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        refund(&stack, &app, &payment_intent).await;
    };
    futures::join!(join_all(races), refund_in_the_middle);

    let mut activated_devices = 0;
    for id in &ids {
        let (_, l) = stack
            .api(&tenant.token, "GET", &format!("/api/licenses/{id}"), None)
            .await;
        assert_eq!(l["status"], "revoked", "the refund is never undone: {l}");
        assert_eq!(
            (l["customerName"].as_str(), l["maxDevices"].as_u64()),
            (
                Some(format!("Name {}", PATCHES - 1).as_str()),
                Some(max_devices(PATCHES - 1) as u64)
            ),
            "the last PATCH wins: {l}"
        );
        let devices = l["devices"].as_array().unwrap().len();
        activated_devices += devices;
        if devices > 0 {
            assert!(
                !l["expiresAt"].is_null(),
                "an activation started the clock; no PATCH reset it: {l}"
            );
        }
    }
    assert!(
        activated_devices > 0,
        "some activations ran before the refund"
    );

    // PATCHing a revoked license back to active is refused, whatever the timing.
    let (status, body) = patch(&stack, &tenant, &ids[0], json!({"status": "active"})).await;
    assert_eq!(status, 409, "{body}");
}

/// The version is what tells a validation write that the license changed under its decision:
/// a rename leaves it (nothing is decided from a name), a change of a limit moves it.
#[tokio::test]
async fn a_rename_leaves_a_validation_decision_current_and_a_limit_change_does_not() {
    use keyhook_shared::domain::validation::{LicenseChange, LicenseUsage};
    use keyhook_shared::domain::License;
    use keyhook_shared::store::license_usage::ChangeWrite;

    let stack = Stack::start().await;
    let tenant = stack.tenant("Acme").await;
    let app = stack.app(&tenant).await;
    let product = stack.product(&tenant, json!({})).await;
    let (event, _) = checkout_event(&product, Some(1));
    let (status, receipt) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!(status, 200, "{receipt}");
    let id = receipt["licenseIds"][0].as_str().unwrap().to_string();
    let store = &stack.services.store;
    // A validation's write, decided on `read` (what it writes does not matter here).
    let write_decided_on = |(license, usage): (License, LicenseUsage)| async move {
        let change = LicenseChange {
            devices: Some(license.devices.clone()),
            ..Default::default()
        };
        store
            .write_license_change(
                &license,
                &usage,
                &change,
                time::OffsetDateTime::now_utc(),
                &Origin::new(Actor::App, None),
            )
            .await
            .unwrap()
    };

    let read = store.get_license_with_usage(&id).await.unwrap().unwrap();
    let (status, body) = patch(&stack, &tenant, &id, json!({"customerName": "Grace"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(write_decided_on(read).await, ChangeWrite::Written);

    let read = store.get_license_with_usage(&id).await.unwrap().unwrap();
    let (status, body) = patch(&stack, &tenant, &id, json!({"maxDevices": 7})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(write_decided_on(read).await, ChangeWrite::Stale);

    let (_, l) = stack
        .api(&tenant.token, "GET", &format!("/api/licenses/{id}"), None)
        .await;
    assert_eq!(
        (l["customerName"].as_str(), l["maxDevices"].as_u64()),
        (Some("Grace"), Some(7)),
        "{l}"
    );
}
