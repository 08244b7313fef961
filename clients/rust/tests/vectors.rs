//! The client's offline paths against the shared test vectors (`clients/test-vectors/`), which
//! the server's own signing code generates: every case must give its `result`.

use std::path::PathBuf;
use std::sync::Mutex;

use keyhook_client::{Client, Config, Error};
use keyhook_format::VerifyError;
use serde_json::Value;
use time::OffsetDateTime;

static NOW: Mutex<Option<OffsetDateTime>> = Mutex::new(None);

fn clock() -> OffsetDateTime {
    NOW.lock().unwrap().expect("the test sets the clock")
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
        }
        .into(),
        Error::ClockRollback { .. } => "clock_rollback".into(),
        other => format!("{other:?}"),
    }
}

fn t(v: &Value) -> OffsetDateTime {
    keyhook_format::time_fmt::parse("now", v.as_str().unwrap()).unwrap()
}

fn client(v: &Value, product: &str, cache: Option<PathBuf>) -> Client {
    let mut config = Config::new("http://127.0.0.1:9", product, &v["keys"].to_string()).unwrap();
    config.clock = clock;
    config.cache_dir = cache;
    config.max_answer_age = time::Duration::seconds(v["maxAnswerAgeSeconds"].as_i64().unwrap());
    config.clock_skew = time::Duration::seconds(v["clockSkewSeconds"].as_i64().unwrap());
    Client::new(config).unwrap()
}

#[test]
fn every_answer_vector_gives_its_result() {
    let _serial = SERIAL.lock().unwrap();
    let v = vectors();
    let cases = v["answers"].as_array().unwrap();
    assert!(cases.len() >= 12);
    for c in cases {
        let e = &c["expect"];
        *NOW.lock().unwrap() = Some(t(&c["now"]));
        let client = client(&v, e["productId"].as_str().unwrap(), None);
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
    let _serial = SERIAL.lock().unwrap();
    let v = vectors();
    for (i, c) in v["files"].as_array().unwrap().iter().enumerate() {
        *NOW.lock().unwrap() = Some(t(&c["now"]));
        let dir =
            std::env::temp_dir().join(format!("keyhook-client-vectors-{}-{i}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        if let Some(newest) = c["newestSeen"].as_str() {
            std::fs::write(
                dir.join("state.json"),
                format!("{{\"newestSeen\":\"{newest}\"}}"),
            )
            .unwrap();
        }
        let client = client(&v, c["productId"].as_str().unwrap(), Some(dir.clone()));
        let got = client.verify_file(
            c["file"].as_str().unwrap(),
            c["licenseKey"].as_str(),
            c["deviceId"].as_str().unwrap(),
        );
        let got = match got {
            Ok(p) => {
                assert_eq!(p.entitlements, vec!["pro", "export"]);
                "ok".to_string()
            }
            Err(e) => kind(&e),
        };
        assert_eq!(got, c["result"].as_str().unwrap(), "file {}", c["name"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn a_cached_proof_carries_the_app_offline_until_the_grace_ends_and_refuses_a_rolled_back_clock() {
    let _serial = SERIAL.lock().unwrap();
    let v = vectors();
    let valid = &v["files"][0];
    let dir = std::env::temp_dir().join(format!("keyhook-client-offline-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let at = |s: &str| *NOW.lock().unwrap() = Some(t(&Value::String(s.into())));
    at("2026-11-25T00:00:00.000Z");
    let client = client(&v, "42", Some(dir.clone()));
    let device = valid["deviceId"].as_str().unwrap();
    assert!(matches!(
        client.check_offline(None, device),
        Err(Error::NoOfflineProof(_))
    ));
    // A verified file, cached the way checkout_file caches it.
    client
        .verify_file(valid["file"].as_str().unwrap(), None, device)
        .unwrap();
    let slot = keyhook_client::cache::slot("42", None, device);
    std::fs::write(
        dir.join(format!("file-{slot}.lic")),
        valid["file"].as_str().unwrap(),
    )
    .unwrap();
    let status = client.check_offline(None, device).unwrap();
    assert!(status.valid && status.has("pro") && !status.has("enterprise"));
    // A week later the file has expired.
    at("2026-12-02T00:00:00.000Z");
    assert!(matches!(
        client.check_offline(None, device),
        Err(Error::Verify(VerifyError::Expired(_)))
    ));
    // Setting the clock back behind what was seen is refused.
    at("2026-11-20T00:00:00.000Z");
    assert!(matches!(
        client.check_offline(None, device),
        Err(Error::ClockRollback { .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}
