//! Benchmark of the purchase path (issue 3). Prints figures; asserts nothing about speed.
//!
//! 1. Signature verification + event parsing per event, for a 2 KB and a 50 KB payload
//!    (pure CPU, no I/O).
//! 2. AWS calls per one-time purchase with warm caches, counted by an interceptor on the real
//!    SDK clients against the emulator: the webhook request, then the mailer's send.
//! 3. What one request to the shared webhook URL costs with 1, 100 and 1,000 apps, with its
//!    Stripe address check on (as deployed) and off: junk (the largest body it takes, or a
//!    256 KiB one, signed by no app) and a real event signed by the app scanned last (the
//!    worst case); the CPU of the thread serving it, and for the real event its wall time and
//!    AWS calls. Then junk on an app's own URL, which has one candidate at any number of apps.
//!
//! Run with `make bench` (starts the emulator).

use std::time::{Duration, Instant};

use std::collections::HashMap;

use keyhook_shared::app::{dispatch, Function};
use keyhook_shared::crypto::SealContext;
use keyhook_shared::domain::stripe_app::fields;
use keyhook_shared::domain::StripeApp;
use keyhook_shared::http::ApiRequest;
use keyhook_shared::stripe::signature::{self, SignatureHeader};
use keyhook_shared::stripe::Event;
use keyhook_tests::calls::{counted_services, CallCounter};
use keyhook_tests::{checkout_event, Stack};
use serde_json::{json, Value};

/// An event of about `target` bytes: Stripe's example session, trimmed or given line items.
fn event_of_size(target: usize) -> Vec<u8> {
    let (mut event, _) = checkout_event("42", Some(1));
    let session = event["data"]["object"].as_object_mut().unwrap();
    if target < 3000 {
        for k in [
            "custom_text",
            "after_expiration",
            "consent_collection",
            "shipping_cost",
            "saved_payment_method_options",
            "invoice_creation",
            "collected_information",
            "payment_method_configuration_details",
            "automatic_tax",
            "total_details",
            "shipping_address_collection",
        ] {
            session.remove(k);
        }
    } else {
        let mut items = Vec::new();
        while serde_json::to_vec(&event).unwrap().len() < target {
            items.push(json!({
                "id": format!("li_{}", items.len()), "object": "item", "amount_discount": 0,
                "amount_subtotal": 2999, "amount_tax": 0, "amount_total": 2999, "currency": "usd",
                "description": "Pro License", "quantity": 1,
                "price": {"id": "price_1PgafmB7WZ01zgkW6dKueIc5", "object": "price", "active": true,
                          "currency": "usd", "unit_amount": 2999, "product": "prod_QXg1hqf4jFNsqG",
                          "metadata": {"product_id": "42", "hwid_limit": "3"}}
            }));
            event["data"]["object"]["line_items"] = json!({"object": "list", "data": items});
        }
    }
    serde_json::to_vec(&event).unwrap()
}

fn bench_verify_and_parse(body: &[u8], iterations: u32) -> f64 {
    let secret = "whsec_benchmark_secret_0123456789";
    let header = signature::sign(secret, 1_700_000_000, body);
    // CPU time, not wall time: on a shared VM it moves less with the other work, and
    // Stripe's library is timed the same way (scripts/stripe_verify_bench.py).
    let started = thread_cpu();
    for _ in 0..iterations {
        let h = SignatureHeader::parse(std::hint::black_box(&header)).unwrap();
        assert!(h.verifies(secret, std::hint::black_box(body)));
        let e = Event::parse(std::hint::black_box(body)).unwrap();
        std::hint::black_box(e);
    }
    (thread_cpu() - started).as_secs_f64() * 1e6 / iterations as f64
}

fn per_purchase(calls: &std::collections::BTreeMap<String, usize>, n: usize) -> String {
    calls
        .iter()
        .map(|(k, v)| format!("{k}={}", *v as f64 / n as f64))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::main]
pub async fn main() {
    println!("== Signature verification + event parsing (CPU only) ==");
    let mut verify = Vec::new();
    for (name, target) in [("small", 2 * 1024), ("large", 50 * 1024)] {
        let body = event_of_size(target);
        let iterations = if target < 10_000 { 20_000 } else { 2_000 };
        bench_verify_and_parse(&body, iterations / 10); // warm-up
        let us = bench_verify_and_parse(&body, iterations);
        println!(
            "  payload {:>6} bytes: {:>8.2} µs CPU per event ({iterations} events)",
            body.len(),
            us
        );
        // The same payload for Stripe's Python library, timed next in the same run
        // (scripts/stripe_verify_bench.py); `.body`, not `.json`: not a figures group.
        let dir = keyhook_tests::figures::dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("verify-{name}.body")), &body).unwrap();
        verify.push((format!("keyhook_us_{name}"), json!(us)));
        verify.push((format!("bytes_{name}"), json!(body.len())));
    }
    // Wall time of an optimised build only (`cargo bench`), as the other CPU figures.
    if !cfg!(debug_assertions) {
        let figures: Vec<(&str, Value)> = verify
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        keyhook_tests::figures::record("verify", &figures);
    }

    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        println!("(AWS_ENDPOINT_URL not set: skipping the AWS call count; run `make bench`)");
        return;
    }
    println!("== AWS calls per one-time purchase (warm), against the emulator ==");
    let stack = Stack::start().await;
    let tenant = stack.tenant("Bench").await;
    let app = stack.app(&tenant).await;
    let product = stack.product(&tenant, json!({})).await;
    let counter = CallCounter::default();
    let services = counted_services(stack.config(), &stack.sdk, &counter);
    let base = stack.serve_with(services.clone()).await;
    let post = |event: Value| {
        let (body, header) = keyhook_cli::trigger::sign_event(&event, &app.webhook_secret);
        let url = format!("{base}/api/stripe/webhook");
        async move {
            let res = reqwest::Client::new()
                .post(url)
                .header("stripe-signature", header)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status().as_u16(), 200);
        }
    };
    // Warm-up: the first purchase unwraps the tenant key (one KMS Decrypt), then it is cached.
    post(checkout_event(&product, Some(1)).0).await;
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    keyhook_cli::mail_worker::drain(&services, &sqs, &stack.resources.queue_url)
        .await
        .unwrap();
    let cold = counter.snapshot();
    println!(
        "  first purchase, cold caches (webhook + mailer): {}",
        per_purchase(&cold, 1)
    );

    let n = 20;
    counter.reset();
    for _ in 0..n {
        post(checkout_event(&product, Some(1)).0).await;
    }
    let webhook = counter.snapshot();
    println!(
        "  webhook, per purchase over {n}: {}",
        per_purchase(&webhook, n)
    );
    println!(
        "    totals per purchase: DynamoDB {}, KMS {}, SQS {}",
        counter.service_total("DynamoDB") as f64 / n as f64,
        counter.service_total("KMS") as f64 / n as f64,
        counter.service_total("SQS") as f64 / n as f64
    );
    let webhook_totals = (
        counter.service_total("DynamoDB"),
        counter.service_total("SQS"),
        counter.service_total("KMS"),
    );
    counter.reset();
    // The mail worker's own SQS receive/delete calls use an uncounted client: only the
    // mailer handler's calls are counted, as the mailer Lambda would make them.
    keyhook_cli::mail_worker::drain(&services, &sqs, &stack.resources.queue_url)
        .await
        .unwrap();
    let mailer = counter.snapshot();
    println!("  mailer, per email over {n}: {}", per_purchase(&mailer, n));
    println!(
        "    totals per email: DynamoDB {}, KMS {}, SES {}",
        counter.service_total("DynamoDB") as f64 / n as f64,
        counter.service_total("KMS") as f64 / n as f64,
        counter.service_total("SESv2") as f64 / n as f64
    );

    keyhook_tests::figures::record(
        "purchase",
        &[
            (
                "webhook_dynamodb_calls",
                json!(webhook_totals.0 as f64 / n as f64),
            ),
            (
                "webhook_sqs_calls",
                json!(webhook_totals.1 as f64 / n as f64),
            ),
            (
                "webhook_kms_calls",
                json!(webhook_totals.2 as f64 / n as f64),
            ),
            (
                "mailer_dynamodb_calls",
                json!(counter.service_total("DynamoDB") as f64 / n as f64),
            ),
            (
                "mailer_ses_calls",
                json!(counter.service_total("SESv2") as f64 / n as f64),
            ),
            (
                "mailer_kms_calls",
                json!(counter.service_total("KMS") as f64 / n as f64),
            ),
        ],
    );

    shared_url_costs().await;
}

/// This thread's CPU time (the request is dispatched on this thread; the AWS SDK's connection
/// tasks run on others, so for a real event it is our code's CPU, not the emulator's).
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A checkout event padded to exactly `size` bytes of JSON.
fn event_of_exact_size(product: &str, size: usize) -> Vec<u8> {
    let (mut event, _) = checkout_event(product, Some(1));
    let mut pad = 0;
    loop {
        event["data"]["object"]["metadata"]["padding"] = json!("x".repeat(pad));
        let body = serde_json::to_vec(&event).unwrap();
        match body.len().cmp(&size) {
            std::cmp::Ordering::Equal => return body,
            std::cmp::Ordering::Less => pad += size - body.len(),
            std::cmp::Ordering::Greater => pad -= body.len() - size,
        }
    }
}

/// A webhook request to `path` from `source_ip`, `body` signed now with `secret`.
fn webhook_request(path: &str, source_ip: &str, body: &[u8], secret: &str) -> ApiRequest {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "stripe-signature",
        signature::sign(secret, now, body).parse().unwrap(),
    );
    ApiRequest {
        method: http::Method::POST,
        path: path.into(),
        query: vec![],
        headers,
        body: body.to_vec().into(),
        source_ip: Some(source_ip.parse().unwrap()),
        request_id: "bench".into(),
    }
}

/// Dispatches `requests` (built beforehand, so signing them is not counted); this thread's CPU
/// and the wall time per request.
async fn per_request(
    services: &keyhook_shared::Services,
    requests: Vec<ApiRequest>,
    expected: u16,
) -> (Duration, Duration) {
    let n = requests.len() as u32;
    let (cpu0, wall0) = (thread_cpu(), Instant::now());
    for request in requests {
        let res = dispatch(services, Some(Function::Webhook), request).await;
        assert_eq!(
            res.status.as_u16(),
            expected,
            "{}",
            String::from_utf8_lossy(&res.body)
        );
    }
    ((thread_cpu() - cpu0) / n, wall0.elapsed() / n)
}

fn cpu(d: Duration) -> String {
    if d >= Duration::from_millis(10) {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    }
}

/// Adds test-mode apps with fresh signing secrets to `tenant` (written directly: creating
/// 1,000 apps through the API would take minutes); their ids and secrets.
async fn add_apps(stack: &Stack, tenant: &str, count: usize, into: &mut HashMap<String, String>) {
    for _ in 0..count {
        let id = keyhook_shared::ids::new_id("app");
        let secret = format!(
            "whsec_bench_{}",
            keyhook_shared::ids::random_symbols(24).to_ascii_lowercase()
        );
        let sealed = stack
            .services
            .keyring
            .seal(
                SealContext {
                    tenant_id: tenant,
                    owner: &id,
                    field: fields::WEBHOOK_SECRET,
                },
                secret.as_bytes(),
            )
            .await
            .unwrap();
        let now = keyhook_shared::time::now();
        let app = StripeApp {
            id: id.clone(),
            tenant_id: tenant.to_string(),
            name: format!("app {}", into.len()),
            publishable_key: None,
            secret_key_sealed: None,
            webhook_secret_sealed: Some(sealed),
            previous_webhook_secret_sealed: None,
            default_currency: "usd".into(),
            is_live: false,
            active: true,
            is_default: false,
            connect: Default::default(),
            link: Default::default(),
            created_at: now,
            updated_at: now,
        };
        stack
            .services
            .store
            .save_apps(&app, true, &[])
            .await
            .unwrap();
        into.insert(id, secret);
    }
}

/// What one request to the shared webhook URL costs, by number of apps (ten tenants share
/// them), with the Stripe address check on and off. Timed in-process through the dispatcher
/// (no HTTP), warm: the candidate list and every secret opened.
async fn shared_url_costs() {
    use keyhook_shared::app::routes::{MAX_BODY_BYTES, SHARED_WEBHOOK_MAX_BODY_BYTES};
    use keyhook_shared::config::StripeSourceIps;
    const SHARED: &str = "/api/stripe/webhook";
    const ELSEWHERE: &str = "198.51.100.7";
    let stripe = keyhook_shared::stripe::source_ips::addresses()[0].to_string();
    println!("== Shared webhook URL: one request's cost by number of apps (warm) ==");
    println!(
        "  junk: signed by no app, {SHARED_WEBHOOK_MAX_BODY_BYTES} bytes (the most the shared URL takes) or {MAX_BODY_BYTES}; sent from {ELSEWHERE} (not Stripe)"
    );
    println!("  real: an event signed by the app scanned last, sent from Stripe's {stripe}");
    println!(
        "  {:>5}  {:>5}  {:>22}  {:>22}  {:>34}",
        "apps",
        "check",
        "junk 64 KiB: CPU",
        "junk 256 KiB: CPU",
        "real event: CPU / wall / AWS calls"
    );
    let stack = Stack::start().await;
    let mut tenants = Vec::new();
    let mut products = HashMap::new();
    for t in 0..10 {
        let tenant = stack.tenant(&format!("Bench {t}")).await;
        products.insert(
            tenant.id.clone(),
            stack.product(&tenant, json!({"autoEmail": false})).await,
        );
        tenants.push(tenant.id);
    }
    let mut secrets = HashMap::new();
    let mut last_figures = None;
    for apps in [1usize, 100, 1000] {
        // Spread over the tenants: the first 100 in the first tenant, then 100 each.
        while secrets.len() < apps {
            let tenant = &tenants[(secrets.len() / 100).min(tenants.len() - 1)];
            let count = (apps - secrets.len()).min(100 - secrets.len() % 100);
            add_apps(&stack, tenant, count, &mut secrets).await;
        }
        let candidates = stack.services.store.webhook_apps(false).await.unwrap();
        assert_eq!(candidates.len(), apps);
        let target = candidates.last().unwrap();
        let target_secret = secrets[&target.id].clone();
        let product = products[&target.tenant_id].clone();
        let junk = event_of_exact_size(&product, SHARED_WEBHOOK_MAX_BODY_BYTES);
        let big_junk = event_of_exact_size(&product, MAX_BODY_BYTES);
        for check in [StripeSourceIps::Stripe, StripeSourceIps::Off] {
            let counter = CallCounter::default();
            let mut config = stack.config();
            config.stripe_source_ips = check;
            let services = counted_services(config, &stack.sdk, &counter);
            let real = |n: usize| -> Vec<ApiRequest> {
                (0..n)
                    .map(|_| {
                        let event = checkout_event(&product, Some(1)).0;
                        let body = serde_json::to_vec(&event).unwrap();
                        webhook_request(SHARED, &stripe, &body, &target_secret)
                    })
                    .collect()
            };
            // The same junk request, again and again (a clone shares the body).
            let repeat = |request: ApiRequest, n: usize| vec![request; n];
            // Warm: the list read and every secret opened once.
            per_request(&services, real(1), 200).await;
            let junk_status = if check == StripeSourceIps::Stripe {
                403
            } else {
                400
            };
            let rounds = if check == StripeSourceIps::Stripe || apps == 1 {
                2000
            } else {
                20
            };
            let junk_request =
                webhook_request(SHARED, ELSEWHERE, &junk, "whsec_nobody_has_this_one");
            per_request(&services, repeat(junk_request.clone(), 1), junk_status).await;
            let (junk_cpu, _) =
                per_request(&services, repeat(junk_request, rounds), junk_status).await;
            let big_request =
                webhook_request(SHARED, ELSEWHERE, &big_junk, "whsec_nobody_has_this_one");
            let (big_cpu, _) = per_request(&services, repeat(big_request, 2000), 413).await;
            let n = 10;
            let requests = real(n);
            counter.reset();
            let (real_cpu, real_wall) = per_request(&services, requests, 200).await;
            let calls = counter.snapshot().values().sum::<usize>() as f64 / n as f64;
            println!(
                "  {apps:>5}  {:>5}  {:>22}  {:>22}  {:>34}",
                if check == StripeSourceIps::Stripe {
                    "on"
                } else {
                    "off"
                },
                format!("{} ({junk_status})", cpu(junk_cpu)),
                format!("{} (413)", cpu(big_cpu)),
                format!(
                    "{} / {:.1} ms / {calls}",
                    cpu(real_cpu),
                    real_wall.as_secs_f64() * 1e3
                ),
            );
            if check == StripeSourceIps::Off && apps == 1000 {
                last_figures = Some((services, counter, target.id.clone(), product.clone()));
            }
        }
    }
    println!(
        "  (with the check on, junk that Stripe itself delivers, from a Stripe account of the sender's pointed at the shared URL, costs what the check-off junk column says)"
    );

    // An app's own URL: one candidate, whatever the number of apps.
    let (services, counter, app_id, product) = last_figures.unwrap();
    let junk = event_of_exact_size(&product, MAX_BODY_BYTES);
    let path = format!("{SHARED}/{app_id}");
    let n = 200;
    let request = webhook_request(&path, ELSEWHERE, &junk, "whsec_nobody_has_this_one");
    counter.reset();
    let (junk_cpu, junk_wall) = per_request(&services, vec![request; n], 400).await;
    println!(
        "  an app's own URL, 1000 apps, junk of {MAX_BODY_BYTES} bytes from anywhere: {} CPU, {:.2} ms wall, AWS calls per request: {}",
        cpu(junk_cpu),
        junk_wall.as_secs_f64() * 1e3,
        per_purchase(&counter.snapshot(), n)
    );
}
