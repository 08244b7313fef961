//! The local stack under load (issue 33): the server and the background workers started as
//! `keyhook dev` starts them (one process: every route, the mailer, the stream consumer and the
//! sender, `keyhook_cli::workers`), against the emulator. 16 senders post 400 signed Stripe
//! deliveries, shuffled: `checkout.session.completed` for distinct purchases (as `keyhook
//! trigger` builds them) and some of them again (Stripe's retries and duplicates, arriving in
//! any order, even at once). Then it waits until every purchase's license is issued, its
//! `license.created` delivered to a merchant endpoint and its email sent.
//!
//! Prints deliveries/s, p50/p99 latency per delivery, the time the workers took to catch up
//! after the last answer, the stream consumer's lag, and the AWS calls per delivery by kind
//! (the functions' own calls; and the workers' reads of the stream and the queues, which
//! Lambda's event sources make on AWS). Asserts only that the work happened, exactly once.
//! `KEYHOOK_BENCH_DELIVERIES` and `KEYHOOK_BENCH_SENDERS` change the load (400, 16);
//! `KEYHOOK_BENCH_WORKERS=off` runs the server alone (the webhook's own rate, nothing after).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use keyhook_cli::{trigger, workers};
use keyhook_tests::calls::{counted_services, CallCounter};
use keyhook_tests::merchant::MerchantEndpoint;
use keyhook_tests::{checkout_event, Stack, WEBHOOK};
use rand::seq::SliceRandom;
use serde_json::json;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn per(calls: &BTreeMap<String, usize>, n: usize) -> String {
    let total: usize = calls.values().sum();
    let detail = calls
        .iter()
        .map(|(k, v)| format!("{k}={:.2}", *v as f64 / n as f64))
        .collect::<Vec<_>>()
        .join(", ");
    format!("{:.2} ({detail})", total as f64 / n as f64)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

#[tokio::main]
pub async fn main() {
    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        println!("(AWS_ENDPOINT_URL not set: run `make bench`)");
        return;
    }
    let deliveries = env_usize("KEYHOOK_BENCH_DELIVERIES", 400);
    let senders = env_usize("KEYHOOK_BENCH_SENDERS", 16);
    // One delivery in eight is a second copy of another.
    let purchases = deliveries - deliveries / 8;
    let with_workers = std::env::var("KEYHOOK_BENCH_WORKERS").as_deref() != Ok("off");

    let stack = Stack::start().await;
    let tenant = stack.tenant("Bench").await;
    let app = stack.app(&tenant).await;
    let product = stack.product(&tenant, json!({"autoEmail": true})).await;
    let merchant = MerchantEndpoint::start(&stack.services.clock, &[], 200).await;
    stack
        .endpoint(
            &tenant,
            json!({"url": merchant.url, "eventTypes": ["license.created"]}),
        )
        .await;

    // The process of `keyhook dev`: one set of services for the server and the workers.
    // Their AWS calls are counted apart from the workers' reads of the stream and the queues.
    let calls = CallCounter::default();
    let polls = CallCounter::default();
    let services = counted_services(stack.config(), &stack.sdk, &calls);
    let base = stack.serve_with(services.clone()).await;
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&stack.sdk)
            .interceptor(polls.clone())
            .build(),
    );
    let streams = aws_sdk_dynamodbstreams::Client::from_conf(
        aws_sdk_dynamodbstreams::config::Builder::from(&stack.sdk)
            .interceptor(polls.clone())
            .build(),
    );
    let stream = if with_workers {
        workers::spawn_mail_worker(&services, sqs.clone());
        workers::spawn_webhook_workers(&services, streams, sqs, stack.resources.stream_arn.clone())
    } else {
        Arc::default()
    };

    // Warm-up: one purchase through the whole path (the tenant's key, caches, connections).
    let (warm, _) = checkout_event(&product, None);
    let (status, _) = stack
        .post_event_to(&base, WEBHOOK, &warm, &app.webhook_secret)
        .await;
    assert_eq!(status, 200);
    wait_until(Duration::from_secs(60), || {
        !with_workers || (license_events(&merchant) >= 1 && stream.records() > 0)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let warm_events = license_events(&merchant);

    let mut bodies: Vec<(String, String)> = (0..purchases)
        .map(|_| trigger::sign_event(&checkout_event(&product, None).0, &app.webhook_secret))
        .collect();
    {
        let mut rng = rand::thread_rng();
        let again: Vec<(String, String)> = bodies
            .choose_multiple(&mut rng, deliveries - purchases)
            .cloned()
            .collect();
        bodies.extend(again);
        bodies.shuffle(&mut rng);
    }
    let queue = Arc::new(std::sync::Mutex::new(bodies));

    calls.reset();
    polls.reset();
    stream.reset();
    let http = reqwest::Client::new();
    let started = Instant::now();
    let tasks: Vec<_> = (0..senders)
        .map(|_| {
            let queue = queue.clone();
            let http = http.clone();
            let url = format!("{base}{WEBHOOK}");
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let Some((body, signature)) = queue.lock().unwrap().pop() else {
                        return latencies;
                    };
                    let sent = Instant::now();
                    let res = keyhook_shared::stripe::test_events::delivery(
                        &http, &url, body, &signature,
                    )
                    .send()
                    .await
                    .expect("server answers");
                    let status = res.status().as_u16();
                    let _ = res.bytes().await;
                    assert_eq!(status, 200, "every delivery is accepted");
                    latencies.push(sent.elapsed());
                }
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let posting = started.elapsed();
    let answered_calls = calls.snapshot();
    let stream_at_last_answer = stream.records();
    latencies.sort();
    println!(
        "== Local stack: {deliveries} Stripe deliveries ({purchases} purchases, {} again), {senders} senders{} ==",
        deliveries - purchases,
        if with_workers { "" } else { ", server alone (no workers)" }
    );
    println!(
        "  deliveries/s                         : {:.1} ({deliveries} in {:.1} s)",
        deliveries as f64 / posting.as_secs_f64(),
        posting.as_secs_f64()
    );
    println!(
        "  latency per delivery                 : p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3
    );
    if !with_workers {
        println!(
            "  AWS calls per delivery               : {}",
            per(&answered_calls, deliveries)
        );
        return;
    }

    // Every purchase: its license (its license.created, delivered once) and its email.
    wait_until(Duration::from_secs(600), || {
        license_events(&merchant) >= warm_events + purchases
    })
    .await;
    let delivered = started.elapsed();
    let mail = aws_sdk_sqs::Client::new(&stack.sdk);
    let mail_queue = stack.resources.queue_url.clone();
    let mut emptied = false;
    for _ in 0..600 {
        if queue_depth(&mail, &mail_queue).await == 0 {
            emptied = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(emptied, "the mail queue empties");
    let all_done = started.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received = merchant.received();
    let licenses: BTreeSet<String> = received
        .iter()
        .map(|r| r.json())
        .filter(|p| p["type"] == "license.created")
        .map(|p| p["data"]["license"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        licenses.len(),
        warm_events + purchases,
        "one license per purchase"
    );
    assert_eq!(
        received.len(),
        licenses.len(),
        "each license.created delivered once"
    );

    let (lag_mean, lag_max) = stream.lag();
    let all_calls = calls.snapshot();
    let worker_calls: BTreeMap<String, usize> = all_calls
        .iter()
        .map(|(k, v)| (k.clone(), v - answered_calls.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect();
    let poll_calls = polls.snapshot();
    println!(
        "  every license.created delivered      : {:.1} s after the first post ({:.1} s after the last answer)",
        delivered.as_secs_f64(),
        (delivered - posting).as_secs_f64()
    );
    println!(
        "  every email sent                     : {:.1} s after the first post",
        all_done.as_secs_f64()
    );
    println!(
        "  stream consumer                      : {} records ({} handled by the last answer), lag mean {} ms, max {} ms",
        stream.records(),
        stream_at_last_answer,
        lag_mean.as_millis(),
        lag_max.as_millis()
    );
    println!(
        "  AWS calls per delivery (all handlers): {}",
        per(&all_calls, deliveries)
    );
    println!(
        "    of which after the last answer     : {} (the workers catching up)",
        per(&worker_calls, deliveries)
    );
    println!(
        "  stream and queue reads per delivery  : {}",
        per(&poll_calls, deliveries)
    );
}

/// license.created requests the merchant endpoint received so far.
fn license_events(merchant: &MerchantEndpoint) -> usize {
    merchant.received().len()
}

async fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < until, "the local stack did not catch up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Messages on a queue, visible or in flight.
async fn queue_depth(sqs: &aws_sdk_sqs::Client, url: &str) -> usize {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let attrs = out.attributes.unwrap_or_default();
    [
        A::ApproximateNumberOfMessages,
        A::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .filter_map(|a| attrs.get(a).and_then(|v| v.parse::<usize>().ok()))
    .sum()
}
