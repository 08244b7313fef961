//! Benchmark of checkout session creation (issue 6). Prints figures; asserts nothing about speed.
//!
//! 1. Our CPU work per session (pure, no I/O): reading the request, the amount, the Stripe
//!    form and its encoding.
//! 2. Added latency of our side, end to end over loopback: `POST /api/stripe/checkout/session`
//!    against the local server (AWS = the emulator, Stripe = a wiremock fake), minus the time of
//!    the same Stripe call made directly with the same client; warm caches, sequential.
//! 3. AWS calls per session (warm), counted by an interceptor on the real SDK clients.
//!
//! Run with `make bench` (starts the emulator).

use std::time::{Duration, Instant};

use keyhook_shared::crypto::Secret;
use keyhook_shared::domain::checkout::{amount, CheckoutMode};
use keyhook_shared::domain::currency::shipped;
use keyhook_shared::handlers::checkout::request::{Ask, CheckoutInput};
use keyhook_shared::stripe::checkout::{session_form, IssueMetadata, LineItem, SessionParams};
use keyhook_tests::calls::{counted_services, CallCounter};
use keyhook_tests::fake_stripe::FakeStripe;
use keyhook_tests::{with_stripe, Stack};
use serde_json::{json, Value};

const BODY: &str = r#"{"productId":"42","quantity":2,"customerEmail":"ada@example.com","successUrl":"https://shop.example/thanks?session_id={CHECKOUT_SESSION_ID}","cancelUrl":"https://shop.example/cancel"}"#;

/// µs per session of the pure work.
fn bench_pure(iterations: u32) -> f64 {
    let usd = shipped().find(|c| c.code == "usd").unwrap();
    let started = Instant::now();
    for _ in 0..iterations {
        let input: CheckoutInput = serde_json::from_str(std::hint::black_box(BODY)).unwrap();
        let ask = Ask::read(input).unwrap();
        let charge = amount::one_time("42", "29.99", &usd, ask.quantity).unwrap();
        let form = session_form(&SessionParams {
            mode: CheckoutMode::Payment,
            line_item: LineItem::PriceData {
                currency: "usd",
                unit_amount: charge.unit_amount,
                product_name: "Pro License",
            },
            quantity: ask.quantity,
            metadata: IssueMetadata {
                product_id: &ask.product_id,
                quantity: ask.quantity,
                plan_id: None,
            },
            customer_email: ask.customer_email.as_deref(),
            success_url: &ask.success_url,
            cancel_url: &ask.cancel_url,
        });
        std::hint::black_box(form.encode());
    }
    started.elapsed().as_secs_f64() * 1e6 / iterations as f64
}

struct Stats {
    mean: Duration,
    p50: Duration,
    p95: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let n = samples.len();
    Stats {
        mean: samples.iter().sum::<Duration>() / n as u32,
        p50: samples[n / 2],
        p95: samples[(n * 95 / 100).min(n - 1)],
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

#[tokio::main]
pub async fn main() {
    println!("== Checkout: our CPU work per session (request, amount, Stripe form) ==");
    bench_pure(2_000);
    println!(
        "  {:.2} µs per session (20000 sessions)",
        bench_pure(20_000)
    );

    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        println!("(AWS_ENDPOINT_URL not set: skipping the end-to-end figures; run `make bench`)");
        return;
    }
    let stripe = FakeStripe::start().await;
    let stack = Stack::start_with_stripe(&stripe.uri()).await;
    let tenant = stack.tenant("Bench").await;
    let app = stack.app(&tenant).await;
    let one_time = stack.product(&tenant, json!({"name": "Pro License"})).await;
    let subscribed = stack.product(&tenant, json!({"name": "Pro Monthly"})).await;
    stripe.price("price_bench_monthly", "usd", 900, true).await;
    let (status, _) = stack
        .api(
            &tenant.token,
            "POST",
            "/api/stripe/price-mappings",
            Some(json!({"appId": app.id, "productId": subscribed, "stripePriceId": "price_bench_monthly"})),
        )
        .await;
    assert_eq!(status, 201);

    let counter = CallCounter::default();
    let services = with_stripe(
        counted_services(stack.config(), &stack.sdk, &counter),
        &stripe.uri(),
    );
    let base = stack.serve_with(services.clone()).await;
    let http = reqwest::Client::new();
    let body = |product: &str| {
        json!({"productId": product, "quantity": 2, "customerEmail": "ada@example.com",
               "successUrl": "https://shop.example/thanks?session_id={CHECKOUT_SESSION_ID}",
               "cancelUrl": "https://shop.example/cancel"})
    };
    let create = |product: String| {
        let req = http
            .post(format!("{base}/api/stripe/checkout/session"))
            .bearer_auth(&tenant.token)
            .json(&body(&product));
        async move {
            let started = Instant::now();
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let v: Value = res.json().await.unwrap();
            assert_eq!(status, 201, "{v}");
            started.elapsed()
        }
    };

    // Warm-up: the tenant key is unwrapped (KMS), connections opened, the price learnt.
    counter.reset();
    create(one_time.clone()).await;
    create(subscribed.clone()).await;
    println!(
        "  cold (first one-time + first subscription): {:?}",
        counter.snapshot()
    );

    let n = 100;
    // The fake's own cost, seen through the same client: a direct session creation.
    let secret = Secret::new(app.secret_key.clone());
    let form = session_form(&SessionParams {
        mode: CheckoutMode::Payment,
        line_item: LineItem::PriceData {
            currency: "usd",
            unit_amount: 2999,
            product_name: "Pro License",
        },
        quantity: 2,
        metadata: IssueMetadata {
            product_id: &one_time,
            quantity: 2,
            plan_id: None,
        },
        customer_email: Some("ada@example.com"),
        success_url: "https://shop.example/thanks?session_id={CHECKOUT_SESSION_ID}",
        cancel_url: "https://shop.example/cancel",
    });
    let mut direct = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        services
            .stripe
            .post(&secret, "checkout/sessions", &form, &format!("bench-{i}"))
            .await
            .unwrap();
        direct.push(started.elapsed());
    }
    let direct = stats(direct);
    println!(
        "== Stripe (fake) alone, direct call: mean {}, p50 {}, p95 {} ==",
        ms(direct.mean),
        ms(direct.p50),
        ms(direct.p95)
    );

    for (label, product) in [("one-time", &one_time), ("subscription", &subscribed)] {
        counter.reset();
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            samples.push(create(product.clone()).await);
        }
        let s = stats(samples);
        println!(
            "== {label}: POST /api/stripe/checkout/session over {n}, warm (emulated AWS) ==\n  total mean {}, p50 {}, p95 {}; added by Keyhook (mean − direct Stripe mean): {}",
            ms(s.mean),
            ms(s.p50),
            ms(s.p95),
            ms(s.mean.saturating_sub(direct.mean))
        );
        let calls = counter.snapshot();
        println!(
            "  AWS calls per session: {}",
            calls
                .iter()
                .map(|(k, v)| format!("{k}={}", *v as f64 / n as f64))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "  totals per session: DynamoDB {}, KMS {}",
            counter.service_total("DynamoDB") as f64 / n as f64,
            counter.service_total("KMS") as f64 / n as f64
        );
    }
    let stripe_calls = stripe.requests().await;
    println!(
        "  Stripe calls in the run: {} session creations, {} price reads",
        stripe_calls.iter().filter(|r| r.method == "POST").count(),
        stripe_calls.iter().filter(|r| r.method == "GET").count()
    );
}
