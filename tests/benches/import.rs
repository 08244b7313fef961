//! Benchmark of `POST /api/licenses/import` (issue 13): 100,000 licenses (override with
//! `KEYHOOK_IMPORT_BENCH_N`) imported into one tenant on the local emulator, in batches of 500
//! as `keyhook import` sends them, through the real dispatcher (token check, rate counter,
//! JSON, checks, sealing, batch reads, conditional transactional writes; a `429` waited out as
//! `keyhook import` does). Prints the rate (licenses/s) and the AWS calls per
//! license, counted by an interceptor on the real SDK clients; then re-runs a slice to show
//! that a re-run writes nothing. Asserts only that every license was created.

use std::time::Instant;

use keyhook_shared::app::{dispatch, Function};
use keyhook_shared::handlers::admin::license_import::{ImportInput, ImportLicense, ImportReport};
use keyhook_shared::http::ApiRequest;
use keyhook_tests::calls::{counted_services, CallCounter};
use keyhook_tests::Stack;
use serde_json::json;

const BATCH: usize = 500;

fn request(token: &str, body: &ImportInput) -> ApiRequest {
    let mut headers = http::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    ApiRequest {
        method: http::Method::POST,
        path: "/api/licenses/import".into(),
        query: vec![],
        headers,
        body: serde_json::to_vec(body).unwrap().into(),
        source_ip: None,
        request_id: "bench".into(),
    }
}

/// Keys in the three services' shapes: Lukittu's (5×5, often read as Keyhook keys), Keygen's
/// (6 hex groups + V3) and ExisOne-like (4×4).
fn license(i: usize) -> ImportLicense {
    let r = keyhook_shared::ids::random_symbols(30);
    let key = match i % 3 {
        0 => format!(
            "{}-{}-{}-{}-{}",
            &r[0..5],
            &r[5..10],
            &r[10..15],
            &r[15..20],
            &r[20..25]
        ),
        1 => format!(
            "{}-{}-{}-{}-{}-V3",
            &r[0..6],
            &r[6..12],
            &r[12..18],
            &r[18..24],
            &r[24..30]
        ),
        _ => format!("EX{}-{}-{}-{}", &r[0..2], &r[2..6], &r[6..10], &r[10..14]),
    };
    ImportLicense {
        key,
        product_id: "lk-bench-product".into(),
        customer_email: Some(format!("buyer{i}@example.com")),
        customer_name: Some(format!("Buyer {i}")),
        expires_at: i
            .is_multiple_of(2)
            .then(|| "2030-01-01T00:00:00Z".to_string()),
        max_devices: Some(3),
        max_ips: None,
        status: None,
        devices: None,
        external_id: format!("bench-{i:06}"),
    }
}

async fn import(
    services: &keyhook_shared::Services,
    token: &str,
    licenses: &[ImportLicense],
) -> (usize, usize) {
    let (mut created, mut unchanged) = (0, 0);
    for chunk in licenses.chunks(BATCH) {
        let body = ImportInput {
            licenses: chunk.to_vec(),
            dry_run: false,
        };
        let res = loop {
            let res = dispatch(services, Some(Function::Admin), request(token, &body)).await;
            // Over the tenant's imports a minute: wait as `keyhook import` does.
            let Some(wait) = (res.status == 429)
                .then(|| {
                    res.headers
                        .get("retry-after")?
                        .to_str()
                        .ok()?
                        .parse::<u64>()
                        .ok()
                })
                .flatten()
            else {
                break res;
            };
            tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
        };
        assert!(
            res.status.is_success(),
            "{}",
            String::from_utf8_lossy(&res.body)
        );
        let report: ImportReport = serde_json::from_slice(&res.body).unwrap();
        assert_eq!(
            report.failed,
            0,
            "{:?}",
            report.results.iter().find(|r| r.error.is_some())
        );
        created += report.created;
        unchanged += report.unchanged;
    }
    (created, unchanged)
}

fn per_license(calls: &std::collections::BTreeMap<String, usize>, n: usize) -> String {
    calls
        .iter()
        .map(|(k, v)| format!("{k}={:.4}", *v as f64 / n as f64))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::main]
pub async fn main() {
    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        println!("(AWS_ENDPOINT_URL not set: run `make bench`)");
        return;
    }
    let n: usize = std::env::var("KEYHOOK_IMPORT_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let stack = Stack::start().await;
    let tenant = stack.tenant("Bench").await;
    stack
        .product(&tenant, json!({"externalIds": ["lk-bench-product"]}))
        .await;
    let licenses: Vec<ImportLicense> = (0..n).map(license).collect();
    let counter = CallCounter::default();
    let services = counted_services(stack.config(), &stack.sdk, &counter);

    println!("== License import: {n} licenses, batches of {BATCH}, local emulator ==");
    let started = Instant::now();
    let (created, _) = import(&services, &tenant.token, &licenses).await;
    let elapsed = started.elapsed();
    assert_eq!(created, n, "every license created");
    let calls = counter.take();
    let total: usize = calls.values().sum();
    println!(
        "  import:  {n} licenses in {:.1} s = {:.0} licenses/s ({} for 100,000 at this rate)",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        {
            let s = 100_000.0 / (n as f64 / elapsed.as_secs_f64());
            format!("{:.0} min {:.0} s", (s / 60.0).floor(), s % 60.0)
        }
    );
    println!(
        "  AWS calls per license: {:.4} ({})",
        total as f64 / n as f64,
        per_license(&calls, n)
    );

    // A re-run of the first batches: all unchanged, nothing written.
    let slice = &licenses[..n.min(5 * BATCH)];
    let started = Instant::now();
    let (created, unchanged) = import(&services, &tenant.token, slice).await;
    let calls = counter.take();
    assert_eq!((created, unchanged), (0, slice.len()));
    println!(
        "  re-run of {} licenses: {created} created, {unchanged} unchanged in {:.1} s; AWS calls per license: {:.4} ({})",
        slice.len(),
        started.elapsed().as_secs_f64(),
        calls.values().sum::<usize>() as f64 / slice.len() as f64,
        per_license(&calls, slice.len())
    );
}
