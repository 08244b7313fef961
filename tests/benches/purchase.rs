//! Benchmark of the purchase path (issue 3). Prints figures; asserts nothing about speed.
//!
//! 1. Signature verification + event parsing per event, for a 2 KB and a 50 KB payload
//!    (pure CPU, no I/O).
//! 2. AWS calls per one-time purchase with warm caches, counted by an interceptor on the real
//!    SDK clients against the emulator: the webhook request, then the mailer's send.
//! 3. The shared webhook URL with 1,000 apps: a matching event, and what an unauthenticated
//!    request costs (a 256 KiB body whose signature matches no app: µs per bad request, and
//!    its AWS calls, at most one list re-read per second per process).
//!
//! Run with `make bench` (starts the emulator).

use std::time::Instant;

use keyhook_shared::crypto::SealContext;
use keyhook_shared::domain::stripe_app::fields;
use keyhook_shared::domain::StripeApp;
use keyhook_shared::http::{dispatch, ApiRequest, Function};
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
    let started = Instant::now();
    for _ in 0..iterations {
        let h = SignatureHeader::parse(std::hint::black_box(&header)).unwrap();
        assert!(h.verifies(secret, std::hint::black_box(body)));
        let e = Event::parse(std::hint::black_box(body)).unwrap();
        std::hint::black_box(e);
    }
    started.elapsed().as_secs_f64() * 1e6 / iterations as f64
}

fn per_purchase(calls: &std::collections::BTreeMap<String, usize>, n: usize) -> String {
    calls
        .iter()
        .map(|(k, v)| format!("{k}={}", *v as f64 / n as f64))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::main]
async fn main() {
    println!("== Signature verification + event parsing (CPU only) ==");
    for target in [2 * 1024, 50 * 1024] {
        let body = event_of_size(target);
        let iterations = if target < 10_000 { 20_000 } else { 2_000 };
        bench_verify_and_parse(&body, iterations / 10); // warm-up
        let us = bench_verify_and_parse(&body, iterations);
        println!(
            "  payload {:>6} bytes: {:>8.2} µs per event ({iterations} events)",
            body.len(),
            us
        );
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

    webhook_matching(&stack).await;
}

/// The shared webhook URL with many apps: 1,000 apps across 10 tenants, the event signed by
/// the last candidate. Timed in-process through the dispatcher (no HTTP), warm.
async fn webhook_matching(stack: &Stack) {
    const APPS: usize = 1000;
    const TENANTS: usize = 10;
    println!("== Shared webhook URL with {APPS} apps ({TENANTS} tenants), warm ==");
    let mut secrets_by_app = std::collections::HashMap::new();
    let mut products = std::collections::HashMap::new();
    for t in 0..TENANTS {
        let tenant = stack.tenant(&format!("Bench {t}")).await;
        products.insert(
            tenant.id.clone(),
            stack.product(&tenant, json!({"autoEmail": false})).await,
        );
        for i in 0..APPS / TENANTS {
            let id = keyhook_shared::ids::new_id("app");
            let secret = format!(
                "whsec_bench_{t}_{i}_{}",
                keyhook_shared::ids::random_symbols(16)
            );
            let sealed = stack
                .services
                .keyring
                .seal(
                    SealContext {
                        tenant_id: &tenant.id,
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
                tenant_id: tenant.id.clone(),
                name: format!("app {i}"),
                publishable_key: None,
                secret_key_sealed: None,
                webhook_secret_sealed: Some(sealed),
                previous_webhook_secret_sealed: None,
                default_currency: "usd".into(),
                is_live: false,
                active: true,
                is_default: false,
                connect: Default::default(),
                created_at: now,
                updated_at: now,
            };
            stack
                .services
                .store
                .save_apps(&app, true, &[])
                .await
                .unwrap();
            secrets_by_app.insert(id, secret);
        }
    }
    // The candidate that matches is the one scanned last (index order): the worst case.
    let candidates = stack.services.store.webhook_apps(false).await.unwrap();
    let target = candidates.last().unwrap();
    let target_id = target.id.clone();
    let target_secret = secrets_by_app[&target_id].clone();
    let product = products[&target.tenant_id].clone();
    let counter = CallCounter::default();
    let services = counted_services(stack.config(), &stack.sdk, &counter);
    let request = |event: &Value| {
        let (body, header) = keyhook_cli::trigger::sign_event(event, &target_secret);
        let mut headers = http::HeaderMap::new();
        headers.insert("stripe-signature", header.parse().unwrap());
        ApiRequest {
            method: http::Method::POST,
            path: "/api/stripe/webhook".into(),
            query: vec![],
            headers,
            body: body.into(),
            source_ip: None,
            request_id: "bench".into(),
        }
    };
    // Cold: lists the candidates and opens every secret up to the match.
    let started = Instant::now();
    let res = dispatch(
        &services,
        Some(Function::Webhook),
        request(&checkout_event(&product, Some(1)).0),
    )
    .await;
    assert_eq!(
        res.status.as_u16(),
        200,
        "{}",
        String::from_utf8_lossy(&res.body)
    );
    println!(
        "  cold (list + open {} secrets): {:.1} ms",
        candidates.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    let n = 20;
    counter.reset();
    let mut total = std::time::Duration::ZERO;
    for _ in 0..n {
        let event = checkout_event(&product, Some(1)).0;
        let req = request(&event);
        let started = Instant::now();
        let res = dispatch(&services, Some(Function::Webhook), req).await;
        total += started.elapsed();
        assert_eq!(res.status.as_u16(), 200);
        let receipt: Value = serde_json::from_slice(&res.body).unwrap();
        assert_eq!(receipt["appId"], target_id.as_str());
    }
    println!(
        "  warm: {:.2} ms per event (whole request, incl. recording and issuing); AWS calls per event: {}",
        total.as_secs_f64() * 1e3 / n as f64,
        per_purchase(&counter.snapshot(), n)
    );
    bad_signatures(&services, &counter, &product, candidates.len()).await;

    // The matching itself: one HMAC per candidate.
    let body = serde_json::to_vec(&checkout_event(&product, Some(1)).0).unwrap();
    let header =
        SignatureHeader::parse(&signature::sign(&target_secret, 1_700_000_000, &body)).unwrap();
    let secrets: Vec<String> = (0..candidates.len())
        .map(|i| format!("whsec_other_{i}"))
        .collect();
    let started = Instant::now();
    for secret in &secrets {
        std::hint::black_box(header.verifies(secret, &body));
    }
    println!(
        "  HMAC over {} candidates of a {} byte event: {:.2} ms",
        secrets.len(),
        body.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
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

/// What an unauthenticated request costs the shared URL: a body of the largest size accepted,
/// signed with a secret no app has, so every candidate is tried and none matches.
async fn bad_signatures(
    services: &keyhook_shared::Services,
    counter: &CallCounter,
    product: &str,
    candidates: usize,
) {
    let size = keyhook_shared::http::routes::MAX_BODY_BYTES;
    let body = event_of_exact_size(product, size);
    let request = || {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let header = signature::sign("whsec_nobody_has_this_one", now, &body);
        let mut headers = http::HeaderMap::new();
        headers.insert("stripe-signature", header.parse().unwrap());
        ApiRequest {
            method: http::Method::POST,
            path: "/api/stripe/webhook".into(),
            query: vec![],
            headers,
            body: body.clone().into(),
            source_ip: None,
            request_id: "bench".into(),
        }
    };
    // Warm-up (and the one forced list re-read the interval allows).
    let res = dispatch(services, Some(Function::Webhook), request()).await;
    assert_eq!(res.status.as_u16(), 400);
    let n = 20;
    counter.reset();
    let started = Instant::now();
    for _ in 0..n {
        let res = dispatch(services, Some(Function::Webhook), request()).await;
        assert_eq!(res.status.as_u16(), 400);
    }
    let elapsed = started.elapsed();
    println!(
        "  bad signature, {size} byte body, {candidates} candidates: {:.0} µs per request ({:.2} µs per candidate); AWS calls per request: {}",
        elapsed.as_secs_f64() * 1e6 / n as f64,
        elapsed.as_secs_f64() * 1e6 / (n * candidates) as f64,
        if counter.snapshot().is_empty() {
            "none".to_string()
        } else {
            per_purchase(&counter.snapshot(), n)
        }
    );
}
