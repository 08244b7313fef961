//! The test vectors of `clients/test-vectors/`, made by the server's own signing code (the
//! answer builder of [`super::answer`], the file builder of [`super::license_file`], the key
//! set of [`super::signing_key`]) with fixed keys and times, and the clock marks of
//! `keyhook_format::clock_mark`, so every verifier (Rust, Python, TypeScript) is checked
//! against what the server really sends and what every client must store. The test fails when
//! the committed vectors differ from what the code makes;
//! `KEYHOOK_REGENERATE_VECTORS=1 cargo test -p keyhook-shared test_vectors` rewrites them.

use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use super::answer::{Answer, LeaseSummary, LicenseSummary, SeatsSummary, UsageSummary};
use super::license_file::{build, FileOrder};
use super::signing_key::{key_set, KeySetView};
use crate::crypto::signing_keys::Signer;
use crate::domain::signing_key::{SigningKeyRecord, SigningKeyStatus};
use crate::domain::validation::trial::TrialPeriod;
use crate::domain::validation::{Code, DeviceId};
use crate::domain::{LicenseKey, Tenant};
use keyhook_format::clock_mark::{self, MarkSlot};
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

/// When the previous key (seed 0x03..) was retired and the active one (0x01..) took over.
const RETIRED_AT: &str = "2026-11-20T00:00:00Z";

fn public_key(s: &Signer) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s.key.verifying_key().as_bytes())
}

/// The key set as `GET /api/tenants/{tenantId}/signing-keys` publishes it: `active` signing
/// since [`RETIRED_AT`], `retired` (with its `retiredAt`) before.
fn published_keys(active: &Signer, retired: &Signer) -> Value {
    let tenant = Tenant {
        id: "ten_vectors".into(),
        name: "Vectors".into(),
        active_key_id: String::new(),
        signing_key_sealed: String::new(),
        signing_public_key: public_key(active),
        created_at: t("2026-10-01T00:00:00Z"),
        version: 0,
        portal: Default::default(),
        portal_version: 0,
    };
    let record = |s: &Signer, status, created: &str, retired_at: Option<&str>| SigningKeyRecord {
        kid: s.kid.clone(),
        tenant_id: tenant.id.clone(),
        public_key: public_key(s),
        seed_sealed: None,
        status,
        created_at: t(created),
        retired_at: retired_at.map(t),
    };
    let records = [
        record(
            retired,
            SigningKeyStatus::Retired,
            "2026-10-01T00:00:00Z",
            Some(RETIRED_AT),
        ),
        record(
            active,
            SigningKeyStatus::Active,
            "2026-11-15T00:00:00Z",
            None,
        ),
    ];
    serde_json::to_value(KeySetView {
        keys: key_set(&tenant, &records, t("2026-11-24T10:00:00Z"), false),
    })
    .unwrap()
}

/// The clock mark a client stores for (product, key, device) at `high_water`.
fn mark(product: &str, key: Option<&str>, device: &str, high_water: &str) -> String {
    clock_mark::seal(
        &MarkSlot {
            product_id: product,
            license_key: key,
            device_id: device,
        },
        t(high_water),
    )
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

/// An answer case, checked by a live build.
fn case(name: &str, body: &[u8], expect: Value, now: &str, result: &str) -> Value {
    json!({
        "name": name,
        "body": String::from_utf8(body.to_vec()).unwrap(),
        "expect": expect,
        "environment": "live",
        "now": now,
        "result": result,
    })
}

/// The same case, checked by a test build.
fn in_test_build(mut case: Value) -> Value {
    case["environment"] = "test".into();
    case
}

fn vectors() -> Value {
    let a = signer(1);
    let stranger = signer(2);
    let old = signer(3);
    let signed_at = t("2026-11-24T10:00:00Z");
    let now = "2026-11-24T10:01:00.000Z";
    let lic = license();
    let device_hash = keyhook_format::device_hash(PRODUCT, DEVICE);
    let answer_at = |s: &Signer, code: Code, livemode: bool, at: OffsetDateTime| {
        Answer {
            verdict: code.verdict(),
            product_id: PRODUCT,
            device_hash: Some(&device_hash),
            license_id: Some(&lic.id),
            livemode,
            license: Some(LicenseSummary::of(&lic, at)),
            manage_url: None,
            lease: None,
            seats: None,
            usage: None,
            meters: None,
            trial: None,
            nonce: Some("n-1"),
            now: at,
        }
        .to_body(Some(s))
    };
    let valid = |s: &Signer| answer_at(s, Code::Valid, true, signed_at);
    let valid_body = valid(&a);
    let test_license = answer_at(&a, Code::Valid, false, signed_at);
    let test_license_refused = answer_at(&a, Code::TestLicense, false, signed_at);
    let retired_at = t(RETIRED_AT);
    let by_old_key_at = |at: OffsetDateTime| answer_at(&old, Code::Valid, true, at);
    let one_minute_after = |at: OffsetDateTime| crate::time::format(at + Duration::minutes(1));
    let trial_body = Answer {
        verdict: Code::Trial.verdict(),
        product_id: PRODUCT,
        device_hash: Some(&device_hash),
        license_id: None,
        livemode: true,
        license: None,
        manage_url: None,
        lease: None,
        seats: None,
        usage: None,
        meters: None,
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
    // An activation refused for too many devices: the signed answer links to the license's
    // page in the merchant's customer portal.
    let manage_url = crate::domain::portal_links::license_url(
        "https://keyhook.example.com",
        &lic.tenant_id,
        &lic.id,
    );
    let device_limit = Answer {
        verdict: Code::DeviceLimitReached.verdict(),
        product_id: PRODUCT,
        device_hash: Some(&device_hash),
        license_id: Some(&lic.id),
        livemode: true,
        license: Some(LicenseSummary::of(&lic, signed_at)),
        manage_url: Some(&manage_url),
        lease: None,
        seats: None,
        usage: None,
        meters: None,
        trial: None,
        nonce: Some("n-1"),
        now: signed_at,
    }
    .to_body(Some(&a));
    // Floating licenses: a lease taken (valid, with the lease), and the seats all in use.
    let lease_at = |code: Code, lease: Option<LeaseSummary>, seats: Option<SeatsSummary>| {
        Answer {
            verdict: code.verdict(),
            product_id: PRODUCT,
            device_hash: Some(&device_hash),
            license_id: Some(&lic.id),
            livemode: true,
            license: Some(LicenseSummary::of(&lic, signed_at)),
            manage_url: None,
            lease,
            seats,
            usage: None,
            meters: None,
            trial: None,
            nonce: Some("n-4"),
            now: signed_at,
        }
        .to_body(Some(&a))
    };
    let lease_body = lease_at(
        Code::Valid,
        Some(LeaseSummary {
            id: "lse_0123456789abcdefghjkmnpqrs_7k2m9q4x1c8v3b6n0d5f",
            expires_at: crate::time::format(signed_at + Duration::minutes(15)),
            heartbeat_seconds: 300,
            borrowed_until: None,
        }),
        None,
    );
    let limit_body = lease_at(
        Code::ConcurrencyLimitReached,
        None,
        Some(SeatsSummary {
            in_use: 5,
            max_concurrent: 5,
        }),
    );
    // Usage limits: a record accepted (what remains), and one refused at the limit (sent
    // with the app's optional deviceId, echoed as deviceHash).
    let usage_at = |code: Code, used: u64| {
        Answer {
            verdict: code.verdict(),
            product_id: PRODUCT,
            device_hash: Some(&device_hash),
            license_id: Some(&lic.id),
            livemode: true,
            license: Some(LicenseSummary::of(&lic, signed_at)),
            manage_url: None,
            lease: None,
            seats: None,
            usage: Some(UsageSummary {
                meter: "exports",
                period: "month",
                used,
                limit: 1000,
                remaining: 1000 - used,
                resets_at: Some("2026-12-01T00:00:00.000Z".into()),
            }),
            meters: None,
            trial: None,
            nonce: Some("n-5"),
            now: signed_at,
        }
        .to_body(Some(&a))
    };
    let usage_body = usage_at(Code::Valid, 998);
    let usage_limit_body = usage_at(Code::UsageLimitReached, 998);
    // A validation with `include: ["usage"]`: every meter of the product, used this period.
    let meters_body = Answer {
        verdict: Code::Valid.verdict(),
        product_id: PRODUCT,
        device_hash: Some(&device_hash),
        license_id: Some(&lic.id),
        livemode: true,
        license: Some(LicenseSummary::of(&lic, signed_at)),
        manage_url: None,
        lease: None,
        seats: None,
        usage: None,
        meters: Some(vec![
            UsageSummary {
                meter: "exports",
                period: "month",
                used: 998,
                limit: 1000,
                remaining: 2,
                resets_at: Some("2026-12-01T00:00:00.000Z".into()),
            },
            UsageSummary {
                meter: "projects",
                period: "lifetime",
                used: 3,
                limit: 1_000_000_000_000,
                remaining: 999_999_999_997,
                resets_at: None,
            },
        ]),
        trial: None,
        nonce: Some("n-5"),
        now: signed_at,
    }
    .to_body(Some(&a));
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
        manage_url: None,
        lease: None,
        seats: None,
        usage: None,
        meters: None,
        trial: None,
        nonce: Some("n-3"),
        now: signed_at,
    }
    .to_body(None);
    // The valid answer with one member changed, signed again: what only a parser that checks
    // types and timestamps refuses (a signature proves who wrote it, not that it is well
    // formed).
    let resigned = |from: &str, to: &str| {
        let (message, _) = keyhook_format::answer::signed_parts(&valid_body).unwrap();
        let text = String::from_utf8(message).unwrap();
        assert!(text.contains(from), "{from}");
        keyhook_format::answer::sign_answer(Some(&a.key), text.replace(from, to).into_bytes())
    };
    let not_json = keyhook_format::answer::sign_answer(Some(&a.key), b"{not json}".to_vec());
    // A member whose name differs from one the answer has only in case is another member,
    // ignored like any unknown one: a reader that matches names case-insensitively (Go's
    // encoding/json does) would take the later `ProductId` for the product.
    let other_case = resigned(
        "\"productId\":\"42\"",
        "\"productId\":\"42\",\"ProductId\":\"43\"",
    );
    let mine = expect(PRODUCT, Some(DEVICE), Some("n-1"), Some(KEY));
    let leased = expect(PRODUCT, Some(DEVICE), Some("n-4"), Some(KEY));
    let metered = expect(PRODUCT, Some(DEVICE), Some("n-5"), Some(KEY));
    let answers = vec![
        case("valid", &valid_body, mine.clone(), now, "ok"),
        case("lease", &lease_body, leased.clone(), now, "ok"),
        case("concurrency-limit", &limit_body, leased.clone(), now, "ok"),
        case("usage", &usage_body, metered.clone(), now, "ok"),
        case("usage-limit", &usage_limit_body, metered.clone(), now, "ok"),
        case("valid-with-usage", &meters_body, metered.clone(), now, "ok"),
        case(
            "lease-for-another-device",
            &lease_body,
            expect(PRODUCT, Some("machine-other"), Some("n-4"), Some(KEY)),
            now,
            "wrong_device",
        ),
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
            "member-named-in-another-case",
            &other_case,
            mine.clone(),
            now,
            "ok",
        ),
        case(
            "unsigned",
            &unsigned,
            expect("999", None, Some("n-3"), None),
            now,
            "unsigned",
        ),
        case(
            "test-license-in-a-live-build",
            &test_license,
            mine.clone(),
            now,
            "test_license",
        ),
        in_test_build(case(
            "test-license-in-a-test-build",
            &test_license,
            mine.clone(),
            now,
            "ok",
        )),
        case(
            "device-limit-reached-with-manage-url",
            &device_limit,
            mine.clone(),
            now,
            "ok",
        ),
        case(
            "test-license-refused-in-a-live-build",
            &test_license_refused,
            mine.clone(),
            now,
            "ok",
        ),
        case(
            "retired-key-before-its-retirement",
            &by_old_key_at(retired_at - Duration::hours(1)),
            mine.clone(),
            &one_minute_after(retired_at - Duration::hours(1)),
            "ok",
        ),
        case(
            "retired-key-within-the-tolerance",
            &by_old_key_at(retired_at + Duration::minutes(4)),
            mine.clone(),
            &one_minute_after(retired_at + Duration::minutes(4)),
            "ok",
        ),
        case(
            "retired-key-after-its-retirement",
            &by_old_key_at(retired_at + Duration::minutes(11)),
            mine.clone(),
            &one_minute_after(retired_at + Duration::minutes(11)),
            "retired_key",
        ),
        case(
            "retired-key-days-after-its-retirement",
            &valid(&old),
            mine.clone(),
            now,
            "retired_key",
        ),
        // Well signed, badly formed: refused as malformed, never read loosely.
        case(
            "signed-but-not-json",
            &not_json,
            mine.clone(),
            now,
            "malformed",
        ),
        case(
            "valid-is-not-a-boolean",
            &resigned("\"valid\":true", "\"valid\":\"true\""),
            mine.clone(),
            now,
            "malformed",
        ),
        case(
            "signed-at-without-an-offset",
            &resigned(
                "\"signedAt\":\"2026-11-24T10:00:00.000Z\"",
                "\"signedAt\":\"2026-11-24T10:00:00\"",
            ),
            mine.clone(),
            now,
            "malformed",
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
    let old_static: &'static Signer = Box::leak(Box::new(signer(3)));
    let (plain, _) = build(order(a_static));
    let payload: FilePayload = plain
        .verify(
            &keyhook_format::PublicKeySet::single(&public_key(&a)).unwrap(),
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
    let (test_file, _) = build(FileOrder {
        livemode: false,
        ..order(a_static)
    });
    let (longest, _) = build(FileOrder {
        ttl: Duration::seconds(crate::domain::product::MAX_FILE_TTL_SECONDS.into()),
        ..order(a_static)
    });
    let too_long = {
        let mut p = payload.clone();
        p.expires_at = crate::time::format(issued + Duration::days(367));
        LicenseFile::sign(&a.key, &p, None)
    };
    let (old_before, _) = build(FileOrder {
        now: retired_at - Duration::days(5),
        ..order(old_static)
    });
    let (old_after, _) = build(order(old_static));
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

    let issued_without_offset = {
        let mut p = payload.clone();
        p.issued_at = "2026-11-24T10:00:00".into();
        LicenseFile::sign(&a.key, &p, None)
    };
    let not_base64 = LicenseFile(format!(
        "{}\n{}*\n{}\n",
        keyhook_format::file::BEGIN,
        plain
            .0
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<String>(),
        keyhook_format::file::END
    ));

    let fnow = "2026-11-25T00:00:00.000Z";
    // A file case: first the clock check (the stored `mark`, whether a proof is `kept` for
    // the slot), then the file. Unless a case is about the mark, it is the slot's first use.
    let file_case = |name: &str,
                     f: &LicenseFile,
                     product: &str,
                     device: &str,
                     key: Option<&str>,
                     now: &str,
                     result: &str| {
        json!({
            "name": name, "file": f.0, "productId": product, "deviceId": device,
            "licenseKey": key, "environment": "live", "now": now,
            "mark": null, "kept": false, "markAfter": mark(product, key, device, now),
            "result": result,
        })
    };
    // The same case with a stored mark; `mark_after` is what the check leaves (none when the
    // clock is refused).
    let with_mark =
        |mut c: Value, stored: Option<String>, kept: bool, mark_after: Option<String>| {
            c["mark"] = stored.into();
            c["kept"] = kept.into();
            c["markAfter"] = mark_after.into();
            c
        };
    let plain_mark = |at: &str| mark(PRODUCT, None, DEVICE, at);
    let seen_later = plain_mark("2026-11-26T00:00:00.000Z");
    let altered = seen_later.replace("2026-11-26T00:00:00.000Z", "2026-11-24T12:00:00.000Z");
    assert_ne!(altered, plain_mark("2026-11-24T12:00:00.000Z"));
    let jitter = plain_mark("2026-11-25T00:04:00.000Z");
    let valid = || file_case("valid", &plain, PRODUCT, DEVICE, None, fnow, "ok");
    let files = vec![
        valid(),
        with_mark(
            file_case(
                "valid-encrypted",
                &encrypted,
                PRODUCT,
                DEVICE,
                Some(KEY),
                fnow,
                "ok",
            ),
            Some(mark(PRODUCT, Some(KEY), DEVICE, "2026-11-24T12:00:00.000Z")),
            true,
            Some(mark(PRODUCT, Some(KEY), DEVICE, fnow)),
        ),
        file_case(
            "encrypted-without-key",
            &encrypted,
            PRODUCT,
            DEVICE,
            None,
            fnow,
            "key_required",
        ),
        file_case(
            "encrypted-wrong-key",
            &encrypted,
            PRODUCT,
            DEVICE,
            Some(OTHER_KEY),
            fnow,
            "decrypt",
        ),
        file_case(
            "tampered",
            &tampered_file,
            PRODUCT,
            DEVICE,
            None,
            fnow,
            "bad_signature",
        ),
        file_case(
            "expired",
            &plain,
            PRODUCT,
            DEVICE,
            None,
            "2026-12-01T10:00:00.000Z",
            "expired",
        ),
        file_case(
            "wrong-product",
            &plain,
            "43",
            DEVICE,
            None,
            fnow,
            "wrong_product",
        ),
        file_case(
            "wrong-device",
            &plain,
            PRODUCT,
            "machine-other",
            None,
            fnow,
            "wrong_device",
        ),
        file_case(
            "wrong-kid",
            &foreign,
            PRODUCT,
            DEVICE,
            None,
            fnow,
            "unknown_key",
        ),
        file_case(
            "issued-in-the-future",
            &plain,
            PRODUCT,
            DEVICE,
            None,
            "2026-11-24T09:00:00.000Z",
            "not_yet_valid",
        ),
        // The clock mark.
        with_mark(
            file_case(
                "clock-ahead-of-the-mark",
                &plain,
                PRODUCT,
                DEVICE,
                None,
                fnow,
                "ok",
            ),
            Some(plain_mark("2026-11-24T12:00:00.000Z")),
            true,
            Some(plain_mark(fnow)),
        ),
        with_mark(
            file_case(
                "clock-behind-the-mark",
                &plain,
                PRODUCT,
                DEVICE,
                None,
                fnow,
                "clock_rollback",
            ),
            Some(seen_later),
            true,
            None,
        ),
        with_mark(
            file_case(
                "clock-behind-the-mark-within-the-tolerance",
                &plain,
                PRODUCT,
                DEVICE,
                None,
                fnow,
                "ok",
            ),
            Some(jitter.clone()),
            true,
            Some(jitter),
        ),
        with_mark(
            file_case(
                "mark-missing",
                &plain,
                PRODUCT,
                DEVICE,
                None,
                fnow,
                "clock_rollback",
            ),
            None,
            true,
            None,
        ),
        with_mark(
            file_case(
                "mark-altered",
                &plain,
                PRODUCT,
                DEVICE,
                None,
                fnow,
                "clock_rollback",
            ),
            Some(altered),
            true,
            None,
        ),
        with_mark(
            file_case(
                "mark-of-another-license",
                &encrypted,
                PRODUCT,
                DEVICE,
                Some(KEY),
                fnow,
                "clock_rollback",
            ),
            Some(mark(
                PRODUCT,
                Some(OTHER_KEY),
                DEVICE,
                "2026-11-24T12:00:00.000Z",
            )),
            true,
            None,
        ),
        with_mark(
            file_case(
                "mark-not-a-mark",
                &plain,
                PRODUCT,
                DEVICE,
                None,
                fnow,
                "clock_rollback",
            ),
            Some("2026-11-24T12:00:00.000Z".into()),
            true,
            None,
        ),
        // The build's mode.
        file_case(
            "test-license-in-a-live-build",
            &test_file,
            PRODUCT,
            DEVICE,
            None,
            fnow,
            "test_license",
        ),
        in_test_build(file_case(
            "test-license-in-a-test-build",
            &test_file,
            PRODUCT,
            DEVICE,
            None,
            fnow,
            "ok",
        )),
        {
            let mut c = in_test_build(valid());
            c["name"] = "live-license-in-a-test-build".into();
            c
        },
        // Retired keys and the longest life of a file.
        file_case(
            "retired-key-before-its-retirement",
            &old_before,
            PRODUCT,
            DEVICE,
            None,
            "2026-11-21T00:00:00.000Z",
            "ok",
        ),
        file_case(
            "retired-key-after-its-retirement",
            &old_after,
            PRODUCT,
            DEVICE,
            None,
            fnow,
            "retired_key",
        ),
        file_case(
            "lifetime-of-366-days",
            &longest,
            PRODUCT,
            DEVICE,
            None,
            fnow,
            "ok",
        ),
        file_case(
            "lifetime-beyond-366-days",
            &too_long,
            PRODUCT,
            DEVICE,
            None,
            fnow,
            "lifetime_too_long",
        ),
        // Well signed, badly formed; and armour that is not base64.
        file_case(
            "issued-at-without-an-offset",
            &issued_without_offset,
            PRODUCT,
            DEVICE,
            None,
            fnow,
            "malformed",
        ),
        file_case(
            "armour-not-base64",
            &not_base64,
            PRODUCT,
            DEVICE,
            None,
            fnow,
            "malformed",
        ),
    ];
    // Seal vectors: the exact text a client stores.
    let marks = [
        (Some(KEY), "2026-11-25T00:00:00.000Z"),
        (
            Some("7k2m9 q4x1c 8v3b6 n0d5f hjkmp"),
            "2026-11-25T00:00:00.000Z",
        ),
        (Some("  legacy key 7 "), "2026-11-25T00:00:00.000Z"),
        (None, "2026-11-25T00:00:00.000Z"),
    ]
    .map(|(key, at)| {
        json!({"productId": PRODUCT, "licenseKey": key, "deviceId": DEVICE, "highWater": at,
               "mark": mark(PRODUCT, key, DEVICE, at)})
    });
    // License ids of keys as a user may type or paste them (every client must agree on what
    // is a Keyhook key: white space is Unicode White_Space, letters are ASCII only).
    let license_ids = [
        KEY,
        " 7k2m9\tq4x1c 8v3b6-n0d5f hjkmp\n",
        "7K2M9-Q4XlC-8V3B6-NoD5F-HJKMP",
        "7K2M9\u{a0}Q4X1C\u{a0}8V3B6\u{a0}N0D5F\u{a0}HJKMP",
        "\u{feff}7K2M9-Q4X1C-8V3B6-N0D5F-HJKMP",
        "7K2M9-Q4X\u{131}C-8V3B6-N0D5F-HJKMP",
        "7K2M9-Q4X1C-8V3B6-N0D5F-HJKMU",
        "7K2M9-Q4X1C-8V3B6-N0D5F",
        "legacy-key-7",
    ]
    .map(|key| json!({"key": key, "licenseId": keyhook_format::license_key::license_id(key)}));
    // Device ids (docs/integrate.md): hex(SHA-256("keyhook-fingerprint-v1" 0x00 productId 0x00
    // machineId)), the same id for the same machine in every client.
    let device_ids = [
        ("42", "0123456789abcdef0123456789abcdef"),
        ("43", "0123456789abcdef0123456789abcdef"),
        ("42", "dev-A"),
        ("42", "machine-\u{e9}t\u{e9}"),
    ]
    .map(|(product, machine)| {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for part in ["keyhook-fingerprint-v1", product] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        h.update(machine.as_bytes());
        json!({"productId": product, "machineId": machine, "deviceId": hex::encode(h.finalize())})
    });
    json!({
        "description": "Keyhook test vectors: signed answers (keyhook-answer-v2), license files (keyhook-license-file-v1) and clock marks (keyhook-clock-mark-v1), made by the server's signing code with fixed keys (seeds 0x01.. active, 0x02.. unknown, 0x03.. retired). Every verifier must give `result` for each case. Answers: verify with `keys` (a retired key's signature only up to retiredAt + 10 minutes), check expect.{productId, deviceId, nonce, licenseKey}, the build's `environment` (a live build refuses a valid answer with livemode false), then freshness at `now` (maxAnswerAgeSeconds, clockSkewSeconds). Files: first the clock check of the stored `mark` (null: none) with `kept` (a proof is kept for the slot) at `now`, tolerance clockSkewSeconds: clock_rollback when the mark does not verify, when now + tolerance < its highWater, or when it is missing and kept is true; else the mark to store is `markAfter`. Then verify with `keys` (decrypting with licenseKey; a retired key only up to retiredAt + 10 minutes; expiresAt - issuedAt at most 366 days), then productId, deviceId, issuedAt <= now + skew, expiresAt > now, license.expiresAt > now, and the build's `environment` (a live build refuses livemode false). Marks: sealing highWater for (productId, licenseKey, deviceId) gives exactly `mark`. Anything signed that does not parse as what it claims (a member of the wrong type, a timestamp that is not RFC 3339 with an offset, armour that is not standard padded base64) is `malformed`. licenseIds: the license id of `key` as typed (null: not a Keyhook key). deviceIds: the device id derived from (productId, machineId).",
        "maxAnswerAgeSeconds": 300,
        "clockSkewSeconds": 300,
        "keys": published_keys(&a, &old),
        "payload": payload,
        "answers": answers,
        "files": files,
        "marks": marks,
        "licenseIds": license_ids,
        "deviceIds": device_ids,
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
