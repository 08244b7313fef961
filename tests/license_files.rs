//! License files and signing-key rotation end to end: files checked out over HTTP through the
//! real dispatcher against the emulator, verified offline with the published key set
//! (`keyhook-format`, the code the client libraries use).

use keyhook_format::file::FILE_FORMAT;
use keyhook_format::{device_hash, LicenseFile, PublicKeySet, VerifyError};
use keyhook_tests::Shop;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

/// The license-file calls these tests make of a shop.
trait FileCalls {
    async fn post(&self, path: &str, body: Value) -> (u16, Value);
    async fn keys(&self) -> (PublicKeySet, Value);
}

impl FileCalls for Shop {
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let res = self
            .stack
            .http
            .post(format!("{}{path}", self.stack.base_url))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn keys(&self) -> (PublicKeySet, Value) {
        let body = self.stack.published_keys(&self.tenant.id).await;
        (
            PublicKeySet::from_json(&body).unwrap(),
            serde_json::from_slice(&body).unwrap(),
        )
    }
}

#[tokio::test]
async fn a_checked_out_file_verifies_offline_for_its_product_and_device_only() {
    let shop = Shop::live().await;
    let product = shop
        .stack
        .product(
            &shop.tenant,
            json!({"maxDevices": 1, "entitlements": ["pro", "export", "pro"]}),
        )
        .await;
    let (license_id, key) = shop.license_with_id(&product).await;
    let (status, out) = shop
        .post(
            "/api/licenses/checkout",
            json!({"licenseKey": key, "productId": product, "deviceId": "machine-1", "ttl": 86400}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let text = out["file"].as_str().unwrap();
    assert!(text.starts_with("-----BEGIN KEYHOOK LICENSE FILE-----\n"));
    assert!(!text.contains(&key) && !text.contains("machine-1"));
    let (keys, _) = shop.keys().await;
    let file = LicenseFile(text.to_string());
    let payload = file.verify(&keys, None).unwrap();
    assert_eq!(payload.format, FILE_FORMAT);
    assert_eq!(payload.kid, out["kid"].as_str().unwrap());
    assert_eq!(payload.license_id, license_id);
    assert_eq!(payload.product_id, product);
    assert_eq!(payload.device_hash, device_hash(&product, "machine-1"));
    assert_eq!(payload.entitlements, vec!["pro", "export"]);
    assert_eq!(payload.license.max_devices, 1);
    assert!(payload.livemode);
    assert_eq!(payload.expires_at, out["expiresAt"].as_str().unwrap());
    let skew = Duration::minutes(5);
    assert_eq!(
        payload.check(&product, "machine-1", OffsetDateTime::now_utc(), skew),
        Ok(())
    );
    assert_eq!(
        payload.check(&product, "machine-2", OffsetDateTime::now_utc(), skew),
        Err(VerifyError::WrongDevice)
    );
    assert!(matches!(
        payload.check("999", "machine-1", OffsetDateTime::now_utc(), skew),
        Err(VerifyError::WrongProduct { .. })
    ));
    assert!(matches!(
        payload.check(
            &product,
            "machine-1",
            OffsetDateTime::now_utc() + Duration::days(2),
            skew
        ),
        Err(VerifyError::Expired(_))
    ));

    // The checkout activated the device: the one seat is taken.
    let (status, refused) = shop
        .post(
            "/api/licenses/checkout",
            json!({"licenseKey": key, "productId": product, "deviceId": "machine-2"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(refused["code"], "DEVICE_LIMIT_REACHED", "{refused}");
    assert!(refused.get("file").is_none());
    // The same device checks out again (idempotent activation).
    let (status, again) = shop
        .post(
            "/api/licenses/checkout",
            json!({"licenseKey": key, "productId": product, "deviceId": "machine-1", "encrypt": true}),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    let enc = LicenseFile(again["file"].as_str().unwrap().to_string());
    assert_eq!(enc.verify(&keys, None), Err(VerifyError::KeyRequired));
    let p = enc.verify(&keys, Some(&key.to_lowercase())).unwrap();
    assert_eq!(p.license_id, license_id);
    // Default ttl: 7 days.
    let ttl = keyhook_format::time_fmt::parse("e", &p.expires_at).unwrap()
        - keyhook_format::time_fmt::parse("i", &p.issued_at).unwrap();
    assert_eq!(ttl, Duration::days(7));

    // Bounds and required fields.
    for (body, field) in [
        (
            json!({"licenseKey": key, "productId": product, "deviceId": "machine-1", "ttl": 60}),
            "ttl",
        ),
        (
            json!({"licenseKey": key, "productId": product, "deviceId": "machine-1", "ttl": 40_000_000}),
            "ttl",
        ),
        (json!({"licenseKey": key, "productId": product}), "deviceId"),
        (json!({"productId": product, "deviceId": "m"}), "licenseKey"),
    ] {
        let (status, e) = shop.post("/api/licenses/checkout", body).await;
        // Malformed: 422; a ttl outside the product's bounds: 409. Both name the field.
        assert!(matches!(status, 422 | 409), "{e}");
        assert_eq!(e["error"]["field"].as_str(), Some(field), "{e}");
    }

    // The admin fetches a file for an activated device, and is refused one for another.
    let token = &shop.tenant.token;
    let (status, admin) = shop
        .stack
        .api(
            token,
            "GET",
            &format!("/api/licenses/{license_id}/file?deviceId=machine-1&ttl=3600"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{admin}");
    let p = LicenseFile(admin["file"].as_str().unwrap().to_string())
        .verify(&keys, None)
        .unwrap();
    assert_eq!(
        p.check(&product, "machine-1", OffsetDateTime::now_utc(), skew),
        Ok(())
    );
    let (status, _) = shop
        .stack
        .api(
            token,
            "GET",
            &format!("/api/licenses/{license_id}/file?deviceId=machine-9"),
            None,
        )
        .await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn rotated_keys_stay_published_and_old_files_keep_verifying() {
    let shop = Shop::live().await;
    let product = shop.stack.product(&shop.tenant, json!({})).await;
    let (_, key) = shop.license_with_id(&product).await;
    let checkout = || {
        shop.post(
            "/api/licenses/checkout",
            json!({"licenseKey": key, "productId": product, "deviceId": "machine-1"}),
        )
    };
    let (_, old) = checkout().await;
    let old_kid = old["kid"].as_str().unwrap().to_string();
    let (_, published) = shop.keys().await;
    assert_eq!(published["keys"].as_array().unwrap().len(), 1);
    assert_eq!(published["keys"][0]["kid"], old_kid.as_str());
    assert_eq!(published["keys"][0]["status"], "active");
    assert_eq!(published["keys"][0]["alg"], "Ed25519");

    let token = &shop.tenant.token;
    let (status, next) = shop
        .stack
        .api(token, "POST", "/api/signing-keys", None)
        .await;
    assert_eq!(status, 201, "{next}");
    assert_eq!(next["status"], "next");
    let next_kid = next["kid"].as_str().unwrap().to_string();
    let (_, published) = shop.keys().await;
    let statuses: Vec<(String, String)> = published["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().unwrap().into(),
                k["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            (old_kid.clone(), "active".into()),
            (next_kid.clone(), "next".into())
        ],
        "a next key is published before it signs"
    );
    let (_, still_old) = checkout().await;
    assert_eq!(still_old["kid"], old_kid.as_str());

    let (status, activated) = shop
        .stack
        .api(
            token,
            "POST",
            &format!("/api/signing-keys/{next_kid}/activate"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{activated}");
    assert_eq!(activated["status"], "active");
    let (_, new) = checkout().await;
    assert_eq!(new["kid"], next_kid.as_str(), "the new key signs at once");
    let answer = shop
        .post(
            "/api/licenses/validate",
            json!({"licenseKey": key, "productId": product}),
        )
        .await
        .1;
    assert_eq!(answer["kid"], next_kid.as_str());

    // Both verify with the published set; the old key is retired, not gone.
    let (keys, published) = shop.keys().await;
    for f in [&old, &new] {
        LicenseFile(f["file"].as_str().unwrap().to_string())
            .verify(&keys, None)
            .unwrap();
    }
    let retired = published["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == old_kid.as_str())
        .unwrap();
    assert_eq!(retired["status"], "retired");
    assert!(retired["validUntil"].is_string());
    // The single-key route names the active key.
    let single: Value = shop
        .stack
        .http
        .get(format!(
            "{}/api/tenants/{}/signing-key",
            shop.stack.base_url, shop.tenant.id
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(single["kid"], next_kid.as_str());
    // A retired key cannot come back; unknown keys are 404.
    let (status, _) = shop
        .stack
        .api(
            token,
            "POST",
            &format!("/api/signing-keys/{old_kid}/activate"),
            None,
        )
        .await;
    assert_eq!(status, 409);
    let (status, _) = shop
        .stack
        .api(
            token,
            "POST",
            "/api/signing-keys/0000000000000000/activate",
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, all) = shop
        .stack
        .api(token, "GET", "/api/signing-keys", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(all["keys"].as_array().unwrap().len(), 2);
}
