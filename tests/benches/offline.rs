//! Offline verification cost (no emulator needed): µs per check of a signed answer and of a
//! license file, in Rust (`keyhook-format`, what `keyhook-client` runs), on the shared test
//! vectors; and their sizes in bytes. `scripts/bench.sh` then runs the Python and TypeScript
//! verifiers' own benchmarks on the same vectors.

use std::time::Instant;

use keyhook_format::answer::{verify_answer, Expected};
use keyhook_format::{LicenseFile, PublicKeySet};
use serde_json::Value;
use time::OffsetDateTime;

fn main() {
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../clients/test-vectors/vectors.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let keys = PublicKeySet::from_json(v["keys"].to_string().as_bytes()).unwrap();
    let c = &v["answers"][0];
    let e = &c["expect"];
    let body = c["body"].as_str().unwrap().as_bytes();
    let expected = Expected {
        product_id: e["productId"].as_str().unwrap(),
        device_id: e["deviceId"].as_str(),
        nonce: e["nonce"].as_str(),
        license_key: e["licenseKey"].as_str(),
    };
    let n = 20_000;
    // Warm up, then measure.
    for _ in 0..1_000 {
        verify_answer(&keys, body, &expected).unwrap();
    }
    let t0 = Instant::now();
    for _ in 0..n {
        std::hint::black_box(verify_answer(&keys, body, &expected).unwrap());
    }
    let answer_us = t0.elapsed().as_secs_f64() * 1e6 / n as f64;

    let f = &v["files"][0];
    let fe = &v["files"][1];
    let file = LicenseFile(f["file"].as_str().unwrap().to_string());
    let encrypted = LicenseFile(fe["file"].as_str().unwrap().to_string());
    let now = keyhook_format::time_fmt::parse("now", f["now"].as_str().unwrap()).unwrap();
    let check = |file: &LicenseFile, key: Option<&str>, now: OffsetDateTime| {
        let p = file.verify(&keys, key).unwrap();
        p.check(
            f["productId"].as_str().unwrap(),
            f["deviceId"].as_str().unwrap(),
            now,
            time::Duration::minutes(5),
        )
        .unwrap();
    };
    let t0 = Instant::now();
    for _ in 0..n {
        check(&file, None, now);
    }
    let file_us = t0.elapsed().as_secs_f64() * 1e6 / n as f64;
    let key = fe["licenseKey"].as_str();
    let t0 = Instant::now();
    for _ in 0..n {
        check(&encrypted, key, now);
    }
    let encrypted_us = t0.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!("offline verification, Rust (keyhook-format, release, one thread, {n} checks each):");
    println!(
        "  signed answer: {answer_us:.1} µs per check ({} bytes)",
        body.len()
    );
    println!(
        "  license file:  {file_us:.1} µs per check ({} bytes)",
        file.0.len()
    );
    println!(
        "  encrypted license file: {encrypted_us:.1} µs per check ({} bytes)",
        encrypted.0.len()
    );
}
