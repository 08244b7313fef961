//! The client's offline paths against the shared test vectors (`clients/test-vectors/`), which
//! the server's own signing code generates: every case must give its `result`, and leave the
//! clock mark the vectors say.

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use keyhook_client::{Client, Config, Environment, Error};
use keyhook_format::{Rollback, VerifyError};
use serde_json::Value;
use time::OffsetDateTime;

static NOW: Mutex<Option<OffsetDateTime>> = Mutex::new(None);

fn clock() -> OffsetDateTime {
    NOW.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .expect("the test sets the clock")
}

fn vectors() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/vectors.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn kind(e: &Error) -> String {
    match e {
        Error::Verify(v) => match v {
            VerifyError::Unsigned => "unsigned",
            VerifyError::Malformed(_) => "malformed",
            VerifyError::UnsupportedFormat(_) => "unsupported_format",
            VerifyError::UnknownKey(_) => "unknown_key",
            VerifyError::BadPublicKey => "bad_public_key",
            VerifyError::BadSignature => "bad_signature",
            VerifyError::WrongProduct { .. } => "wrong_product",
            VerifyError::WrongDevice => "wrong_device",
            VerifyError::WrongNonce => "wrong_nonce",
            VerifyError::WrongLicense => "wrong_license",
            VerifyError::Expired(_) => "expired",
            VerifyError::Stale(_) => "stale",
            VerifyError::NotYetValid(_) => "not_yet_valid",
            VerifyError::KeyRequired => "key_required",
            VerifyError::Decrypt => "decrypt",
            VerifyError::RetiredKey { .. } => "retired_key",
            VerifyError::LifetimeTooLong { .. } => "lifetime_too_long",
            VerifyError::TestLicense => "test_license",
        }
        .into(),
        Error::ClockRollback(_) => "clock_rollback".into(),
        other => format!("{other:?}"),
    }
}

fn t(v: &Value) -> OffsetDateTime {
    keyhook_format::time_fmt::parse("now", v.as_str().unwrap()).unwrap()
}

fn client(v: &Value, case: &Value, product: &str, cache: Option<PathBuf>) -> Client {
    let mut config = Config::new("http://127.0.0.1:9", product, &v["keys"].to_string()).unwrap();
    config.clock = clock;
    config.cache_dir = cache;
    config.environment = match case["environment"].as_str().unwrap() {
        "live" => Environment::Live,
        "test" => Environment::Test,
        other => panic!("environment {other}"),
    };
    config.max_answer_age = time::Duration::seconds(v["maxAnswerAgeSeconds"].as_i64().unwrap());
    config.clock_skew = time::Duration::seconds(v["clockSkewSeconds"].as_i64().unwrap());
    Client::new(config).unwrap()
}

#[test]
fn every_answer_vector_gives_its_result() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let v = vectors();
    let cases = v["answers"].as_array().unwrap();
    assert!(cases.len() >= 25);
    for c in cases {
        let e = &c["expect"];
        *NOW.lock().unwrap_or_else(PoisonError::into_inner) = Some(t(&c["now"]));
        let client = client(&v, c, e["productId"].as_str().unwrap(), None);
        let got = client.verify_answer(
            c["body"].as_str().unwrap().as_bytes(),
            e["licenseKey"].as_str(),
            e["deviceId"].as_str(),
            e["nonce"].as_str().unwrap(),
        );
        let got = match got {
            Ok(_) => "ok".to_string(),
            Err(e) => kind(&e),
        };
        assert_eq!(got, c["result"].as_str().unwrap(), "answer {}", c["name"]);
    }
}

static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn every_file_vector_gives_its_result() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let v = vectors();
    let cases = v["files"].as_array().unwrap();
    assert!(cases.len() >= 26);
    for (i, c) in cases.iter().enumerate() {
        *NOW.lock().unwrap_or_else(PoisonError::into_inner) = Some(t(&c["now"]));
        let dir =
            std::env::temp_dir().join(format!("keyhook-client-vectors-{}-{i}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (product, key, device) = (
            c["productId"].as_str().unwrap(),
            c["licenseKey"].as_str(),
            c["deviceId"].as_str().unwrap(),
        );
        // The slot as a client leaves it: its clock mark, and a proof it keeps.
        let slot = keyhook_client::cache::slot(product, key, device);
        if let Some(mark) = c["mark"].as_str() {
            std::fs::write(dir.join(format!("mark-{slot}.json")), mark).unwrap();
        }
        if c["kept"].as_bool().unwrap() {
            std::fs::write(
                dir.join(format!("file-{slot}.lic")),
                c["file"].as_str().unwrap(),
            )
            .unwrap();
        }
        let client = client(&v, c, product, Some(dir.clone()));
        let got = client.verify_file(c["file"].as_str().unwrap(), key, device);
        let got = match got {
            Ok(p) => {
                assert_eq!(p.entitlements, vec!["pro", "export"]);
                "ok".to_string()
            }
            Err(e) => kind(&e),
        };
        assert_eq!(got, c["result"].as_str().unwrap(), "file {}", c["name"]);
        let mark = std::fs::read_to_string(dir.join(format!("mark-{slot}.json"))).ok();
        if let Some(after) = c["markAfter"].as_str() {
            assert_eq!(
                mark.as_deref(),
                Some(after),
                "mark after file {}",
                c["name"]
            );
        } else {
            assert_eq!(mark.as_deref(), c["mark"].as_str(), "file {}", c["name"]);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn case<'a>(v: &'a Value, section: &str, name: &str) -> &'a Value {
    v[section]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {section} vector {name}"))
}

fn set_clock(s: &str) {
    *NOW.lock().unwrap_or_else(PoisonError::into_inner) = Some(t(&Value::String(s.into())));
}

#[test]
fn a_kept_file_carries_the_app_offline_until_it_expires_and_a_clock_wound_back_into_its_life_is_refused(
) {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let v = vectors();
    let file = case(&v, "files", "valid-encrypted");
    let (key, device) = (
        file["licenseKey"].as_str(),
        file["deviceId"].as_str().unwrap(),
    );
    let dir = std::env::temp_dir().join(format!("keyhook-client-offline-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    set_clock("2026-11-25T00:00:00.000Z");
    let client = client(&v, file, "42", Some(dir.clone()));
    assert!(matches!(
        client.check_offline(key, device),
        Err(Error::NoOfflineProof(_))
    ));
    // A verified file is kept for offline checks.
    client
        .verify_file(file["file"].as_str().unwrap(), key, device)
        .unwrap();
    let status = client.check_offline(key, device).unwrap();
    assert!(status.valid && status.has("pro") && !status.has("enterprise"));
    // A week later the file has expired (issued 2026-11-24T10:00, for 7 days).
    set_clock("2026-12-02T00:00:00.000Z");
    assert!(matches!(
        client.check_offline(key, device),
        Err(Error::Verify(VerifyError::Expired(_)))
    ));
    // The clock wound back to a day inside the file's life: behind the mark.
    set_clock("2026-11-28T00:00:00.000Z");
    let r = client.check_offline(key, device);
    assert!(
        matches!(&r, Err(Error::ClockRollback(Rollback::Behind(m))) if m == "2026-12-02T00:00:00.000Z"),
        "{r:?}"
    );
    // ... and the mark deleted, or edited back.
    let slot = keyhook_client::cache::slot("42", key, device);
    let mark_path = dir.join(format!("mark-{slot}.json"));
    let mark = std::fs::read_to_string(&mark_path).unwrap();
    std::fs::remove_file(&mark_path).unwrap();
    assert!(matches!(
        client.check_offline(key, device),
        Err(Error::ClockRollback(Rollback::MarkMissing))
    ));
    std::fs::write(&mark_path, mark.replace("2026-12-02", "2026-11-27")).unwrap();
    assert!(matches!(
        client.check_offline(key, device),
        Err(Error::ClockRollback(Rollback::MarkAltered))
    ));
    // Nothing offline repairs it; a fresh online answer proves the clock and restarts the mark.
    let online = case(&v, "answers", "valid");
    set_clock(online["now"].as_str().unwrap());
    client
        .verify_answer(
            online["body"].as_str().unwrap().as_bytes(),
            key,
            Some(device),
            "n-1",
        )
        .unwrap();
    assert!(client.check_offline(key, device).unwrap().valid);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_live_build_refuses_a_kept_answer_about_a_test_license() {
    let _serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    let v = vectors();
    let answer = case(&v, "answers", "test-license-in-a-test-build");
    let e = &answer["expect"];
    let (key, device) = (e["licenseKey"].as_str(), e["deviceId"].as_str().unwrap());
    let dir = std::env::temp_dir().join(format!("keyhook-client-mode-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let slot = keyhook_client::cache::slot("42", key, device);
    let kept = serde_json::json!({"body": answer["body"], "nonce": "n-1"}).to_string();
    std::fs::write(dir.join(format!("answer-{slot}.json")), kept).unwrap();
    set_clock("2026-11-25T00:00:00.000Z");
    let mut test_build = client(&v, answer, "42", Some(dir.clone()));
    // The kept answer predates the mark: a first use would be refused as a deleted mark.
    assert!(matches!(
        test_build.check_offline(key, device),
        Err(Error::ClockRollback(Rollback::MarkMissing))
    ));
    std::fs::write(
        dir.join(format!("mark-{slot}.json")),
        keyhook_format::clock_mark::seal(
            &keyhook_format::MarkSlot {
                product_id: "42",
                license_key: key,
                device_id: device,
            },
            t(&answer["now"]),
        ),
    )
    .unwrap();
    let s = test_build.check_offline(key, device).unwrap();
    assert!(s.valid && !s.livemode, "{s:?}");
    let mut config = test_build.config().clone();
    config.environment = Environment::Live;
    test_build = Client::new(config.clone()).unwrap();
    assert!(matches!(
        test_build.check_offline(key, device),
        Err(Error::Verify(VerifyError::TestLicense))
    ));
    // Unless the live build accepts test licenses (the product's acceptTestLicenses).
    config.accept_test_licenses = true;
    assert!(
        Client::new(config)
            .unwrap()
            .check_offline(key, device)
            .unwrap()
            .valid
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn license_ids_and_device_ids_are_what_the_vectors_say() {
    let v = vectors();
    let ids = v["licenseIds"].as_array().unwrap();
    assert!(ids.len() >= 9);
    for c in ids {
        assert_eq!(
            keyhook_format::license_key::license_id(c["key"].as_str().unwrap()).as_deref(),
            c["licenseId"].as_str(),
            "license id of {}",
            c["key"]
        );
    }
    let devices = v["deviceIds"].as_array().unwrap();
    assert!(devices.len() >= 4);
    for c in devices {
        assert_eq!(
            keyhook_client::fingerprint::device_id_from(
                c["productId"].as_str().unwrap(),
                c["machineId"].as_str().unwrap()
            ),
            c["deviceId"].as_str().unwrap(),
            "device id of {}",
            c["machineId"]
        );
    }
}
