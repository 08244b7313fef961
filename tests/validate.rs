//! The public Validation API end to end: keys issued by real signed checkout events, then
//! validated, activated and deactivated over HTTP through the real dispatcher, against the AWS
//! emulator. Answers are checked against the tenant's public key from the signing-key route.

use std::net::IpAddr;

use aws_sdk_dynamodb::types::AttributeValue;
use futures::future::join_all;
use keyhook_shared::app::lambda::to_api_request;
use keyhook_shared::app::{dispatch, Function};
use keyhook_shared::crypto::signed_answer::{verify_answer, AnswerError, Expected, PublicKeySet};
use keyhook_shared::domain::validation::DeviceId;
use keyhook_shared::store::table_keys as keys;
use keyhook_tests::{checkout_event, Shop};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

const VALIDATE: &str = "/api/licenses/validate";
const ACTIVATE: &str = "/api/licenses/activate";
const DEACTIVATE: &str = "/api/licenses/deactivate";

/// One answer: status, parsed body, raw body (what the signature covers).
struct Reply {
    status: u16,
    body: Value,
    raw: String,
}

/// The Validation API's calls these tests make of a shop.
trait ValidationCalls {
    async fn post(&self, path: &str, body: Value) -> Reply;
    async fn post_from(
        &self,
        from: Option<&str>,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Reply;
    async fn public_key(&self) -> PublicKeySet;
    async fn single_public_key(&self) -> (String, String);
    async fn set(&self, key: keys::Key, attrs: &[(&str, AttributeValue)]);
}

impl ValidationCalls for Shop {
    async fn post(&self, path: &str, body: Value) -> Reply {
        self.post_from(None, path, &body.to_string(), &[]).await
    }

    /// Posts from a given loopback address (the server sees it as the client IP).
    async fn post_from(
        &self,
        from: Option<&str>,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        let client = match from {
            None => self.stack.http.clone(),
            Some(ip) => reqwest::Client::builder()
                .local_address(ip.parse::<IpAddr>().unwrap())
                .build()
                .unwrap(),
        };
        let mut req = client
            .post(format!("{}{path}", self.stack.base_url))
            .header("content-type", "application/json")
            .body(body.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.expect("server answers");
        let status = res.status().as_u16();
        let raw = res.text().await.unwrap();
        Reply {
            status,
            body: serde_json::from_str(&raw).unwrap_or(Value::Null),
            raw,
        }
    }

    /// The tenant's published keys (`signing-keys`), checked against the older single-key
    /// route.
    async fn public_key(&self) -> PublicKeySet {
        let single = self.single_public_key().await;
        let set =
            PublicKeySet::from_json(&self.stack.published_keys(&self.tenant.id).await).unwrap();
        assert!(
            set.kids().any(|k| k == single.1),
            "the active key is published"
        );
        set
    }

    /// The older single-key route: (public key, kid).
    async fn single_public_key(&self) -> (String, String) {
        let res = self
            .stack
            .http
            .get(format!(
                "{}/api/tenants/{}/signing-key",
                self.stack.base_url, self.tenant.id
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["algorithm"], "Ed25519");
        assert_eq!(v["format"], "keyhook-answer-v2");
        (
            v["publicKey"].as_str().unwrap().to_string(),
            v["kid"].as_str().unwrap().to_string(),
        )
    }

    /// Changes attributes of a stored item directly (what an operator or the admin API would
    /// do to a license), so every standing can be exercised.
    async fn set(&self, key: keys::Key, attrs: &[(&str, AttributeValue)]) {
        let store = &self.stack.services.store;
        let mut update = store
            .client()
            .update_item()
            .table_name(store.table())
            .key(keys::PK, AttributeValue::S(key.0))
            .key(keys::SK, AttributeValue::S(key.1))
            .condition_expression("attribute_exists(pk)");
        let mut sets = Vec::new();
        for (i, (name, value)) in attrs.iter().enumerate() {
            sets.push(format!("#a{i} = :v{i}"));
            update = update
                .expression_attribute_names(format!("#a{i}"), *name)
                .expression_attribute_values(format!(":v{i}"), value.clone());
        }
        update
            .update_expression(format!("SET {}", sets.join(", ")))
            .send()
            .await
            .expect("item updated");
    }
}

/// What a request asked, for [`verify_answer`].
fn asked<'a>(
    product: &'a str,
    device: Option<&'a str>,
    nonce: Option<&'a str>,
    key: Option<&'a str>,
) -> Expected<'a> {
    Expected {
        product_id: product,
        device_id: device,
        nonce,
        license_key: key,
    }
}

/// [`verify_answer`] without the answer.
fn verifies(keys: &PublicKeySet, raw: &str, expected: Expected) -> Result<(), AnswerError> {
    verify_answer(keys, raw.as_bytes(), &expected).map(|_| ())
}

fn license_id(key: &str) -> String {
    keyhook_shared::domain::LicenseKey::parse(key)
        .unwrap()
        .license_id()
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn ts(t: OffsetDateTime) -> AttributeValue {
    s(&keyhook_shared::time::format(t))
}

fn parse_ts(v: &Value) -> OffsetDateTime {
    keyhook_shared::time::parse(v.as_str().expect("a timestamp")).unwrap()
}

#[tokio::test]
async fn a_valid_key_gets_a_signed_answer_that_verifies_offline() {
    let shop = Shop::live().await;
    let product = shop.product(json!({})).await;
    let key = shop.license(&product).await;
    let public_key = shop.public_key().await;

    let r = shop
        .post(
            VALIDATE,
            json!({"licenseKey": key.to_lowercase().replace('-', " "), "productId": product, "nonce": "n-123"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["valid"], true);
    assert_eq!(r.body["code"], "VALID");
    assert_eq!(r.body["nonce"], "n-123");
    assert_eq!(r.body["license"]["id"], license_id(&key).as_str());
    assert_eq!(r.body["license"]["productId"], product.as_str());
    assert_eq!(r.body["license"]["status"], "active");
    assert_eq!(r.body["license"]["maxDevices"], 0);
    assert_eq!(r.body["license"]["activeDevices"], 0);
    assert!(
        parse_ts(&r.body["license"]["expiresAt"]) > OffsetDateTime::now_utc() + Duration::days(364)
    );
    assert!(parse_ts(&r.body["signedAt"]) <= OffsetDateTime::now_utc());
    assert!(r.raw.ends_with("\"}") && r.raw.contains(",\"signature\":\""));
    assert!(!r.raw.contains(&key), "the key is never echoed");

    let asked_for = asked(&product, None, Some("n-123"), Some(&key));
    assert_eq!(verifies(&public_key, &r.raw, asked_for), Ok(()));
    let forged = r.raw.replacen("\"valid\":true", "\"valid\":true ", 1);
    assert_eq!(
        verifies(&public_key, &forged, asked_for),
        Err(AnswerError::BadSignature)
    );
    let other = Shop::live().await;
    assert!(
        matches!(
            verifies(&other.public_key().await, &r.raw, asked_for),
            Err(AnswerError::UnknownKey(_))
        ),
        "another tenant's key does not verify it"
    );

    // The signing-key route is public, and only knows existing tenants.
    let res = shop
        .stack
        .http
        .get(format!(
            "{}/api/tenants/ten_nope/signing-key",
            shop.stack.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
}

#[tokio::test]
async fn unknown_keys_and_other_products_are_answered_not_errors() {
    let shop = Shop::live().await;
    let product = shop.product(json!({})).await;
    let other_product = shop.product(json!({"name": "Other"})).await;
    let key = shop.license(&product).await;
    let public_key = shop.public_key().await;

    for bogus in ["not a key", "ABCDE-FGH1K-MN0PQ-RSTVW-XYZ01"] {
        let r = shop
            .post(VALIDATE, json!({"licenseKey": bogus, "productId": product}))
            .await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert_eq!(
            (r.body["valid"].clone(), r.body["code"].clone()),
            (json!(false), json!("NOT_FOUND"))
        );
        assert!(r.body.get("license").is_none());
        assert_eq!(
            verifies(
                &public_key,
                &r.raw,
                asked(&product, None, None, Some(bogus))
            ),
            Ok(()),
            "signed by the product's tenant"
        );
    }

    let r = shop
        .post(
            VALIDATE,
            json!({"licenseKey": "ABCDE-FGH1K-MN0PQ-RSTVW-XYZ01", "productId": "999999999"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].clone()),
        (200, json!("NOT_FOUND"))
    );
    assert_eq!(
        r.body["signature"],
        Value::Null,
        "no tenant can sign for an unknown product"
    );
    assert_eq!(
        verifies(
            &public_key,
            &r.raw,
            asked(
                "999999999",
                None,
                None,
                Some("ABCDE-FGH1K-MN0PQ-RSTVW-XYZ01")
            )
        ),
        Err(AnswerError::Unsigned)
    );

    // A real key asked about another product (existing or not) is a mismatch, signed by the
    // key's tenant.
    let r = shop
        .post(
            VALIDATE,
            json!({"licenseKey": key, "productId": "999999999"}),
        )
        .await;
    assert_eq!(r.body["code"], "PRODUCT_MISMATCH");
    assert_eq!(
        verifies(
            &public_key,
            &r.raw,
            asked("999999999", None, None, Some(&key))
        ),
        Ok(())
    );

    for path in [VALIDATE, ACTIVATE, DEACTIVATE] {
        let r = shop
            .post(
                path,
                json!({"licenseKey": key, "productId": other_product, "deviceId": "d1"}),
            )
            .await;
        assert_eq!(
            (r.status, r.body["code"].clone()),
            (200, json!("PRODUCT_MISMATCH")),
            "{path}"
        );
        assert!(r.body.get("license").is_none());
        assert_eq!(
            verifies(
                &public_key,
                &r.raw,
                asked(&other_product, Some("d1"), None, Some(&key))
            ),
            Ok(())
        );
    }
}

#[tokio::test]
async fn suspended_revoked_and_expired_licenses_are_refused_and_never_activated() {
    let shop = Shop::live().await;
    let product = shop.product(json!({"maxDevices": 3})).await;
    let mut cases = Vec::new();
    for (attr, value, code, status) in [
        ("status", s("suspended"), "SUSPENDED", "suspended"),
        ("status", s("revoked"), "REVOKED", "revoked"),
        ("status", s("expired"), "EXPIRED", "expired"),
        (
            "expiresAt",
            ts(OffsetDateTime::now_utc() - Duration::minutes(1)),
            "EXPIRED",
            "expired",
        ),
    ] {
        let key = shop.license(&product).await;
        // Activated while it was fine, then changed.
        let r = shop
            .post(
                ACTIVATE,
                json!({"licenseKey": key, "productId": product, "deviceId": "old"}),
            )
            .await;
        assert_eq!(r.body["code"], "VALID");
        shop.set(keys::license(&license_id(&key)), &[(attr, value)])
            .await;
        cases.push((key, code, status));
    }
    for (key, code, status) in &cases {
        let r = shop
            .post(
                VALIDATE,
                json!({"licenseKey": key, "productId": product, "deviceId": "old"}),
            )
            .await;
        assert_eq!(
            (r.status, r.body["code"].clone()),
            (200, json!(code)),
            "validate {code}"
        );
        assert_eq!(r.body["valid"], false);
        assert_eq!(r.body["license"]["status"], *status);
        let r = shop
            .post(
                ACTIVATE,
                json!({"licenseKey": key, "productId": product, "deviceId": "new"}),
            )
            .await;
        assert_eq!(
            (r.status, r.body["code"].clone()),
            (200, json!(code)),
            "activate {code}"
        );
        assert_eq!(r.body["license"]["activeDevices"], 1, "no device was added");
        // Deactivation still frees the seat.
        let r = shop
            .post(
                DEACTIVATE,
                json!({"licenseKey": key, "productId": product, "deviceId": "old"}),
            )
            .await;
        assert_eq!(r.body["code"], "NOT_ACTIVATED");
        assert_eq!(r.body["license"]["activeDevices"], 0);
    }
}

#[tokio::test]
async fn devices_are_limited_reactivation_is_idempotent_and_deactivation_frees_a_seat() {
    let shop = Shop::live().await;
    let product = shop.product(json!({"maxDevices": 2})).await;
    let key = shop.license(&product).await;
    let call = |path: &'static str, device: Option<&str>| {
        let mut body = json!({"licenseKey": key, "productId": product});
        if let Some(d) = device {
            body["deviceId"] = json!(d);
            body["deviceName"] = json!(format!("{d}'s laptop"));
        }
        let shop = &shop;
        async move {
            let r = shop.post(path, body).await;
            assert_eq!(r.status, 200, "{}", r.raw);
            (
                r.body["code"].as_str().unwrap().to_string(),
                r.body["valid"].as_bool().unwrap(),
                r.body["license"]["activeDevices"].as_u64().unwrap(),
            )
        }
    };
    let code = |c: &str, valid: bool, n: u64| (c.to_string(), valid, n);

    assert_eq!(
        call(VALIDATE, None).await,
        code("DEVICE_REQUIRED", false, 0)
    );
    assert_eq!(
        call(VALIDATE, Some("a")).await,
        code("NOT_ACTIVATED", false, 0)
    );
    assert_eq!(
        call(ACTIVATE, None).await,
        code("DEVICE_REQUIRED", false, 0)
    );
    assert_eq!(call(ACTIVATE, Some("a")).await, code("VALID", true, 1));
    assert_eq!(
        call(ACTIVATE, Some("a")).await,
        code("VALID", true, 1),
        "idempotent"
    );
    assert_eq!(call(VALIDATE, Some("a")).await, code("VALID", true, 1));
    assert_eq!(call(ACTIVATE, Some("b")).await, code("VALID", true, 2));
    assert_eq!(
        call(ACTIVATE, Some("c")).await,
        code("DEVICE_LIMIT_REACHED", false, 2)
    );
    assert_eq!(
        call(VALIDATE, Some("c")).await,
        code("NOT_ACTIVATED", false, 2)
    );
    assert_eq!(
        call(DEACTIVATE, Some("a")).await,
        code("NOT_ACTIVATED", false, 1)
    );
    assert_eq!(
        call(DEACTIVATE, Some("a")).await,
        code("NOT_ACTIVATED", false, 1),
        "idempotent"
    );
    assert_eq!(
        call(VALIDATE, Some("a")).await,
        code("NOT_ACTIVATED", false, 1)
    );
    assert_eq!(call(ACTIVATE, Some("c")).await, code("VALID", true, 2));

    let l = shop.admin_license(&license_id(&key)).await;
    let devices: Vec<(&str, &str)> = l["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["deviceId"].as_str().unwrap(),
                d["deviceName"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(devices, vec![("b", "b's laptop"), ("c", "c's laptop")]);
}

/// The app shows the buyer where to free a seat: the refusal links, signed, to the license's
/// page in the merchant's customer portal; other answers carry no link.
#[tokio::test]
async fn an_activation_past_the_limit_links_to_the_licenses_portal_page() {
    let shop = Shop::live().await;
    let product = shop.product(json!({"maxDevices": 1})).await;
    let (id, key) = shop.license_with_id(&product).await;
    let activate = |device: &'static str| {
        shop.post(
            ACTIVATE,
            json!({"licenseKey": key, "productId": product, "deviceId": device, "nonce": "n-1"}),
        )
    };
    let first = activate("a").await;
    assert_eq!(first.body["code"], "VALID", "{}", first.raw);
    assert!(first.body.get("manageUrl").is_none(), "{}", first.raw);

    let refused = activate("b").await;
    assert_eq!(
        refused.body["code"], "DEVICE_LIMIT_REACHED",
        "{}",
        refused.raw
    );
    let url = format!(
        "{}/portal/{}/licenses/{id}",
        shop.stack.base_url.trim_end_matches('/'),
        shop.tenant.id
    );
    assert_eq!(refused.body["manageUrl"], json!(url));
    // Signed: the verifier accepts the answer, and a changed link breaks the signature.
    let keys = shop.public_key().await;
    let expected = asked(&product, Some("b"), Some("n-1"), Some(&key));
    assert_eq!(verifies(&keys, &refused.raw, expected), Ok(()));
    let forged = refused.raw.replace(&url, "https://evil.example/portal");
    let expected = asked(&product, Some("b"), Some("n-1"), Some(&key));
    assert!(verifies(&keys, &forged, expected).is_err());
}

#[tokio::test]
async fn fifty_simultaneous_activations_of_different_devices_leave_exactly_five() {
    let shop = Shop::live().await;
    let product = shop.product(json!({"maxDevices": 5})).await;
    let key = shop.license(&product).await;
    let replies = join_all((0..50).map(|i| {
        shop.post(
            ACTIVATE,
            json!({"licenseKey": key, "productId": product, "deviceId": format!("device-{i}")}),
        )
    }))
    .await;
    let mut valid = 0;
    let mut refused = 0;
    for r in &replies {
        assert_eq!(r.status, 200, "{}", r.raw);
        match r.body["code"].as_str().unwrap() {
            "VALID" => valid += 1,
            "DEVICE_LIMIT_REACHED" => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((valid, refused), (5, 45));
    let l = shop.admin_license(&license_id(&key)).await;
    assert_eq!(l["devices"].as_array().unwrap().len(), 5);
    let r = shop
        .post(
            VALIDATE,
            json!({"licenseKey": key, "productId": product, "deviceId": "device-x"}),
        )
        .await;
    assert_eq!(r.body["license"]["activeDevices"], 5);
}

#[tokio::test]
async fn activation_started_licenses_start_their_clock_at_the_first_activation() {
    let shop = Shop::live().await;
    let product = shop
        .product(json!({"expirationStart": "activation", "defaultLicenseDays": 30}))
        .await;
    let key = shop.license(&product).await;
    let id = license_id(&key);
    assert_eq!(shop.admin_license(&id).await["expiresAt"], Value::Null);

    let r = shop
        .post(VALIDATE, json!({"licenseKey": key, "productId": product}))
        .await;
    assert_eq!(r.body["code"], "VALID");
    assert_eq!(
        r.body["license"]["expiresAt"],
        Value::Null,
        "validation does not start it"
    );

    let before = OffsetDateTime::now_utc();
    let r = shop
        .post(
            ACTIVATE,
            json!({"licenseKey": key, "productId": product, "deviceId": "a"}),
        )
        .await;
    assert_eq!(r.body["code"], "VALID");
    let expires = parse_ts(&r.body["license"]["expiresAt"]);
    assert!(expires >= before + Duration::days(30) - Duration::seconds(1));
    assert!(expires <= OffsetDateTime::now_utc() + Duration::days(30));
    assert_eq!(
        parse_ts(&shop.admin_license(&id).await["expiresAt"]),
        expires
    );

    let r = shop
        .post(
            ACTIVATE,
            json!({"licenseKey": key, "productId": product, "deviceId": "b"}),
        )
        .await;
    assert_eq!(
        parse_ts(&r.body["license"]["expiresAt"]),
        expires,
        "it starts once"
    );
}

#[tokio::test]
async fn a_device_gets_one_trial_per_product_ever_and_never_after_activation() {
    let shop = Shop::live().await;
    let product = shop.product(json!({"trialDays": 7})).await;
    let public_key = shop.public_key().await;
    let trial = |device: Option<&str>, product: &str| {
        let mut body = json!({"productId": product, "nonce": "t"});
        if let Some(d) = device {
            body["deviceId"] = json!(d);
        }
        let shop = &shop;
        async move {
            let r = shop.post(VALIDATE, body).await;
            assert_eq!(r.status, 200, "{}", r.raw);
            r
        }
    };

    // Fifty racing first requests from one device: all are in the trial, and from then on the
    // device has exactly one (DynamoDB's condition lets one start win; the emulator's
    // conditional writes are not atomic under load, so the racing answers themselves are not
    // compared).
    let first = join_all((0..50).map(|_| trial(Some("d1"), &product))).await;
    for r in &first {
        assert_eq!(r.body["code"], "TRIAL", "{}", r.raw);
    }
    let r = &trial(Some("d1"), &product).await;
    assert_eq!(r.body["code"], "TRIAL");
    assert_eq!(r.body["valid"], true);
    assert!(r.body.get("license").is_none());
    assert_eq!(
        parse_ts(&r.body["trial"]["expiresAt"]) - parse_ts(&r.body["trial"]["startedAt"]),
        Duration::days(7)
    );
    assert_eq!(
        verifies(
            &public_key,
            &r.raw,
            asked(&product, Some("d1"), Some("t"), None)
        ),
        Ok(())
    );

    let again = trial(Some("d1"), &product).await;
    assert_eq!(
        again.body["trial"], r.body["trial"],
        "the same trial, not a new one"
    );

    // The trial ends, and is never restarted.
    let record = keys::product_device(&product, &DeviceId::parse("d1").unwrap().key_hash());
    shop.set(
        record,
        &[(
            "trialExpiresAt",
            ts(OffsetDateTime::now_utc() - Duration::seconds(1)),
        )],
    )
    .await;
    let ended = trial(Some("d1"), &product).await;
    assert_eq!(
        (ended.body["code"].clone(), ended.body["valid"].clone()),
        (json!("TRIAL_EXPIRED"), json!(false))
    );
    assert_eq!(
        trial(Some("d1"), &product).await.body["code"],
        "TRIAL_EXPIRED"
    );

    // Another device gets its own trial; no device, no trial.
    assert_eq!(trial(Some("d2"), &product).await.body["code"], "TRIAL");
    assert_eq!(trial(None, &product).await.body["code"], "DEVICE_REQUIRED");

    // A device activated with a license for the product never gets a trial, even once the
    // device is deactivated again.
    let key = shop.license(&product).await;
    let r = shop
        .post(
            ACTIVATE,
            json!({"licenseKey": key, "productId": product, "deviceId": "d3"}),
        )
        .await;
    assert_eq!(r.body["code"], "VALID");
    assert_eq!(trial(Some("d3"), &product).await.body["code"], "NO_TRIAL");
    shop.post(
        DEACTIVATE,
        json!({"licenseKey": key, "productId": product, "deviceId": "d3"}),
    )
    .await;
    assert_eq!(trial(Some("d3"), &product).await.body["code"], "NO_TRIAL");

    // Products without trial days give none.
    let no_trial = shop.product(json!({"name": "No trial"})).await;
    let r = trial(Some("d4"), &no_trial).await;
    assert_eq!(
        (r.body["code"].clone(), r.body["valid"].clone()),
        (json!("NO_TRIAL"), json!(false))
    );
    let r = trial(Some("d4"), "999999999").await;
    assert_eq!(r.body["code"], "NOT_FOUND");
}

#[tokio::test]
async fn ip_limits_count_the_source_ip_never_forwarded_headers() {
    let shop = Shop::live().await;
    let product = shop.product(json!({"maxIps": 2})).await;
    let key = shop.license(&product).await;
    let body = json!({"licenseKey": key, "productId": product}).to_string();
    let code = |r: Reply| {
        assert_eq!(r.status, 200, "{}", r.raw);
        r.body["code"].as_str().unwrap().to_string()
    };

    // One client (127.0.0.1) claiming many addresses is still one address.
    for xff in ["198.51.100.1", "198.51.100.2", "198.51.100.3, 10.0.0.1"] {
        let r = shop
            .post_from(
                Some("127.0.0.1"),
                VALIDATE,
                &body,
                &[("x-forwarded-for", xff), ("x-real-ip", xff)],
            )
            .await;
        assert_eq!(code(r), "VALID");
    }
    assert_eq!(
        code(
            shop.post_from(Some("127.0.0.2"), VALIDATE, &body, &[])
                .await
        ),
        "VALID"
    );
    assert_eq!(
        code(
            shop.post_from(Some("127.0.0.3"), VALIDATE, &body, &[])
                .await
        ),
        "IP_LIMIT_REACHED"
    );
    let activate = json!({"licenseKey": key, "productId": product, "deviceId": "d"}).to_string();
    assert_eq!(
        code(
            shop.post_from(Some("127.0.0.3"), ACTIVATE, &activate, &[])
                .await
        ),
        "IP_LIMIT_REACHED"
    );
    assert_eq!(
        code(
            shop.post_from(Some("127.0.0.2"), ACTIVATE, &activate, &[])
                .await
        ),
        "VALID"
    );

    // In Lambda, the IP is API Gateway's requestContext.http.sourceIp, not the headers.
    let event = json!({
        "version": "2.0", "routeKey": "POST /api/licenses/validate", "rawPath": VALIDATE,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "x-forwarded-for": "127.0.0.1"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "example.com",
            "domainPrefix": "example", "requestId": "req-ip", "routeKey": "POST /api/licenses/validate",
            "stage": "$default", "time": "24/Nov/2026:10:00:00 +0000", "timeEpoch": 1795000000000u64,
            "http": {"method": "POST", "path": VALIDATE, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.9", "userAgent": "app/1.0"}
        },
        "body": body,
        "isBase64Encoded": false
    })
    .to_string();
    let req = to_api_request(lambda_http::request::from_str(&event).unwrap());
    let res = dispatch(&shop.stack.services, Some(Function::Validate), req).await;
    let answer: Value = serde_json::from_slice(&res.body).unwrap();
    assert_eq!(answer["code"], "IP_LIMIT_REACHED");
}

#[tokio::test]
async fn unknown_fields_are_ignored_and_only_malformed_requests_fail() {
    let shop = Shop::live().await;
    let product = shop.product(json!({})).await;
    let key = shop.license(&product).await;

    let r = shop
        .post(
            VALIDATE,
            json!({"licenseKey": key, "productId": product.parse::<u64>().unwrap(),
                   "appVersion": "3.1.4", "os": {"name": "macOS"}, "deviceName": null}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["code"].clone()),
        (200, json!("VALID")),
        "{}",
        r.raw
    );

    for (path, body, field) in [
        (VALIDATE, json!({"licenseKey": key}), "productId"),
        (
            VALIDATE,
            json!({"productId": product, "deviceId": "x".repeat(257)}),
            "deviceId",
        ),
        (
            VALIDATE,
            json!({"productId": product, "deviceId": "line\nbreak"}),
            "deviceId",
        ),
        (
            VALIDATE,
            json!({"productId": product, "deviceId": 42}),
            "deviceId",
        ),
        (
            ACTIVATE,
            json!({"productId": product, "deviceId": "d"}),
            "licenseKey",
        ),
        (
            DEACTIVATE,
            json!({"productId": product, "deviceId": "d"}),
            "licenseKey",
        ),
    ] {
        let r = shop.post(path, body).await;
        assert_eq!(r.status, 422, "{path}: {}", r.raw);
        assert_eq!(r.body["error"]["code"], "validation_failed");
        assert_eq!(r.body["error"]["field"], field);
    }
    let r = shop.post_from(None, VALIDATE, "{not json", &[]).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].clone()),
        (422, json!("validation_failed"))
    );
}

#[tokio::test]
async fn activation_churn_is_rate_limited_per_license_and_per_ip() {
    let shop = Shop::live().await;
    let product = shop.product(json!({"maxDevices": 1})).await;
    let key = shop.license(&product).await;
    let body = |d: &str| json!({"licenseKey": key, "productId": product, "deviceId": d});

    // 20 device changes a day per license; the 21st is refused, validation still answers.
    for i in 0..20 {
        let path = if i % 2 == 0 { ACTIVATE } else { DEACTIVATE };
        let r = shop.post(path, body("d")).await;
        assert_eq!(r.status, 200, "change {i}: {}", r.raw);
    }
    let r = shop.post(ACTIVATE, body("d")).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].clone()),
        (429, json!("rate_limited"))
    );
    let r = shop.post(VALIDATE, body("d")).await;
    assert_eq!(
        (r.status, r.body["code"].clone()),
        (200, json!("NOT_ACTIVATED"))
    );

    // One address flooding activations is cut off before any AWS call; others are not.
    let flood = json!({"licenseKey": "ABCDE-FGH1K-MN0PQ-RSTVW-XYZ01", "productId": product, "deviceId": "x"})
        .to_string();
    let replies =
        join_all((0..200).map(|_| shop.post_from(Some("127.0.0.9"), ACTIVATE, &flood, &[]))).await;
    let mut limited = 0;
    for r in &replies {
        match r.status {
            200 => assert_eq!(r.body["code"], "NOT_FOUND"),
            429 => {
                assert_eq!(r.body["error"]["code"], "rate_limited");
                limited += 1
            }
            other => panic!("unexpected {other}: {}", r.raw),
        }
    }
    // A burst of 120 passes (plus 2 per second of refill while the burst arrives).
    assert!(limited >= 50, "{limited} of 200 requests were limited");
    let r = shop
        .post_from(Some("127.0.0.8"), ACTIVATE, &flood, &[])
        .await;
    assert_eq!(r.status, 200);
}

// ---- Answers say what they answer (issue 11) ----

#[tokio::test]
async fn a_trial_answer_is_refused_for_another_product_device_or_nonce() {
    let shop = Shop::live().await;
    let trial_product = shop.product(json!({"trialDays": 14})).await;
    let paid_product = shop.product(json!({"name": "Paid"})).await;
    let keys = shop.public_key().await;

    let r = shop
        .post(
            VALIDATE,
            json!({"productId": trial_product, "deviceId": "device-X", "nonce": "n1"}),
        )
        .await;
    assert_eq!(r.body["code"], "TRIAL", "{}", r.raw);
    assert_eq!(r.body["format"], "keyhook-answer-v2");
    assert_eq!(r.body["productId"], trial_product.as_str());
    let hash = keyhook_format::device_hash(&trial_product, "device-X");
    assert_eq!(r.body["deviceHash"], hash.as_str());
    assert_eq!(r.body["trial"]["productId"], trial_product.as_str());
    assert_eq!(r.body["trial"]["deviceHash"], hash.as_str());
    assert_eq!(r.body["livemode"], true);
    assert!(r.body["kid"].is_string());
    assert!(
        !r.raw.contains("device-X"),
        "the raw device id is never echoed"
    );

    let mine = asked(&trial_product, Some("device-X"), Some("n1"), None);
    assert_eq!(verifies(&keys, &r.raw, mine), Ok(()));
    // The reproduced attack: the trial answer, presented to an app of a paid product.
    assert!(matches!(
        verifies(
            &keys,
            &r.raw,
            asked(&paid_product, Some("device-X"), Some("n1"), None)
        ),
        Err(AnswerError::WrongProduct { .. })
    ));
    assert_eq!(
        verifies(
            &keys,
            &r.raw,
            asked(&trial_product, Some("device-Y"), Some("n1"), None)
        ),
        Err(AnswerError::WrongDevice)
    );
    assert_eq!(
        verifies(
            &keys,
            &r.raw,
            asked(&trial_product, Some("device-X"), Some("n2"), None)
        ),
        Err(AnswerError::WrongNonce),
        "a replayed answer with another nonce is refused"
    );
    // An app that sent a key does not take a trial answer as a license answer.
    let key = shop.license(&trial_product).await;
    assert_eq!(
        verifies(
            &keys,
            &r.raw,
            asked(&trial_product, Some("device-X"), Some("n1"), Some(&key))
        ),
        Err(AnswerError::WrongLicense)
    );
}

#[tokio::test]
async fn a_license_answer_names_the_license_and_the_device() {
    let shop = Shop::live().await;
    let product = shop.product(json!({"maxDevices": 2})).await;
    let key = shop.license(&product).await;
    let other_key = shop.license(&product).await;
    let keys = shop.public_key().await;
    let r = shop
        .post(
            ACTIVATE,
            json!({"licenseKey": key, "productId": product, "deviceId": "device-A", "nonce": "a1"}),
        )
        .await;
    assert_eq!(r.body["code"], "VALID", "{}", r.raw);
    assert_eq!(
        verifies(
            &keys,
            &r.raw,
            asked(&product, Some("device-A"), Some("a1"), Some(&key))
        ),
        Ok(())
    );
    let r = shop
        .post(
            VALIDATE,
            json!({"licenseKey": key, "productId": product, "deviceId": "device-A", "nonce": "v1"}),
        )
        .await;
    assert_eq!(r.body["code"], "VALID");
    assert_eq!(r.body["licenseId"], license_id(&key).as_str());
    assert_eq!(r.body["license"]["id"], license_id(&key).as_str());
    assert_eq!(
        r.body["deviceHash"],
        keyhook_format::device_hash(&product, "device-A").as_str()
    );
    assert_eq!(r.body["livemode"], true);
    let mine = asked(&product, Some("device-A"), Some("v1"), Some(&key));
    assert_eq!(verifies(&keys, &r.raw, mine), Ok(()));
    assert_eq!(
        verifies(
            &keys,
            &r.raw,
            asked(&product, Some("device-B"), Some("v1"), Some(&key))
        ),
        Err(AnswerError::WrongDevice)
    );
    assert_eq!(
        verifies(
            &keys,
            &r.raw,
            asked(&product, Some("device-A"), Some("v0"), Some(&key))
        ),
        Err(AnswerError::WrongNonce)
    );
    assert_eq!(
        verifies(
            &keys,
            &r.raw,
            asked(&product, Some("device-A"), Some("v1"), Some(&other_key))
        ),
        Err(AnswerError::WrongLicense),
        "an answer about one key is not an answer about another"
    );
}

#[tokio::test]
async fn fresh_device_ids_from_one_address_do_not_make_endless_trials() {
    let shop = Shop::live().await;
    let product = shop.product(json!({"trialDays": 7})).await;
    let from = Some("127.0.0.9");
    let body = |device: &str| json!({"productId": product, "deviceId": device}).to_string();
    for i in 0..10 {
        let r = shop
            .post_from(from, VALIDATE, &body(&format!("fresh-{i}")), &[])
            .await;
        assert_eq!(r.body["code"], "TRIAL", "trial {i}: {}", r.raw);
    }
    let r = shop.post_from(from, VALIDATE, &body("fresh-10"), &[]).await;
    assert_eq!(r.status, 429, "{}", r.raw);
    assert_eq!(r.body["error"]["code"], "rate_limited");
    // Running trials keep answering (no new trial, no write), and the device that was refused
    // got nothing.
    let r = shop.post_from(from, VALIDATE, &body("fresh-0"), &[]).await;
    assert_eq!(r.body["code"], "TRIAL");
    let record = shop
        .stack
        .services
        .store
        .get_product_and_device(&product, &DeviceId::parse("fresh-10").unwrap())
        .await
        .unwrap()
        .1;
    assert!(record.is_none(), "the refused start wrote nothing");
    // Another address has its own budget.
    let r = shop
        .post_from(Some("127.0.0.10"), VALIDATE, &body("fresh-10"), &[])
        .await;
    assert_eq!(r.body["code"], "TRIAL");
}

// ---- Test mode never produces a license that validates as live (issue 11) ----

#[tokio::test]
async fn test_mode_licenses_never_validate_as_live() {
    let shop = Shop::live().await;
    let product = shop.product(json!({"maxDevices": 2})).await;
    let live_key = shop.license(&product).await;
    let test_app = shop.stack.app(&shop.tenant).await;
    let (event, _) = checkout_event(&product, None);
    let (status, receipt) = shop
        .stack
        .post_event("/api/stripe/webhook", &event, &test_app.webhook_secret)
        .await;
    assert_eq!(status, 200, "{receipt}");
    let test_id = receipt["licenseIds"][0].as_str().unwrap().to_string();
    let test_license = shop.admin_license(&test_id).await;
    let test_key = test_license["key"].as_str().unwrap().to_string();
    assert_eq!(test_license["livemode"], false);
    assert_eq!(
        shop.admin_license(&license_id(&live_key)).await["livemode"],
        true
    );
    let keys = shop.public_key().await;

    // A live app (the default) refuses it, with a clear code, and never activates it.
    for path in [VALIDATE, ACTIVATE] {
        let r = shop
            .post(
                path,
                json!({"licenseKey": test_key, "productId": product, "deviceId": "d1", "nonce": "m"}),
            )
            .await;
        assert_eq!(r.body["code"], "TEST_LICENSE", "{path}: {}", r.raw);
        assert_eq!(r.body["valid"], false);
        assert_eq!(r.body["livemode"], false);
        assert!(r.body["detail"].as_str().unwrap().contains("test mode"));
        assert_eq!(
            verifies(
                &keys,
                &r.raw,
                asked(&product, Some("d1"), Some("m"), Some(&test_key))
            ),
            Ok(())
        );
    }
    assert_eq!(shop.admin_license(&test_id).await["devices"], json!([]));
    // A test build accepts it, and says it is a test license.
    let r = shop
        .post(
            ACTIVATE,
            json!({"licenseKey": test_key, "productId": product, "deviceId": "d1", "environment": "test"}),
        )
        .await;
    assert_eq!(
        (&r.body["code"], &r.body["livemode"]),
        (&json!("VALID"), &json!(false))
    );
    // Live licenses validate in test builds too (a developer's own purchase).
    let r = shop
        .post(
            VALIDATE,
            json!({"licenseKey": live_key, "productId": product, "environment": "test", "deviceId": "d9"}),
        )
        .await;
    assert_eq!(
        r.body["code"], "NOT_ACTIVATED",
        "standing rules still apply"
    );
    assert_eq!(r.body["livemode"], true);

    // Older items without the recorded mode read it from the Checkout Session id, then from
    // the Stripe app that issued them.
    let store = &shop.stack.services.store;
    for attr in ["#m", "#s.checkoutSessionId"] {
        store
            .client()
            .update_item()
            .table_name(store.table())
            .key(keys::PK, s(&keys::license(&test_id).0))
            .key(keys::SK, s(&keys::license(&test_id).1))
            .update_expression(format!("REMOVE {attr}"))
            .set_expression_attribute_names(Some(
                [("#m", "livemode"), ("#s", "source")]
                    .into_iter()
                    .filter(|(n, _)| attr.contains(n))
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect(),
            ))
            .send()
            .await
            .unwrap();
        let r = shop
            .post(
                VALIDATE,
                json!({"licenseKey": test_key, "productId": product, "deviceId": "d1"}),
            )
            .await;
        assert_eq!(r.body["code"], "TEST_LICENSE", "without {attr}: {}", r.raw);
    }

    // The product may accept test licenses.
    let (status, _) = shop
        .stack
        .api(
            &shop.tenant.token,
            "PUT",
            &format!("/api/products/{product}"),
            Some(json!({"acceptTestLicenses": true})),
        )
        .await;
    assert_eq!(status, 200);
    let r = shop
        .post(
            VALIDATE,
            json!({"licenseKey": test_key, "productId": product, "deviceId": "d1"}),
        )
        .await;
    assert_eq!(
        (&r.body["code"], &r.body["livemode"]),
        (&json!("VALID"), &json!(false))
    );

    // Admin views filter by mode.
    let ids = |items: Vec<Value>| -> Vec<String> {
        items
            .iter()
            .map(|l| l["id"].as_str().unwrap().to_string())
            .collect()
    };
    let live = ids(shop.stack.licenses(&shop.tenant, "&livemode=true").await);
    assert_eq!(live, vec![license_id(&live_key)]);
    let (status, events) = shop
        .stack
        .api(
            &shop.tenant.token,
            "GET",
            "/api/stripe/events?livemode=false",
            None,
        )
        .await;
    assert_eq!(status, 200);
    let events = events["items"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["eventId"], event["id"]);
    assert_eq!(events[0]["livemode"], false);
    let (status, _) = shop
        .stack
        .api(
            &shop.tenant.token,
            "GET",
            "/api/licenses?livemode=maybe",
            None,
        )
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn validation_from_one_address_is_budgeted_before_any_read() {
    let shop = Shop::live().await;
    let product = shop.product(json!({})).await;
    let body =
        json!({"licenseKey": "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE", "productId": product}).to_string();
    // Spend 127.0.0.10's validate budget (its burst) in the process, as a flood would.
    let budget = &shop.stack.services.ip_budgets.validate;
    let burst = keyhook_shared::services::ip_budgets::VALIDATE.burst as usize;
    for _ in 0..burst {
        budget.allow("127.0.0.10");
    }
    let r = shop
        .post_from(Some("127.0.0.10"), VALIDATE, &body, &[])
        .await;
    assert_eq!(r.status, 429, "{}", r.raw);
    assert_eq!(r.body["error"]["code"], "rate_limited");
    // Another address validates as usual (an unknown key: a signed NOT_FOUND).
    let r = shop
        .post_from(Some("127.0.0.11"), VALIDATE, &body, &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["code"], "NOT_FOUND");
}

/// Credentials that change on every resolution (`token-1`, `token-2`, ...), valid for
/// `lifetime`: how often the SDK's identity cache resolved them.
#[derive(Debug, Clone)]
struct Rotating {
    secret: &'static str,
    lifetime: std::time::Duration,
    minted: std::sync::Arc<std::sync::atomic::AtomicU32>,
}

impl Rotating {
    fn new(secret: &'static str, lifetime: std::time::Duration) -> Self {
        Rotating {
            secret,
            lifetime,
            minted: Default::default(),
        }
    }

    fn minted(&self) -> u32 {
        self.minted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl aws_credential_types::provider::ProvideCredentials for Rotating {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let n = self
            .minted
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        aws_credential_types::provider::future::ProvideCredentials::ready(Ok(
            aws_credential_types::Credentials::new(
                "AKIDSIGNEDREAD",
                self.secret,
                Some(format!("token-{n}")),
                Some(std::time::SystemTime::now() + self.lifetime),
                "test",
            ),
        ))
    }
}

/// A store whose DynamoDB client is built as Keyhook builds it, pointed at `responder`, with
/// these credentials and fast retries.
fn store_at(
    shop: &Shop,
    responder: &keyhook_tests::dynamo_responder::DynamoResponder,
    credentials: Rotating,
) -> keyhook_shared::store::Store {
    let config = keyhook_shared::sdk::dynamodb_settings(
        aws_sdk_dynamodb::config::Builder::from(&shop.stack.sdk)
            .endpoint_url(responder.url())
            .region(aws_sdk_dynamodb::config::Region::new("eu-west-3"))
            .credentials_provider(credentials)
            .http_client(keyhook_shared::sdk::http_client())
            .retry_config(
                aws_sdk_dynamodb::config::retry::RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(std::time::Duration::from_millis(1)),
            ),
    )
    .build();
    keyhook_shared::store::Store::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        shop.stack.services.store.table(),
    )
}

/// The validation routes' license read is signed by Keyhook itself once the SDK client made the
/// first one (`store::signed_get`): checked here against a GetItem responder that recomputes
/// every SigV4 signature, with a session token that rotates, error answers and retries.
#[tokio::test]
async fn the_license_read_is_signed_with_the_sdks_credentials_and_retries_as_the_sdk_does() {
    use keyhook_shared::Error;
    use keyhook_tests::dynamo_responder::{table_items, DynamoResponder};

    let shop = Shop::live().await;
    let product = shop.product(json!({})).await;
    let key = shop.license(&product).await;
    let id = license_id(&key);
    let store = &shop.stack.services.store;
    let responder = DynamoResponder::start(&table_items(store.client(), store.table()).await);
    responder.check_signatures(&[("AKIDSIGNEDREAD", "the-secret")]);

    // Credentials that expire within the identity cache's buffer: re-resolved on every read.
    let rotating = Rotating::new("the-secret", std::time::Duration::from_secs(1));
    let signed = store_at(&shop, &responder, rotating.clone());
    // The first read goes through the SDK client, which resolves endpoint and credentials.
    let (license, usage) = signed.get_license_with_usage(&id).await.unwrap().unwrap();
    assert_eq!(license.id, id);
    assert_eq!(signed.signed_get_items(), 0);
    // Later ones are signed directly, with what the SDK resolved.
    let (again, usage_again) = signed.get_license_with_usage(&id).await.unwrap().unwrap();
    assert_eq!(signed.signed_get_items(), 1);
    assert_eq!(
        serde_json::to_value(&again).unwrap(),
        serde_json::to_value(&license).unwrap(),
        "the same record as the SDK read"
    );
    assert_eq!(usage_again.version, usage.version);
    let seen = responder.seen();
    assert_eq!(seen.len(), 2);
    for s in &seen {
        assert_eq!(s.signature_ok, Some(true), "{s:?}");
        assert_eq!(s.access_key_id, "AKIDSIGNEDREAD");
        assert_eq!(s.region, "eu-west-3");
        assert_eq!(s.service, "dynamodb");
    }
    assert_eq!(
        rotating.minted(),
        2,
        "expiring credentials are resolved again"
    );
    assert_eq!(seen[0].session_token.as_deref(), Some("token-1"));
    assert_eq!(seen[1].session_token.as_deref(), Some("token-2"));

    // Throttling is retried, and so is a 5xx answer; the answer is the item.
    responder.fail_next(
        1,
        400,
        "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
    );
    responder.fail_next(
        1,
        500,
        "com.amazonaws.dynamodb.v20120810#InternalServerError",
    );
    let before = responder.seen().len();
    let (after_retries, _) = signed.get_license_with_usage(&id).await.unwrap().unwrap();
    assert_eq!(after_retries.id, id);
    assert_eq!(responder.failures_left(), 0);
    assert_eq!(
        responder.seen().len() - before,
        3,
        "two retries, each signed afresh"
    );
    assert!(responder
        .seen()
        .iter()
        .all(|s| s.signature_ok == Some(true)));

    // Past the client's attempts (3), and for errors that are not transient, the same error as
    // the SDK path's: DynamoDB is unavailable (503 to the caller), nothing is made up.
    responder.fail_next(
        4,
        503,
        "com.amazonaws.dynamodb.v20120810#ServiceUnavailable",
    );
    let before = responder.seen().len();
    let e = signed.get_license_with_usage(&id).await.unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Upstream {
                service: "dynamodb",
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.status().as_u16(), 503);
    assert_eq!(responder.seen().len() - before, 3);
    assert_eq!(responder.failures_left(), 1);
    // The next read retries past the last one.
    let before = responder.seen().len();
    assert!(signed.get_license_with_usage(&id).await.unwrap().is_some());
    assert_eq!(responder.seen().len() - before, 2);
    responder.fail_next(
        2,
        400,
        "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
    );
    let before = responder.seen().len();
    let e = signed.get_license_with_usage(&id).await.unwrap_err();
    assert!(
        matches!(&e, Error::Upstream { service: "dynamodb", detail } if detail.contains("ResourceNotFoundException")),
        "{e:?}"
    );
    assert_eq!(responder.seen().len() - before, 1, "not retried");
    assert_eq!(responder.failures_left(), 1);
    // The SDK path maps the same answer to the same error.
    let sdk_error = signed
        .client()
        .get_item()
        .table_name(signed.table())
        .key("pk", s("x"))
        .key("sk", s("y"))
        .send()
        .await
        .unwrap_err();
    let sdk_error = Error::aws(
        "dynamodb",
        aws_sdk_dynamodb::error::DisplayErrorContext(sdk_error),
    );
    assert_eq!(sdk_error.status(), e.status());
    assert_eq!(sdk_error.code(), e.code());

    // An unknown key is an absent item, not an error.
    assert!(signed
        .get_license_with_usage("lic_unknown")
        .await
        .unwrap()
        .is_none());

    // Credentials that do not expire are resolved once and cached, and a wrong secret is
    // refused by the responder (its check is real).
    let lasting = Rotating::new("not-the-secret", std::time::Duration::from_secs(3600));
    let wrong = store_at(&shop, &responder, lasting.clone());
    for _ in 0..3 {
        let e = wrong.get_license_with_usage(&id).await.unwrap_err();
        assert!(
            matches!(&e, Error::Upstream { detail, .. } if detail.contains("InvalidSignature")),
            "{e:?}"
        );
    }
    assert_eq!(lasting.minted(), 1);
    assert!(responder
        .seen()
        .iter()
        .rev()
        .take(3)
        .all(|s| s.signature_ok == Some(false) && s.session_token.as_deref() == Some("token-1")));

    // The whole validation over the signed read: a signed answer; once the tenant's signing
    // key is open (the first request), one GetItem, signed directly.
    let services = keyhook_shared::Services::with_clients(
        shop.stack.config(),
        signed.clone(),
        aws_sdk_kms::Client::new(&shop.stack.sdk),
        aws_sdk_sqs::Client::new(&shop.stack.sdk),
        aws_sdk_sesv2::Client::new(&shop.stack.sdk),
    );
    let validate = || {
        dispatch(
            &services,
            Some(Function::Validate),
            keyhook_shared::http::ApiRequest {
                method: http::Method::POST,
                path: VALIDATE.into(),
                query: vec![],
                headers: Default::default(),
                body: json!({"licenseKey": key, "productId": product})
                    .to_string()
                    .into_bytes()
                    .into(),
                source_ip: Some("192.0.2.7".parse().unwrap()),
                request_id: "signed-read".into(),
            },
        )
    };
    for round in 0..2 {
        let (served, sent) = (responder.served(), signed.signed_get_items());
        let res = validate().await;
        let body: Value = serde_json::from_slice(&res.body).unwrap();
        assert_eq!(res.status.as_u16(), 200, "{body}");
        assert_eq!(body["code"], "VALID");
        assert_eq!(signed.signed_get_items() - sent, 1);
        if round == 1 {
            assert_eq!(responder.served() - served, 1);
        }
    }
    assert_eq!(responder.seen().last().unwrap().signature_ok, Some(true));
}
