//! Offline verification cost (no emulator needed): µs per check of a signed answer and of a
//! license file, in Rust (`keyhook-format`, what `keyhook-client` runs), on the shared test
//! vectors; and their sizes in bytes. `scripts/bench.sh` then runs the Python and TypeScript
//! verifiers' own benchmarks on the same vectors.

use std::time::Duration;

/// CPU time of this thread: what a check costs, whatever else the machine is running.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Wall and CPU microseconds per iteration of `f`.
fn measure(n: u32, mut f: impl FnMut()) -> (f64, f64) {
    let wall = std::time::Instant::now();
    let cpu = thread_cpu();
    for _ in 0..n {
        f();
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    (per(wall.elapsed()), per(thread_cpu() - cpu))
}

use keyhook_format::answer::{verify_answer, Expected};
use keyhook_format::{LicenseFile, PublicKeySet};
use serde_json::Value;
use time::OffsetDateTime;

fn main() {
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../test-vectors/vectors.json"
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
    let answer = measure(n, || {
        std::hint::black_box(verify_answer(&keys, body, &expected).unwrap());
    });

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
    let plain = measure(n, || check(&file, None, now));
    let key = fe["licenseKey"].as_str();
    let enc = measure(n, || check(&encrypted, key, now));
    println!("offline verification, Rust (keyhook-format, release, one thread, {n} checks each; target < 100 µs):");
    for (what, (wall, cpu), bytes) in [
        ("signed answer", answer, body.len()),
        ("license file", plain, file.0.len()),
        ("encrypted license file", enc, encrypted.0.len()),
    ] {
        println!("  {what}: {cpu:.1} µs CPU per check ({wall:.1} µs wall), {bytes} bytes");
    }
}
