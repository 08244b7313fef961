//! Outgoing webhooks and reconciliation (issue 16), against the emulator: AWS calls per
//! outgoing event (deriving it from the stream, then sending it), deliveries per second on the
//! local stack (stream worker + sender + a loopback merchant endpoint), and the cost of a
//! reconciliation run per app (Stripe list calls and AWS calls). Counted by an interceptor on
//! the real SDK clients; the stream and queue reads Lambda's event sources make on AWS are
//! not the function's and are not counted. Prints figures; asserts only that work happened.

use std::time::{Duration, Instant};

use keyhook_cli::{delivery_worker, stream_worker::StreamReader};
use keyhook_shared::consumers::reconcile;
use keyhook_tests::calls::{counted_services, CallCounter};
use keyhook_tests::fake_stripe::FakeStripe;
use keyhook_tests::merchant::MerchantEndpoint;
use keyhook_tests::{checkout_event, Stack};
use serde_json::json;

fn per(calls: &std::collections::BTreeMap<String, usize>, n: usize) -> String {
    let total: usize = calls.values().sum();
    let detail = calls
        .iter()
        .map(|(k, v)| format!("{k}={:.2}", *v as f64 / n as f64))
        .collect::<Vec<_>>()
        .join(", ");
    format!("{:.2} calls ({detail})", total as f64 / n as f64)
}

#[tokio::main]
pub async fn main() {
    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        println!("(AWS_ENDPOINT_URL not set: run `make bench`)");
        return;
    }
    let stripe = FakeStripe::start().await;
    let stack = Stack::start_with_stripe(&stripe.uri()).await;
    let tenant = stack.tenant("Bench").await;
    let app = stack.app(&tenant).await;
    let product = stack.product(&tenant, json!({"autoEmail": false})).await;
    let merchant = MerchantEndpoint::start(&stack.services.clock, &[], 200).await;
    stack
        .endpoint(
            &tenant,
            json!({"url": merchant.url, "eventTypes": ["license.created"]}),
        )
        .await;

    let n = 60;
    for _ in 0..n {
        let (event, _) = checkout_event(&product, None);
        let (status, _) = stack
            .post_event("/api/stripe/webhook", &event, &app.webhook_secret)
            .await;
        assert_eq!(status, 200);
    }
    let counter = CallCounter::default();
    let mut services = counted_services(stack.config(), &stack.sdk, &counter);
    services.deliveries = services.deliveries.clone().with_max_delay(Duration::ZERO);
    // Warm the tenant key (one KMS Decrypt per tenant per 5 minutes, not per event).
    keyhook_shared::consumers::deliveries::sweep::run(&services)
        .await
        .unwrap();
    services.keyring.active_key(&tenant.id).await.unwrap();
    counter.reset();

    let started = Instant::now();
    let mut reader = StreamReader::new(
        aws_sdk_dynamodbstreams::Client::new(&stack.sdk),
        stack.resources.stream_arn.clone(),
    );
    let records = reader.drain(&services).await.unwrap();
    let derive_time = started.elapsed();
    let derive_calls = counter.take();
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    let started = Instant::now();
    let mut attempts = 0;
    while attempts < n {
        let made = delivery_worker::drain(&services, &sqs).await.unwrap();
        if made == 0 {
            break;
        }
        attempts += made;
    }
    let send_time = started.elapsed();
    let send_calls = counter.take();
    let accepted = merchant
        .received()
        .iter()
        .filter(|r| r.status == 200)
        .count();
    assert_eq!(accepted, n, "every event delivered once");

    println!("== Outgoing webhooks: {n} license.created events, one endpoint (warm) ==");
    println!(
        "  stream records read                  : {records} ({:.1} per purchase: license, purchase, event log writes)",
        records as f64 / n as f64
    );
    println!(
        "  derive + write delivery + enqueue    : {} per event",
        per(&derive_calls, n)
    );
    println!(
        "  send (claim, read, POST, record)     : {} per event",
        per(&send_calls, n)
    );
    println!(
        "  deliveries/s on the local stack      : {:.0} (sender alone; {:.0} events/s derived from the stream)",
        n as f64 / send_time.as_secs_f64(),
        n as f64 / derive_time.as_secs_f64()
    );

    // Reconciliation: one app, a window of Stripe events all recorded (the usual run), then
    // one whose webhook never arrived.
    for _ in 0..5 {
        let (event, _) = checkout_event(&product, None);
        let mut event = event;
        event["created"] =
            json!((time::OffsetDateTime::now_utc() - time::Duration::hours(1)).unix_timestamp());
        stack
            .post_event("/api/stripe/webhook", &event, &app.webhook_secret)
            .await;
        stripe.event(&event);
    }
    let opts = reconcile::Options {
        app_id: Some(app.id.clone()),
        since: None,
    };
    counter.reset();
    let runs = reconcile::run(&services, &opts).await.unwrap();
    let quiet = counter.take();
    let (mut missed, _) = checkout_event(&product, None);
    missed["created"] =
        json!((time::OffsetDateTime::now_utc() - time::Duration::hours(1)).unix_timestamp());
    stripe.event(&missed);
    let runs2 = reconcile::run(
        &services,
        &reconcile::Options {
            since: Some(time::OffsetDateTime::now_utc() - time::Duration::hours(2)),
            ..opts.clone()
        },
    )
    .await
    .unwrap();
    let recovering = counter.take();
    assert_eq!(runs2[0].recovered.len(), 1);
    println!("== Reconciliation per app per run ==");
    println!(
        "  nothing missed ({} events listed)     : {} Stripe list call(s); AWS {}",
        runs[0].listed,
        runs[0].pages,
        per(&quiet, 1)
    );
    println!(
        "  one purchase recovered ({} listed)    : {} Stripe list call(s); AWS {}",
        runs2[0].listed,
        runs2[0].pages,
        per(&recovering, 1)
    );
}
