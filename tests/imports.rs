//! Issue 27, "Imported keys belong to their tenant": an imported key is looked up within the
//! product (so the tenant) it was imported for; the same legacy key in two tenants is two
//! licenses; neither an import nor its dry run tells whether another tenant has a key;
//! licenses imported before keys were scoped keep working, for their own tenant only; an import
//! never overwrites a license created while it ran; imports are rate-limited per tenant; and
//! dates at the end of year 9999 are an entry's error, never a panic.

use keyhook_shared::crypto::{seal, SealContext};
use keyhook_shared::domain::activity::{Actor, Origin};
use keyhook_shared::domain::license::KEY_SEAL_FIELD;
use keyhook_shared::domain::license_key::AnyKey;
use keyhook_shared::domain::{EmailStatus, ExpirationStart, License, LicenseSource, LicenseStatus};
use keyhook_shared::handlers::admin::license_import::IMPORT_REQUESTS_PER_MINUTE;
use keyhook_shared::store::imports::{ImportWrite, LicenseImport};
use keyhook_tests::{unique, Stack, TestTenant};
use serde_json::{json, Value};

fn entry(key: &str, product: &str, external_id: &str) -> Value {
    json!({"key": key, "productId": product, "externalId": external_id})
}

/// A validation answer (live build: imported licenses are live).
async fn validate(stack: &Stack, key: &str, product: &str) -> Value {
    let res = stack
        .http
        .post(format!("{}/api/licenses/validate", stack.base_url))
        .json(&json!({"licenseKey": key, "productId": product}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    res.json().await.unwrap()
}

async fn license(stack: &Stack, tenant: &TestTenant, id: &str) -> Value {
    let (status, l) = stack
        .api(&tenant.token, "GET", &format!("/api/licenses/{id}"), None)
        .await;
    assert_eq!(status, 200, "{l}");
    l
}

#[tokio::test]
async fn the_same_legacy_key_in_two_tenants_is_two_licenses_each_valid_under_its_own_product() {
    let stack = Stack::start().await;
    let (a, b) = (stack.tenant("A").await, stack.tenant("B").await);
    let product_a = stack.product(&a, json!({})).await;
    let other_a = stack.product(&a, json!({})).await;
    let product_b = stack.product(&b, json!({})).await;
    let key = format!("LEGACY-{}", unique("k"));

    let mut ids = Vec::new();
    for (tenant, product, email) in [
        (&a, &product_a, "ada@example.com"),
        (&b, &product_b, "bob@example.com"),
    ] {
        let report = stack
            .imported(
                tenant,
                json!({"licenses": [{"key": key, "productId": product, "externalId": "x-1",
                                 "customerEmail": email, "maxDevices": 0}]}),
            )
            .await;
        assert_eq!(report["results"][0]["status"], "created", "{report}");
        let id = report["results"][0]["licenseId"]
            .as_str()
            .unwrap()
            .to_string();
        let l = license(&stack, tenant, &id).await;
        assert_eq!(
            (l["key"].as_str(), l["customerEmail"].as_str()),
            (Some(key.as_str()), Some(email))
        );
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1], "two tenants, two licenses");

    // Each validates under its own product, as its own license; under any other product the
    // key is unknown (another tenant's license is never found through this tenant's product).
    for (product, id) in [(&product_a, &ids[0]), (&product_b, &ids[1])] {
        let answer = validate(&stack, &key, product).await;
        assert_eq!(answer["code"], "VALID", "{answer}");
        assert_eq!(answer["license"]["id"], id.as_str(), "{answer}");
    }
    let answer = validate(&stack, &key, &other_a).await;
    assert_eq!(answer["code"], "NOT_FOUND", "{answer}");
    assert!(answer.get("license").is_none(), "{answer}");
    for id in &ids {
        assert!(!answer.to_string().contains(id.as_str()), "{answer}");
    }

    // Revoking A's license leaves B's valid.
    let (status, _) = stack
        .api(
            &a.token,
            "PATCH",
            &format!("/api/licenses/{}", ids[0]),
            Some(json!({"status": "revoked"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(validate(&stack, &key, &product_a).await["code"], "REVOKED");
    assert_eq!(validate(&stack, &key, &product_b).await["code"], "VALID");
}

#[tokio::test]
async fn a_dry_run_never_reports_another_tenants_key() {
    let stack = Stack::start().await;
    let (a, b) = (stack.tenant("A").await, stack.tenant("B").await);
    let product_a = stack.product(&a, json!({})).await;
    let product_b = stack.product(&b, json!({})).await;
    // Short legacy keys, the kind one could guess by the thousand.
    let keys: Vec<String> = (0..20)
        .map(|i| format!("EX{i:02}-{}", unique("g")))
        .collect();
    let entries: Vec<Value> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| entry(k, &product_a, &format!("a-{i}")))
        .collect();
    let report = stack.imported(&a, json!({"licenses": entries})).await;
    assert_eq!(report["created"], 20, "{report}");

    // B guesses every one of them: a dry run, then for real.
    let guesses: Vec<Value> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| entry(k, &product_b, &format!("b-{i}")))
        .collect();
    let dry = stack
        .imported(&b, json!({"licenses": guesses, "dryRun": true}))
        .await;
    assert_eq!(
        (dry["created"].as_u64(), dry["failed"].as_u64()),
        (Some(20), Some(0)),
        "B's dry run says nothing of A's keys: {dry}"
    );
    assert!(dry["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["status"] == "would_create" && r.get("error").is_none()));
    let real = stack.imported(&b, json!({"licenses": guesses})).await;
    assert_eq!(real["created"], 20, "{real}");
    // And A's licenses are as they were.
    for k in &keys {
        assert_eq!(validate(&stack, k, &product_a).await["code"], "VALID");
    }
}

/// A license stored the way imports stored them before keys were scoped (one namespace for
/// the deployment: `AnyKey::unscoped_license_id`).
async fn legacy_license(stack: &Stack, tenant: &TestTenant, product: &str, key: &str) -> String {
    let k = AnyKey::parse(key).unwrap();
    let id = k.unscoped_license_id();
    let data_key = stack.services.keyring.active_key(&tenant.id).await.unwrap();
    let now = time::OffsetDateTime::now_utc();
    let license = License {
        id: id.clone(),
        tenant_id: tenant.id.clone(),
        key_hash: hex::encode(k.unscoped_hash()),
        key_sealed: seal::seal(
            &data_key,
            SealContext {
                tenant_id: &tenant.id,
                owner: &id,
                field: KEY_SEAL_FIELD,
            },
            key.as_bytes(),
        ),
        product_id: product.to_string(),
        status: LicenseStatus::Active,
        customer_email: None,
        customer_name: None,
        expires_at: None,
        suspend_at: None,
        expiration_start: ExpirationStart::Creation,
        license_days: None,
        max_devices: 0,
        max_ips: 0,
        devices: Vec::new(),
        source: LicenseSource::default(),
        purchase_ref: None,
        email_status: EmailStatus::Disabled,
        also_product_ids: Vec::new(),
        external_id: Some("legacy-1".into()),
        livemode: Some(true),
        max_concurrent: None,
        lease_seconds: None,
        max_borrow_seconds: None,
        created_at: now,
        updated_at: now,
    };
    let record = LicenseImport {
        tenant_id: tenant.id.clone(),
        external_id: "legacy-1".into(),
        license_id: id.clone(),
        imported_at: now,
    };
    let written = stack
        .services
        .store
        .write_imported(&[(license, record)], &merchant())
        .await
        .unwrap();
    assert_eq!(written, vec![ImportWrite::Written]);
    id
}

#[tokio::test]
async fn licenses_imported_before_keys_were_scoped_keep_working_for_their_tenant_only() {
    let stack = Stack::start().await;
    let (a, b) = (stack.tenant("A").await, stack.tenant("B").await);
    let product_a = stack.product(&a, json!({})).await;
    let product_b = stack.product(&b, json!({})).await;
    let key = format!("OLD-{}", unique("k"));
    let legacy = legacy_license(&stack, &a, &product_a, &key).await;

    // Found at its old id, under its own product: same license id as before.
    let answer = validate(&stack, &key, &product_a).await;
    assert_eq!(
        (answer["code"].as_str(), answer["license"]["id"].as_str()),
        (Some("VALID"), Some(legacy.as_str())),
        "{answer}"
    );
    // Another tenant's product does not find it (it used to: PRODUCT_MISMATCH, signed by A).
    let answer = validate(&stack, &key, &product_b).await;
    assert_eq!(answer["code"], "NOT_FOUND", "{answer}");
    assert!(!answer.to_string().contains(&legacy), "{answer}");

    // A re-run of A's import finds it; the same key under another external id is refused,
    // so the new scheme never shadows A's old license.
    let again = stack
        .imported(
            &a,
            json!({"licenses": [entry(&key, &product_a, "legacy-1")]}),
        )
        .await;
    assert_eq!(again["results"][0]["status"], "unchanged", "{again}");
    assert_eq!(again["results"][0]["licenseId"], legacy.as_str());
    let other = stack
        .imported(
            &a,
            json!({"licenses": [entry(&key, &product_a, "legacy-2")]}),
        )
        .await;
    assert!(
        other["results"][0]["error"]
            .as_str()
            .unwrap()
            .contains(&legacy),
        "{other}"
    );
    // B's dry run and import see nothing of A's: B gets its own license.
    let dry = stack
        .imported(
            &b,
            json!({"licenses": [entry(&key, &product_b, "b-1")], "dryRun": true}),
        )
        .await;
    assert_eq!(dry["results"][0]["status"], "would_create", "{dry}");
    let created = stack
        .imported(&b, json!({"licenses": [entry(&key, &product_b, "b-1")]}))
        .await;
    let b_id = created["results"][0]["licenseId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(b_id, legacy);
    assert_eq!(
        validate(&stack, &key, &product_b).await["license"]["id"],
        b_id.as_str()
    );
    assert_eq!(
        validate(&stack, &key, &product_a).await["license"]["id"],
        legacy.as_str()
    );
}

#[tokio::test]
async fn an_import_never_overwrites_a_license_created_while_it_ran() {
    let stack = Stack::start().await;
    let tenant = stack.tenant("A").await;
    let product = stack.product(&tenant, json!({})).await;

    // Ten imports of the same key at once, each under its own external id, each with other
    // licenses around it: exactly one creates the key's license, the others fail, and the
    // license is the winner's, whole.
    let key = format!("RACE-{}", unique("k"));
    let imports = (0..10).map(|i| {
        let mut licenses: Vec<Value> = (0..30)
            .map(|j| {
                entry(
                    &format!("FILL-{i}-{j}-{key}"),
                    &product,
                    &format!("fill-{i}-{j}"),
                )
            })
            .collect();
        licenses.push(
            json!({"key": key, "productId": product, "externalId": format!("race-{i}"),
                             "customerEmail": format!("buyer{i}@example.com")}),
        );
        stack.imported(&tenant, json!({"licenses": licenses}))
    });
    let reports = futures::future::join_all(imports).await;
    let outcomes: Vec<&Value> = reports.iter().map(|r| &r["results"][30]).collect();
    let winners: Vec<usize> = (0..10)
        .filter(|&i| outcomes[i]["status"] == "created")
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one import creates the key's license: {outcomes:?}"
    );
    for (i, o) in outcomes.iter().enumerate() {
        if i != winners[0] {
            assert_eq!(o["status"], "failed", "{o}");
            assert!(o.get("licenseId").is_none(), "{o}");
        }
    }
    for r in &reports {
        assert_eq!(
            r["created"].as_u64().unwrap() + r["failed"].as_u64().unwrap(),
            31,
            "{r}"
        );
    }
    let id = outcomes[winners[0]]["licenseId"].as_str().unwrap();
    let l = license(&stack, &tenant, id).await;
    let w = winners[0];
    assert_eq!(
        (l["externalId"].as_str(), l["customerEmail"].as_str()),
        (
            Some(format!("race-{w}").as_str()),
            Some(format!("buyer{w}@example.com").as_str())
        ),
        "the license is the winner's, not overwritten by a loser"
    );

    // A license created between an import's read and its write (here: issued by hand with a
    // native key, then written by the import's store call) is left as it is.
    let (status, issued) = stack
        .api(
            &tenant.token,
            "POST",
            "/api/licenses",
            Some(json!({"productId": product, "customerEmail": "first@example.com", "sendEmail": false})),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    let native = AnyKey::parse(issued["key"].as_str().unwrap()).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let intruder = License {
        id: native.license_id(&product),
        tenant_id: tenant.id.clone(),
        key_hash: hex::encode(native.lookup_hash(&product)),
        key_sealed: "not opened".into(),
        product_id: product.clone(),
        status: LicenseStatus::Active,
        customer_email: Some("second@example.com".into()),
        customer_name: None,
        expires_at: None,
        suspend_at: None,
        expiration_start: ExpirationStart::Creation,
        license_days: None,
        max_devices: 0,
        max_ips: 0,
        devices: Vec::new(),
        source: LicenseSource::default(),
        purchase_ref: None,
        email_status: EmailStatus::Disabled,
        also_product_ids: Vec::new(),
        external_id: Some("late".into()),
        livemode: Some(true),
        max_concurrent: None,
        lease_seconds: None,
        max_borrow_seconds: None,
        created_at: now,
        updated_at: now,
    };
    assert_eq!(intruder.id, issued["id"].as_str().unwrap());
    let record = LicenseImport {
        tenant_id: tenant.id.clone(),
        external_id: "late".into(),
        license_id: intruder.id.clone(),
        imported_at: now,
    };
    let written = stack
        .services
        .store
        .write_imported(&[(intruder, record)], &merchant())
        .await
        .unwrap();
    assert_eq!(written, vec![ImportWrite::LicenseExists]);
    let l = license(&stack, &tenant, issued["id"].as_str().unwrap()).await;
    assert_eq!(l["customerEmail"], "first@example.com");
    assert_eq!(l["key"], issued["key"]);
    // Nothing half-written either: the external id was not recorded, so a later import of it
    // is free.
    let later = stack
        .imported(
            &tenant,
            json!({"licenses": [entry(&format!("LATE-{}", unique("k")), &product, "late")]}),
        )
        .await;
    assert_eq!(later["results"][0]["status"], "created", "{later}");
}

#[tokio::test]
async fn imports_are_rate_limited_per_tenant() {
    let stack = Stack::start().await;
    let (a, b) = (stack.tenant("A").await, stack.tenant("B").await);
    let product_a = stack.product(&a, json!({})).await;
    let product_b = stack.product(&b, json!({})).await;
    let send = |tenant: &TestTenant, product: &str| {
        stack
            .http
            .post(format!("{}/api/licenses/import", stack.base_url))
            .bearer_auth(&tenant.token)
            .json(&json!({"licenses": [entry("GUESS-1", product, "g-1")], "dryRun": true}))
            .send()
    };
    // Requests until the first refusal: within one minute (or two, if the minute turns during
    // the test, the first of which then took its full share).
    let limit = IMPORT_REQUESTS_PER_MINUTE as usize;
    let mut admitted = 0;
    let refused = loop {
        assert!(
            admitted <= 2 * limit,
            "never refused after {admitted} requests"
        );
        let res = send(&a, &product_a).await.unwrap();
        match res.status().as_u16() {
            200 => admitted += 1,
            429 => break res,
            other => panic!("{other}: {}", res.text().await.unwrap()),
        }
    };
    assert!(
        admitted >= limit,
        "{admitted} admitted before the first refusal"
    );
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("{limit} import requests")) && message.contains("retry in"),
        "{message}"
    );
    // Another tenant's imports are its own.
    assert_eq!(send(&b, &product_b).await.unwrap().status().as_u16(), 200);
}

#[tokio::test]
async fn dates_at_the_end_of_year_9999_are_an_entrys_error_never_a_panic() {
    let stack = Stack::start().await;
    let tenant = stack.tenant("A").await;
    let product = stack.product(&tenant, json!({})).await;
    let key = |n: u32| format!("LATE{n}-{}", unique("k"));
    let last = key(1);
    let report = stack.imported(&tenant,
        json!({"licenses": [
            // Last second of 9999 in UTC: stored as it is, and validates.
            {"key": last, "productId": product, "externalId": "d-1", "expiresAt": "9999-12-31T23:59:59Z"},
            // One hour west of UTC: its UTC time is in year 10000.
            {"key": key(2), "productId": product, "externalId": "d-2", "expiresAt": "9999-12-31T23:30:00-01:00"},
            {"key": key(3), "productId": product, "externalId": "d-3",
             "devices": [{"deviceId": "pc-1", "activatedAt": "9999-12-31T23:59:59-12:00"}]},
        ]}),
    )
    .await;
    let results = report["results"].as_array().unwrap();
    assert_eq!(results[0]["status"], "created", "{report}");
    for (r, field) in [
        (&results[1], "expiresAt"),
        (&results[2], "devices: activatedAt"),
    ] {
        assert_eq!(r["status"], "failed", "{r}");
        let error = r["error"].as_str().unwrap();
        assert!(
            error.starts_with(field) && error.contains("9999-12-31T23:59:59Z"),
            "{error}"
        );
    }
    let id = results[0]["licenseId"].as_str().unwrap();
    assert_eq!(
        license(&stack, &tenant, id).await["expiresAt"],
        "9999-12-31T23:59:59.000Z"
    );
    let answer = validate(&stack, &last, &product).await;
    assert_eq!(
        (
            answer["code"].as_str(),
            answer["license"]["expiresAt"].as_str()
        ),
        (Some("VALID"), Some("9999-12-31T23:59:59.000Z")),
        "{answer}"
    );
    // The same dates through the license API: 422 naming the field.
    let (status, body) = stack
        .api(
            &tenant.token,
            "PATCH",
            &format!("/api/licenses/{id}"),
            Some(json!({"expiresAt": "9999-12-31T23:30:00-01:00"})),
        )
        .await;
    assert_eq!(
        (
            status,
            body["error"]["code"].as_str(),
            body["error"]["field"].as_str()
        ),
        (422, Some("validation_failed"), Some("expiresAt")),
        "{body}"
    );
}

/// An import's origin: the merchant, from no known address.
fn merchant() -> Origin {
    Origin::new(Actor::Merchant, None)
}
