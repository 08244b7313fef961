//! The test vectors of `clients/test-vectors/`, made by the server's own signing code (the
//! answer builder of [`super::answer`] and the file builder of [`super::license_file`]) with
//! fixed keys and times, so every verifier (Rust, Python, TypeScript) is checked against what
//! the server really sends. The test fails when the committed vectors differ from what the
//! code makes; `KEYHOOK_REGENERATE_VECTORS=1 cargo test -p keyhook-shared test_vectors`
//! rewrites them.

use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use super::answer::{Answer, LicenseSummary};
use super::license_file::{build, FileOrder};
use crate::crypto::signing_keys::Signer;
use crate::domain::validation::trial::TrialPeriod;
use crate::domain::validation::{Code, DeviceId};
use crate::domain::LicenseKey;
use keyhook_format::file::Encryption;
use keyhook_format::{FilePayload, LicenseFile};

const KEY: &str = "7K2M9-Q4X1C-8V3B6-N0D5F-HJKMP";
const OTHER_KEY: &str = "ABCDE-FGHJK-MNPQR-STVWX-YZ012";
const PRODUCT: &str = "42";
const DEVICE: &str = "machine-7f3a";

fn t(s: &str) -> OffsetDateTime {
    crate::time::parse(s).unwrap()
}

fn signer(seed: u8) -> Signer {
    Signer::new(SigningKey::from_bytes(&[seed; 32]))
}

fn key_set(signers: &[&Signer]) -> Value {
    use base64::Engine;
    json!({"keys": signers.iter().map(|s| json!({
        "kid": s.kid,
        "alg": "Ed25519",
        "publicKey": base64::engine::general_purpose::STANDARD.encode(s.key.verifying_key().as_bytes()),
        "status": "active",
        "createdAt": "2026-11-01T00:00:00.000Z",
    })).collect::<Vec<_>>()})
}

/// A live license of product 42 for [`KEY`], 2 devices, expiring 2027-11-24.
fn license() -> crate::domain::License {
    let mut l = crate::domain::fixtures::license();
    l.id = LicenseKey::parse(KEY).unwrap().license_id();
    l.product_id = PRODUCT.into();
    l.max_devices = 2;
    l.expires_at = Some(t("2027-11-24T00:00:00Z"));
    l.devices = vec![crate::domain::license::Device {
        device_id: DEVICE.into(),
        device_name: None,
        activated_at: t("2026-11-20T00:00:00Z"),
    }];
    l
}

fn expect(product: &str, device: Option<&str>, nonce: Option<&str>, key: Option<&str>) -> Value {
    json!({"productId": product, "deviceId": device, "nonce": nonce, "licenseKey": key})
}

fn case(name: &str, body: &[u8], expect: Value, now: &str, result: &str) -> Value {
    json!({
        "name": name,
        "body": String::from_utf8(body.to_vec()).unwrap(),
        "expect": expect,
        "now": now,
        "result": result,
    })
}

fn vectors() -> Value {
    let a = signer(1);
    let stranger = signer(2);
    let signed_at = t("2026-11-24T10:00:00Z");
    let now = "2026-11-24T10:01:00.000Z";
    let lic = license();
    let device_hash = keyhook_format::device_hash(PRODUCT, DEVICE);
    let valid = |s: &Signer| {
        Answer {
            verdict: Code::Valid.verdict(),
            product_id: PRODUCT,
            device_hash: Some(&device_hash),
            license_id: Some(&lic.id),
            livemode: true,
            license: Some(LicenseSummary::of(&lic, signed_at)),
            trial: None,
            nonce: Some("n-1"),
            now: signed_at,
        }
        .to_body(Some(s))
    };
    let valid_body = valid(&a);
    let trial_body = Answer {
        verdict: Code::Trial.verdict(),
        product_id: PRODUCT,
        device_hash: Some(&device_hash),
        license_id: None,
        livemode: true,
        license: None,
        trial: Some(TrialPeriod {
            started_at: t("2026-11-20T00:00:00Z"),
            expires_at: t("2026-12-04T00:00:00Z"),
        }),
        nonce: Some("n-2"),
        now: signed_at,
    }
    .to_body(Some(&a));
    let tampered = String::from_utf8(valid_body.clone())
        .unwrap()
        .replace("\"maxDevices\":2", "\"maxDevices\":9")
        .into_bytes();
    let v1 = keyhook_format::answer::sign_answer(
        Some(&a.key),
        br#"{"valid":true,"code":"VALID","detail":"The license is valid.","nonce":"n-1","signedAt":"2026-11-24T10:00:00.000Z"}"#.to_vec(),
    );
    let unsigned = Answer {
        verdict: Code::NotFound.verdict(),
        product_id: "999",
        device_hash: None,
        license_id: None,
        livemode: true,
        license: None,
        trial: None,
        nonce: Some("n-3"),
        now: signed_at,
    }
    .to_body(None);
    let mine = expect(PRODUCT, Some(DEVICE), Some("n-1"), Some(KEY));
    let answers = vec![
        case("valid", &valid_body, mine.clone(), now, "ok"),
        case(
            "valid-lenient-key-input",
            &valid_body,
            expect(
                PRODUCT,
                Some(DEVICE),
                Some("n-1"),
                Some("7k2m9 q4x1c 8v3b6 n0d5f hjkmp"),
            ),
            now,
            "ok",
        ),
        case(
            "trial",
            &trial_body,
            expect(PRODUCT, Some(DEVICE), Some("n-2"), None),
            now,
            "ok",
        ),
        case("tampered", &tampered, mine.clone(), now, "bad_signature"),
        case(
            "wrong-product",
            &valid_body,
            expect("43", Some(DEVICE), Some("n-1"), Some(KEY)),
            now,
            "wrong_product",
        ),
        case(
            "trial-for-a-paid-product",
            &trial_body,
            expect("43", Some(DEVICE), Some("n-2"), None),
            now,
            "wrong_product",
        ),
        case(
            "wrong-device",
            &valid_body,
            expect(PRODUCT, Some("machine-other"), Some("n-1"), Some(KEY)),
            now,
            "wrong_device",
        ),
        case(
            "replayed-nonce",
            &valid_body,
            expect(PRODUCT, Some(DEVICE), Some("n-9"), Some(KEY)),
            now,
            "wrong_nonce",
        ),
        case(
            "wrong-license",
            &valid_body,
            expect(PRODUCT, Some(DEVICE), Some("n-1"), Some(OTHER_KEY)),
            now,
            "wrong_license",
        ),
        case(
            "trial-taken-for-a-license",
            &trial_body,
            expect(PRODUCT, Some(DEVICE), Some("n-2"), Some(KEY)),
            now,
            "wrong_license",
        ),
        case(
            "wrong-kid",
            &valid(&stranger),
            mine.clone(),
            now,
            "unknown_key",
        ),
        case(
            "stale",
            &valid_body,
            mine.clone(),
            "2026-11-24T10:06:00.000Z",
            "stale",
        ),
        case(
            "rolled-back-clock",
            &valid_body,
            mine.clone(),
            "2026-11-24T09:00:00.000Z",
            "not_yet_valid",
        ),
        case("format-v1", &v1, mine.clone(), now, "unsupported_format"),
        case(
            "unsigned",
            &unsigned,
            expect("999", None, Some("n-3"), None),
            now,
            "unsigned",
        ),
    ];

    // Files.
    let product = {
        let mut p = crate::domain::fixtures::product();
        p.entitlements = vec!["pro".into(), "export".into()];
        p
    };
    let device = DeviceId::parse(DEVICE).unwrap();
    let issued = t("2026-11-24T10:00:00Z");
    let order = |s: &'static Signer| FileOrder {
        signer: s,
        license: Box::leak(Box::new(lic.clone())),
        product: Box::leak(Box::new(product.clone())),
        device: Box::leak(Box::new(device.clone())),
        livemode: true,
        ttl: Duration::days(7),
        encrypt_to: None,
        now: issued,
    };
    let a_static: &'static Signer = Box::leak(Box::new(signer(1)));
    let stranger_static: &'static Signer = Box::leak(Box::new(signer(2)));
    let (plain, _) = build(order(a_static));
    let payload: FilePayload = plain
        .verify(
            &keyhook_format::PublicKeySet::single(&{
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.encode(a.key.verifying_key().as_bytes())
            })
            .unwrap(),
            None,
        )
        .unwrap();
    let encrypted = LicenseFile::sign(
        &a.key,
        &payload,
        Some(Encryption {
            license_key: KEY,
            nonce: [9; 12],
        }),
    );
    let (foreign, _) = build(order(stranger_static));
    let tampered_file = {
        let mut p = payload.clone();
        p.entitlements.push("enterprise".into());
        // Re-armour the forged payload with the original signature.
        let inner: String = plain
            .0
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut env: Value = serde_json::from_slice(&b64.decode(inner).unwrap()).unwrap();
        env["payload"] = b64.encode(serde_json::to_vec(&p).unwrap()).into();
        LicenseFile(format!(
            "{}\n{}\n{}\n",
            keyhook_format::file::BEGIN,
            b64.encode(serde_json::to_vec(&env).unwrap()),
            keyhook_format::file::END
        ))
    };
    let file_case = |name: &str,
                     f: &LicenseFile,
                     product: &str,
                     device: &str,
                     key: Option<&str>,
                     now: &str,
                     newest: Option<&str>,
                     result: &str| {
        json!({
            "name": name, "file": f.0, "productId": product, "deviceId": device,
            "licenseKey": key, "now": now, "newestSeen": newest, "result": result,
        })
    };
    let fnow = "2026-11-25T00:00:00.000Z";
    let files = vec![
        file_case("valid", &plain, PRODUCT, DEVICE, None, fnow, None, "ok"),
        file_case(
            "valid-encrypted",
            &encrypted,
            PRODUCT,
            DEVICE,
            Some(KEY),
            fnow,
            None,
            "ok",
        ),
        file_case(
            "encrypted-without-key",
            &encrypted,
            PRODUCT,
            DEVICE,
            None,
            fnow,
            None,
            "key_required",
        ),
        file_case(
            "encrypted-wrong-key",
            &encrypted,
            PRODUCT,
            DEVICE,
            Some(OTHER_KEY),
            fnow,
            None,
            "decrypt",
        ),
        file_case(
            "tampered",
            &tampered_file,
            PRODUCT,
            DEVICE,
            None,
            fnow,
            None,
            "bad_signature",
        ),
        file_case(
            "expired",
            &plain,
            PRODUCT,
            DEVICE,
            None,
            "2026-12-01T10:00:00.000Z",
            None,
            "expired",
        ),
        file_case(
            "wrong-product",
            &plain,
            "43",
            DEVICE,
            None,
            fnow,
            None,
            "wrong_product",
        ),
        file_case(
            "wrong-device",
            &plain,
            PRODUCT,
            "machine-other",
            None,
            fnow,
            None,
            "wrong_device",
        ),
        file_case(
            "wrong-kid",
            &foreign,
            PRODUCT,
            DEVICE,
            None,
            fnow,
            None,
            "unknown_key",
        ),
        file_case(
            "issued-in-the-future",
            &plain,
            PRODUCT,
            DEVICE,
            None,
            "2026-11-24T09:00:00.000Z",
            None,
            "not_yet_valid",
        ),
        file_case(
            "rolled-back-clock",
            &plain,
            PRODUCT,
            DEVICE,
            None,
            "2026-11-24T12:00:00.000Z",
            Some("2026-11-26T00:00:00.000Z"),
            "clock_rollback",
        ),
    ];
    json!({
        "description": "Keyhook test vectors: signed answers (keyhook-answer-v2) and license files (keyhook-license-file-v1), made by the server's signing code with fixed keys (seeds 0x01.. and 0x02..). Every verifier must give `result` for each case. Answers: verify with `keys`, check expect.{productId, deviceId, nonce, licenseKey}, then freshness at `now` (maxAnswerAgeSeconds, clockSkewSeconds). Files: check the clock against `newestSeen` first (clock_rollback when now + skew < newestSeen), then verify with `keys` (decrypting with licenseKey), then productId, deviceId, issuedAt <= now + skew, expiresAt > now.",
        "maxAnswerAgeSeconds": 300,
        "clockSkewSeconds": 300,
        "keys": key_set(&[&a]),
        "payload": payload,
        "answers": answers,
        "files": files,
    })
}

#[test]
fn committed_test_vectors_are_what_the_server_signs() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../clients/test-vectors");
    let made = serde_json::to_string_pretty(&vectors()).unwrap() + "\n";
    let keys = serde_json::to_string_pretty(&vectors()["keys"]).unwrap() + "\n";
    if std::env::var("KEYHOOK_REGENERATE_VECTORS").is_ok() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("vectors.json"), &made).unwrap();
        std::fs::write(dir.join("keys.json"), &keys).unwrap();
    }
    let committed = std::fs::read_to_string(dir.join("vectors.json")).unwrap_or_default();
    assert!(
        committed == made,
        "clients/test-vectors/vectors.json is not what the code signs; regenerate with KEYHOOK_REGENERATE_VECTORS=1 cargo test -p keyhook-shared test_vectors"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("keys.json")).unwrap(),
        keys
    );
}
