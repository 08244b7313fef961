//! The Rust client (`keyhook-client`) against a whole local stack over HTTP: keys issued by
//! signed Stripe events, then validated, activated, checked out as license files and
//! deactivated through the client, every answer verified by it; then the stack goes away and
//! the client carries on offline.

use keyhook_client::{Client, Config, Environment, Error, Source};
use keyhook_tests::{checkout_event, live_checkout_event, Stack};
use serde_json::json;

async fn key_set(stack: &Stack, tenant_id: &str) -> String {
    stack
        .http
        .get(format!(
            "{}/api/tenants/{tenant_id}/signing-keys",
            stack.base_url
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn license_key(stack: &Stack, token: &str, receipt: &serde_json::Value) -> String {
    let id = receipt["licenseIds"][0].as_str().unwrap();
    let (_, l) = stack
        .api(token, "GET", &format!("/api/licenses/{id}"), None)
        .await;
    l["key"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_client_validates_activates_checks_out_and_runs_offline() {
    let stack = Stack::start().await;
    let tenant = stack.tenant("Acme").await;
    let app = stack.live_app(&tenant).await;
    let product = stack
        .product(
            &tenant,
            json!({"maxDevices": 1, "trialDays": 14, "entitlements": ["pro"]}),
        )
        .await;
    let (event, _) = live_checkout_event(&product, None);
    let (_, receipt) = stack
        .post_event("/api/stripe/webhook", &event, &app.webhook_secret)
        .await;
    let key = license_key(&stack, &tenant.token, &receipt).await;

    let cache = std::env::temp_dir().join(format!("keyhook-client-online-{}", tenant.id));
    let mut config = Config::new(
        &stack.base_url,
        &product,
        &key_set(&stack, &tenant.id).await,
    )
    .unwrap();
    config.cache_dir = Some(cache.clone());
    let client = Client::new(config.clone()).unwrap();
    let device = keyhook_client::fingerprint::device_id_from(&product, "machine-under-test");

    // Not activated yet (the product limits devices).
    let s = client.validate(Some(&key), &device).await.unwrap();
    assert_eq!((s.valid, s.code.as_str()), (false, "NOT_ACTIVATED"));
    let s = client
        .activate(&key, &device, Some("Test machine"))
        .await
        .unwrap();
    assert!(s.valid, "{s:?}");
    let s = client.validate(Some(&key), &device).await.unwrap();
    assert!(s.valid && s.livemode && s.source == Source::Online, "{s:?}");
    // Another device is refused (one seat).
    let other = keyhook_client::fingerprint::device_id_from(&product, "another-machine");
    let s = client.activate(&key, &other, None).await.unwrap();
    assert_eq!(s.code, "DEVICE_LIMIT_REACHED");
    // With where the buyer frees a seat: the license's page in the merchant's portal.
    let license_id = receipt["licenseIds"][0].as_str().unwrap();
    let portal = format!("/portal/{}/licenses/{license_id}", tenant.id);
    assert!(
        s.manage_url
            .as_deref()
            .is_some_and(|u| u.ends_with(&portal)),
        "{s:?}"
    );
    // A trial for a fresh device, verified as a trial of this product and device.
    let s = client.validate(None, &other).await.unwrap();
    assert_eq!((s.valid, s.code.as_str()), (true, "TRIAL"));

    // A license file, verified and cached.
    let (file, payload) = client
        .checkout_file(&key, &device, Some(time::Duration::days(2)), true)
        .await
        .unwrap();
    assert!(file.contains("BEGIN KEYHOOK LICENSE FILE"));
    assert_eq!(payload.entitlements, vec!["pro"]);
    let refused = client.checkout_file(&key, &other, None, false).await;
    assert!(
        matches!(&refused, Err(Error::Refused { code, manage_url: Some(u), .. })
            if code == "DEVICE_LIMIT_REACHED" && u.ends_with(&portal)),
        "{refused:?}"
    );

    // Keyhook unreachable: the cached file carries the app.
    let mut offline = config.clone();
    offline.base_url = "http://127.0.0.1:9".into();
    let offline = Client::new(offline).unwrap();
    let s = offline.validate(Some(&key), &device).await.unwrap();
    assert!(
        s.valid && matches!(s.source, Source::LicenseFile { .. }),
        "{s:?}"
    );
    assert!(s.has("pro"));
    // An unknown device has no offline proof: the network error comes through.
    assert!(matches!(
        offline.validate(Some(&key), "never-seen").await,
        Err(Error::Network(_))
    ));
    // Without the file, the last good answer (within the grace period).
    let mut answer_only = config.clone();
    answer_only.base_url = "http://127.0.0.1:9".into();
    for f in std::fs::read_dir(&cache).unwrap() {
        let p = f.unwrap().path();
        if p.extension().is_some_and(|e| e == "lic") {
            std::fs::remove_file(p).unwrap();
        }
    }
    let s = Client::new(answer_only.clone())
        .unwrap()
        .validate(Some(&key), &device)
        .await
        .unwrap();
    assert!(
        s.valid && matches!(s.source, Source::CachedAnswer { .. }),
        "{s:?}"
    );
    answer_only.grace = time::Duration::ZERO;
    assert!(matches!(
        Client::new(answer_only)
            .unwrap()
            .validate(Some(&key), &device)
            .await,
        Err(Error::GraceExpired { .. })
    ));

    // Deactivation frees the seat and forgets the offline proofs.
    let s = client.deactivate(&key, &device).await.unwrap();
    assert_eq!(s.code, "NOT_ACTIVATED");
    assert!(matches!(
        offline.validate(Some(&key), &device).await,
        Err(Error::Network(_))
    ));
    let _ = std::fs::remove_dir_all(&cache);
}

#[tokio::test]
async fn the_client_refuses_answers_of_another_tenant_and_test_licenses_in_live_builds() {
    let stack = Stack::start().await;
    let tenant = stack.tenant("Acme").await;
    let other_tenant = stack.tenant("Other").await;
    let test_app = stack.app(&tenant).await;
    let product = stack.product(&tenant, json!({})).await;
    let (event, _) = checkout_event(&product, None);
    let (_, receipt) = stack
        .post_event("/api/stripe/webhook", &event, &test_app.webhook_secret)
        .await;
    let key = license_key(&stack, &tenant.token, &receipt).await;

    // An app that embeds another tenant's keys trusts none of this tenant's answers.
    let config = Config::new(
        &stack.base_url,
        &product,
        &key_set(&stack, &other_tenant.id).await,
    )
    .unwrap();
    let r = Client::new(config).unwrap().validate(Some(&key), "d").await;
    assert!(
        matches!(
            r,
            Err(Error::Verify(keyhook_format::VerifyError::UnknownKey(_)))
        ),
        "{r:?}"
    );

    let mut config = Config::new(
        &stack.base_url,
        &product,
        &key_set(&stack, &tenant.id).await,
    )
    .unwrap();
    let s = Client::new(config.clone())
        .unwrap()
        .validate(Some(&key), "d")
        .await
        .unwrap();
    assert_eq!((s.valid, s.code.as_str()), (false, "TEST_LICENSE"));
    config.environment = Environment::Test;
    let s = Client::new(config)
        .unwrap()
        .validate(Some(&key), "d")
        .await
        .unwrap();
    assert!(s.valid && !s.livemode, "{s:?}");
}
