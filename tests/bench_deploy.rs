//! `make bench-deploy` (scripts/bench-deploy.sh builds the binaries and starts the emulator):
//! for each function's release build, the cold start (process start to its first `next`
//! request on a local Lambda Runtime API) side by side with a hello-world `lambda_runtime`
//! binary built the same way, and the peak RSS after N invocations of a real request against
//! the emulator. Prints figures; asserts nothing about them.
//!
//! Usage: bench-deploy <lambda-dir> [invocations] [cold-runs]
//!   <lambda-dir> is cargo-lambda's output: <lambda-dir>/<binary>/bootstrap.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use keyhook_tests::fake_stripe::FakeStripe;
use keyhook_tests::runtime_api::{events_dir, FunctionProcess, Outcome, RuntimeApi, BASE_URL};
use keyhook_tests::{checkout_event, Stack};
use serde_json::{json, Value};

fn env_for(stack: &Stack, stripe: &FakeStripe) -> Vec<(String, String)> {
    let r = &stack.resources;
    let stripe = stripe.uri();
    [
        ("KEYHOOK_TABLE", r.table.as_str()),
        ("KEYHOOK_KMS_KEY_ID", stack.kms_alias.as_str()),
        ("KEYHOOK_MAIL_QUEUE_URL", r.queue_url.as_str()),
        ("KEYHOOK_DELIVERY_QUEUE_URL", r.delivery_queue_url.as_str()),
        ("KEYHOOK_MAIL_FROM", r.mail_from.as_str()),
        ("KEYHOOK_PUBLIC_BASE_URL", BASE_URL),
        ("KEYHOOK_STRIPE_API_BASE", stripe.as_str()),
        ("AWS_ENDPOINT_URL", stack.endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("RUST_LOG", "warn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn event(path: &str, vars: &[(&str, &str)]) -> Value {
    let mut text = std::fs::read_to_string(events_dir().join(path)).unwrap();
    for (k, v) in vars {
        text = text.replace(&format!("{{{{{k}}}}}"), v);
    }
    serde_json::from_str(&text).unwrap()
}

/// Milliseconds from process start to the first `next` request, `runs` times.
async fn cold_starts(binary: &Path, env: &[(String, String)], runs: usize) -> Vec<f64> {
    let mut out = Vec::new();
    for _ in 0..runs {
        let api = RuntimeApi::start().await;
        let process = FunctionProcess::spawn(binary, &api, env);
        let ready = api
            .wait_ready(Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("{} did not start: {}", binary.display(), process.output()));
        out.push((ready - process.started).as_secs_f64() * 1000.0);
    }
    out
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

struct Row {
    name: String,
    cold_ms: f64,
    cold_min_ms: f64,
    rss_start_kib: u64,
    rss_peak_kib: u64,
    mean_invoke_ms: f64,
    request: String,
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(
        args.get(1)
            .expect("usage: bench-deploy <lambda-dir> [n] [runs]"),
    );
    let invocations: usize = args.get(2).map_or(100, |n| n.parse().unwrap());
    let runs: usize = args.get(3).map_or(20, |n| n.parse().unwrap());

    // One stack on the emulator with a tenant, an app, a product and a purchase, and a fake
    // Stripe (reconcile lists its events): what the requests below need.
    let stripe = FakeStripe::start().await;
    let stack = Stack::start_with_stripe(&stripe.uri()).await;
    let tenant = stack.tenant("Bench").await;
    let app = stack.app(&tenant).await;
    let product = stack.product(&tenant, json!({})).await;
    let (purchase, _) = checkout_event(&product, None);
    let (_, receipt) = stack
        .post_event("/api/stripe/webhook", &purchase, &app.webhook_secret)
        .await;
    let license_id = receipt["licenseIds"][0].as_str().unwrap().to_string();
    let (_, license) = stack
        .api(
            &tenant.token,
            "GET",
            &format!("/api/licenses/{license_id}"),
            None,
        )
        .await;
    let key = license["key"].as_str().unwrap().to_string();
    let session = purchase["data"]["object"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let job =
        json!({"kind": "purchase", "tenantId": tenant.id, "purchaseRef": session}).to_string();
    let env = env_for(&stack, &stripe);

    let vars: Vec<(&str, &str)> = vec![
        ("token", &tenant.token),
        ("tenantId", &tenant.id),
        ("productId", &product),
        ("licenseKey", &key),
        ("licenseId", &license_id),
        ("appId", &app.id),
        ("sessionId", "cs_test_unknown0000000000000000"),
    ];
    let mut rows = Vec::new();
    for name in [
        "hello-lambda",
        "keyhook-webhook",
        "keyhook-checkout",
        "keyhook-validate",
        "keyhook-admin",
        "keyhook-docs",
        "keyhook-pages",
        "keyhook-mailer",
        "keyhook-deliveries",
        "keyhook-reconcile",
    ] {
        let binary = dir.join(name).join("bootstrap");
        if !binary.is_file() {
            // scripts/bench-deploy.sh builds them all; a by-hand run may measure fewer.
            eprintln!("SKIPPED {name}: {} is not built", binary.display());
            continue;
        }
        let mut cold = cold_starts(&binary, &env, runs).await;
        let cold_min_ms = cold.iter().cloned().fold(f64::MAX, f64::min);
        let cold_ms = median(&mut cold);

        // What each invocation does: a real request of that function, against the emulator.
        let (description, make): (&str, Box<dyn Fn(usize) -> Value>) = match name {
            "hello-lambda" => ("echo", Box::new(|i| json!({ "n": i }))),
            "keyhook-webhook" => (
                "a new signed checkout.session.completed each time (issues a license)",
                Box::new(|_| {
                    let (e, _) = checkout_event(&product, None);
                    let mut req = event("apigw/stripe-webhook.post.json", &vars);
                    let (body, sig) = keyhook_cli::trigger::sign_event(&e, &app.webhook_secret);
                    req["body"] = json!(body);
                    req["headers"]["stripe-signature"] = json!(sig);
                    req
                }),
            ),
            "keyhook-checkout" => (
                "GET /api/stripe/checkout/sessions/{id} of an unknown session (token check, one read, 404)",
                Box::new(|_| event("apigw/stripe-checkout-sessions-one.get.json", &vars)),
            ),
            "keyhook-validate" => (
                "POST /api/licenses/validate with a real key",
                Box::new(|_| event("apigw/licenses-validate.post.json", &vars)),
            ),
            "keyhook-admin" => (
                "GET /api/licenses/{id} (token check, read, key opened)",
                Box::new(|_| event("apigw/license.get.json", &vars)),
            ),
            "keyhook-docs" => (
                "GET /docs (the API reference's page; no AWS call)",
                Box::new(|_| event("apigw/docs.get.json", &vars)),
            ),
            "keyhook-pages" => (
                "GET /dashboard/sign-in (the sign-in page, without a session)",
                Box::new(|_| event("apigw/dashboard-sign-in.get.json", &vars)),
            ),
            "keyhook-mailer" => (
                "an SQS batch of one mail job (the first sends the email, the rest find it sent)",
                Box::new(|_| {
                    let mut batch = event(
                        "sqs/mail-batch.json",
                        &[("messageId1", "m-1"), ("md5OfBody1", "0")],
                    );
                    batch["Records"] = json!([batch["Records"][0].clone()]);
                    batch["Records"][0]["body"] = json!(job);
                    batch
                }),
            ),
            "keyhook-deliveries" => (
                "the scheduled sweep (reads the day's license timers)",
                Box::new(|_| event("schedule/sweep.json", &[])),
            ),
            "keyhook-reconcile" => (
                "the scheduled run (lists the app's recent Stripe events, finds none missing)",
                Box::new(|_| event("schedule/reconcile.json", &[])),
            ),
            _ => unreachable!(),
        };
        if invocations == 0 {
            rows.push(Row {
                name: name.to_string(),
                cold_ms,
                cold_min_ms,
                rss_start_kib: 0,
                rss_peak_kib: 0,
                mean_invoke_ms: 0.0,
                request: "(no invocations: cold start only)".into(),
            });
            continue;
        }
        let api = RuntimeApi::start().await;
        let process = FunctionProcess::spawn(&binary, &api, &env);
        api.wait_ready(Duration::from_secs(30)).await.unwrap();
        let rss_start_kib = process.peak_rss_kib().unwrap_or(0);
        let started = Instant::now();
        let mut statuses = std::collections::BTreeMap::new();
        for i in 0..invocations {
            match api.invoke(&make(i), Duration::from_secs(60)).await {
                Outcome::Response(v) => {
                    let s = v["statusCode"]
                        .as_u64()
                        .map_or("ok".to_string(), |s| s.to_string());
                    *statuses.entry(s).or_insert(0) += 1;
                }
                Outcome::Error(e) => panic!("{name} failed: {e}\n{}", process.output()),
            }
        }
        let mean_invoke_ms = started.elapsed().as_secs_f64() * 1000.0 / invocations as f64;
        let rss_peak_kib = process.peak_rss_kib().unwrap_or(0);
        eprintln!("{name}: {statuses:?}");
        rows.push(Row {
            name: name.to_string(),
            cold_ms,
            cold_min_ms,
            rss_start_kib,
            rss_peak_kib,
            mean_invoke_ms,
            request: format!("{description}; answers {statuses:?}"),
        });
    }

    keyhook_tests::figures::record(
        "cold_start",
        &rows
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    json!({"min_ms": r.cold_min_ms, "median_ms": r.cold_ms, "runs": runs}),
                )
            })
            .collect::<Vec<_>>(),
    );
    let hello = rows[0].cold_ms;
    let hello_min = rows[0].cold_min_ms;
    println!(
        "\nCold start: median of {runs} runs, process start -> first `next` (ratio to hello-lambda)."
    );
    println!("Peak RSS: VmHWM after {invocations} invocations against the emulator.\n");
    println!("| binary | cold start median (min) | ratio median (min) | RSS idle | peak RSS after {invocations} | mean invoke (emulator) |");
    println!("|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {:.2} ms ({:.2}) | {:.2}x ({:.2}x) | {:.1} MB | {:.1} MB | {:.2} ms |",
            r.name,
            r.cold_ms,
            r.cold_min_ms,
            r.cold_ms / hello,
            r.cold_min_ms / hello_min,
            r.rss_start_kib as f64 / 1024.0,
            r.rss_peak_kib as f64 / 1024.0,
            r.mean_invoke_ms
        );
    }
    println!("\nRequests:");
    for r in &rows {
        println!("- {}: {}", r.name, r.request);
    }
}
