//! Key rotations racing each other and the writes they touch, over HTTP against the emulator.
//! A tenant-key activation and a signing-key activation both change the tenant record; a
//! tenant-key activation also re-seals every app's secrets. Each write is conditional on what
//! its request read, so none puts back a key another replaced: the key a request says it
//! activated is the one in use, every secret still opens, and a secret changed meanwhile stays
//! changed.

use futures::future::join_all;
use keyhook_shared::crypto::SealContext;
use keyhook_shared::domain::stripe_app::fields;
use keyhook_tests::{checkout_event, Stack, TestTenant, WEBHOOK};
use serde_json::{json, Value};

const ROUNDS: usize = 6;

/// `(status, body)` of a POST with no body.
async fn post(stack: &Stack, t: &TestTenant, path: &str) -> (u16, Value) {
    stack.api(&t.token, "POST", path, None).await
}

/// A loser's answer is a clear conflict, never a failure.
fn won(what: &str, (status, body): &(u16, Value)) -> bool {
    match status {
        200 => true,
        409 => {
            assert_eq!(body["code"], "conflict", "{what}: {body}");
            false
        }
        _ => panic!("{what} answered {status}: {body}"),
    }
}

async fn active_tenant_key(stack: &Stack, t: &TestTenant) -> String {
    let (_, keys) = stack.api(&t.token, "GET", "/api/tenant-keys", None).await;
    let active: Vec<&Value> = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["active"] == true)
        .collect();
    assert_eq!(active.len(), 1, "one active tenant key: {keys}");
    active[0]["id"].as_str().unwrap().to_string()
}

/// The signing keys as the admin API lists them (the active one first).
async fn signing_keys(stack: &Stack, t: &TestTenant) -> Vec<Value> {
    let (status, set) = stack.api(&t.token, "GET", "/api/signing-keys", None).await;
    assert_eq!(status, 200, "{set}");
    set["keys"].as_array().unwrap().clone()
}

#[tokio::test]
async fn tenant_and_signing_key_activations_racing_lose_no_key() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let app = stack.app(&t).await;
    let product = stack.product(&t, json!({})).await;
    let (event, _) = checkout_event(&product, Some(2));
    let (status, receipt) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!(status, 200, "{receipt}");
    let keys_before: Vec<Value> = stack
        .licenses(&t, "")
        .await
        .iter()
        .map(|l| l["key"].clone())
        .collect();
    let license_key = keys_before[0].as_str().unwrap().to_string();

    let mut signed_before = vec![signing_keys(&stack, &t).await[0]["kid"].clone()];
    for round in 0..ROUNDS {
        let (status, tenant_key) = post(&stack, &t, "/api/tenant-keys").await;
        assert_eq!(status, 201, "{tenant_key}");
        let tenant_key = tenant_key["id"].as_str().unwrap().to_string();
        let (status, signing_key) = post(&stack, &t, "/api/signing-keys").await;
        assert_eq!(status, 201, "{signing_key}");
        let kid = signing_key["kid"].as_str().unwrap().to_string();
        let tenant_key_path = format!("/api/tenant-keys/{tenant_key}/activate");
        let signing_key_path = format!("/api/signing-keys/{kid}/activate");

        let (tenant_key_answer, signing_key_answer) = futures::join!(
            post(&stack, &t, &tenant_key_path),
            post(&stack, &t, &signing_key_path)
        );

        if won("tenant-key activation", &tenant_key_answer) {
            assert_eq!(
                active_tenant_key(&stack, &t).await,
                tenant_key,
                "round {round}: the tenant key activated is the active one"
            );
        }
        let keys = signing_keys(&stack, &t).await;
        if won("signing-key activation", &signing_key_answer) {
            assert_eq!(
                keys[0]["kid"], kid,
                "round {round}: the signing key activated is the one signing: {keys:?}"
            );
            signed_before.push(json!(kid));
        }
        // One key signs; every key that signed before is published as retired, with the time
        // it stopped, so every answer it signed keeps verifying and no later answer claims it.
        assert_eq!(keys[0]["status"], "active", "{keys:?}");
        for k in &keys[1..] {
            assert_ne!(k["status"], "active", "{keys:?}");
        }
        for earlier in &signed_before[..signed_before.len() - 1] {
            let k = keys
                .iter()
                .find(|k| &k["kid"] == earlier)
                .unwrap_or_else(|| panic!("round {round}: {earlier} is gone: {keys:?}"));
            assert_eq!(k["status"], "retired", "round {round}: {keys:?}");
            assert!(k["retiredAt"].is_string(), "round {round}: {keys:?}");
        }
        let answer: Value = stack
            .http
            .post(format!("{}/api/licenses/validate", stack.base_url))
            .json(&json!({"licenseKey": license_key, "productId": product}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["kid"], keys[0]["kid"], "the active key signs");
    }

    // Every secret still opens, under whichever keys it was sealed.
    let keys_after: Vec<Value> = stack
        .licenses(&t, "")
        .await
        .iter()
        .map(|l| l["key"].clone())
        .collect();
    assert_eq!(keys_before, keys_after);
    let (event, _) = checkout_event(&product, None);
    let (status, r) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!(
        (status, r["status"].as_str()),
        (200, Some("verified")),
        "{r}"
    );
}

#[tokio::test]
async fn a_tenant_key_activation_does_not_undo_a_secret_changed_meanwhile() {
    const APPS: usize = 6;
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let mut apps = Vec::new();
    for i in 0..APPS {
        apps.push(
            stack
                .app_with(&t, json!({"name": format!("App {i}"), "isDefault": i == 0}))
                .await,
        );
    }
    let store = &stack.services.store;
    let keyring = &stack.services.keyring;
    for round in 0..ROUNDS / 2 {
        let (status, tenant_key) = post(&stack, &t, "/api/tenant-keys").await;
        assert_eq!(status, 201, "{tenant_key}");
        let path = format!(
            "/api/tenant-keys/{}/activate",
            tenant_key["id"].as_str().unwrap()
        );
        let secrets: Vec<String> = (0..APPS)
            .map(|i| format!("whsec_round{round}app{i}x{}", keyhook_tests::unique("s")))
            .map(|s| s.replace('-', ""))
            .collect();
        let changes = apps.iter().zip(&secrets).map(|(app, secret)| {
            let (stack, t) = (&stack, &t);
            async move {
                let (status, body) = stack
                    .api(
                        &t.token,
                        "PUT",
                        &format!("/api/stripe/apps/{}", app.id),
                        Some(json!({"webhookSigningSecret": secret})),
                    )
                    .await;
                assert_eq!(status, 200, "{body}");
            }
        });
        let (activation, _) = futures::join!(post(&stack, &t, &path), join_all(changes));
        assert_eq!(activation.0, 200, "{}", activation.1);

        for (app, secret) in apps.iter().zip(&secrets) {
            let stored = store.get_app(&app.id).await.unwrap().unwrap();
            let opened = keyring
                .open_secret(
                    SealContext {
                        tenant_id: &t.id,
                        owner: &app.id,
                        field: fields::WEBHOOK_SECRET,
                    },
                    stored.webhook_secret_sealed.as_deref().unwrap(),
                )
                .await
                .unwrap()
                .expect("the secret opens");
            assert_eq!(
                opened.expose(),
                secret,
                "round {round}: the change made during the activation stays ({})",
                app.id
            );
        }
    }
}
