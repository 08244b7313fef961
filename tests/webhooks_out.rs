//! Webhooks to the merchant's systems, end to end on the local stack: real purchases and admin
//! and validation requests over HTTP, events derived from the table's stream, deliveries made
//! by the sender to a small HTTP server standing in for the merchant, and the clock moved
//! forward for retries and five-day failures. Signatures are checked with a verifier written
//! here from the Standard Webhooks specification (not Keyhook's own signing code).

use std::collections::{BTreeMap, BTreeSet};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use keyhook_tests::merchant::{dead_url, MerchantEndpoint, Received};
use keyhook_tests::{checkout_event, unique, Stack, TestTenant};
use serde_json::{json, Value};
use sha2::Sha256;
use time::Duration;

const WEBHOOK: &str = "/api/stripe/webhook";

/// The Standard Webhooks verification, as the specification writes it: the HMAC-SHA256 key is
/// the base64-decoded secret after `whsec_`; the signed content is `id.timestamp.body`; any of
/// the space-separated `v1,<base64>` signatures may match; the timestamp must be within five
/// minutes of `now`.
fn verify(secret: &str, r: &Received, now: i64) -> Result<(), String> {
    let id = r.header("webhook-id");
    let timestamp = r.header("webhook-timestamp");
    let signatures = r.header("webhook-signature");
    if id.is_empty() || timestamp.is_empty() || signatures.is_empty() {
        return Err("missing headers".into());
    }
    let ts: i64 = timestamp.parse().map_err(|_| "bad timestamp")?;
    if (now - ts).abs() > 300 {
        return Err(format!("timestamp {ts} too far from {now}"));
    }
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").ok_or("not a whsec_ secret")?)
        .map_err(|_| "secret is not base64")?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(&r.body);
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    let matched = signatures
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|sig| sig == expected);
    if matched {
        Ok(())
    } else {
        Err(format!("no signature matches in {signatures:?}"))
    }
}

fn now(stack: &Stack) -> i64 {
    stack.services.clock.now().unix_timestamp()
}

async fn shop(stack: &Stack) -> (TestTenant, keyhook_tests::TestApp) {
    let tenant = stack.tenant("Acme").await;
    let app = stack.app(&tenant).await;
    (tenant, app)
}

#[tokio::test]
async fn a_failing_endpoint_gets_exactly_one_accepted_signed_delivery_per_event() {
    let stack = Stack::start().await;
    let (tenant, app) = shop(&stack).await;
    let product = stack.product(&tenant, json!({})).await;
    // The merchant's server fails the first three requests, then accepts.
    let merchant = MerchantEndpoint::start(&stack.services.clock, &[500, 503, 500], 200).await;
    let endpoint = stack
        .endpoint(
            &tenant,
            json!({"url": merchant.url, "eventTypes": ["license.created"]}),
        )
        .await;
    let secret = endpoint["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));

    let (event, _) = checkout_event(&product, Some(2));
    let (status, receipt) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!(status, 200, "{receipt}");
    assert!(
        merchant.received().is_empty(),
        "nothing is sent inside the request that caused the event"
    );

    // First attempts, then the retries as the clock reaches them.
    assert_eq!(stack.deliver().await, 2);
    for _ in 0..5 {
        stack.services.clock.advance(Duration::hours(1));
        stack.deliver().await;
    }
    let received = merchant.received();
    let accepted: Vec<&Received> = received.iter().filter(|r| r.status == 200).collect();
    let ids: BTreeSet<&str> = accepted.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(accepted.len(), 2, "one accepted delivery per license");
    assert_eq!(ids.len(), 2);
    assert_eq!(received.len(), 5, "3 refused + 2 accepted requests");

    // Every attempt verifies, and retries resend the very same event (id and body).
    let mut bodies: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for r in &received {
        verify(&secret, r, r.received_at).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.header("content-type"), "application/json");
        let body = bodies
            .entry(r.header("webhook-id").to_string())
            .or_insert_with(|| r.body.to_vec());
        assert_eq!(body, &r.body.to_vec(), "the same body on every attempt");
    }
    // A tampered body or a wrong secret does not verify.
    let mut tampered = accepted[0].clone();
    tampered.body = axum::body::Bytes::from(
        String::from_utf8_lossy(&tampered.body).replace("license", "licence"),
    );
    assert!(verify(&secret, &tampered, tampered.received_at).is_err());
    assert!(verify(&stripe_like_secret(), accepted[0], accepted[0].received_at).is_err());

    // The payload: the license as the admin API shows it, key included.
    let licenses = stack.licenses(&tenant, "").await;
    for r in &accepted {
        let payload = r.json();
        assert_eq!(payload["type"], "license.created");
        assert_eq!(payload["id"], r.header("webhook-id"));
        let license = &payload["data"]["license"];
        let admin = licenses
            .iter()
            .find(|l| l["id"] == license["id"])
            .expect("a license of the purchase");
        assert_eq!(license["key"], admin["key"]);
        assert_eq!(license["productId"], product.as_str());
        assert_eq!(license["source"]["eventId"], event["id"]);
    }

    // The delivery log: attempts with status codes and latency, nothing pending.
    let deliveries = stack
        .deliveries(&tenant, endpoint["id"].as_str().unwrap())
        .await;
    assert_eq!(deliveries.len(), 2);
    let mut all_codes = Vec::new();
    for d in &deliveries {
        assert_eq!(d["status"], "succeeded", "{d}");
        assert!(d["nextAttemptAt"].is_null());
        let history = d["history"].as_array().unwrap();
        assert_eq!(d["attempts"], history.len());
        assert!(d["lastAttempt"]["latencyMs"].is_u64());
        let codes: Vec<u64> = history
            .iter()
            .map(|a| a["statusCode"].as_u64().unwrap())
            .collect();
        assert_eq!(codes.last(), Some(&200), "each ends accepted: {codes:?}");
        assert!(codes[..codes.len() - 1].iter().all(|c| *c >= 500));
        all_codes.extend(codes);
    }
    all_codes.sort();
    assert_eq!(all_codes, [200, 200, 500, 500, 503]);

    // The stream read again from its start (a redelivered batch) changes nothing.
    stack.services.clock.advance(Duration::hours(1));
    let again = keyhook_cli::stream_worker::StreamReader::new(
        aws_sdk_dynamodbstreams::Client::new(&stack.sdk),
        stack.resources.stream_arn.clone(),
    )
    .drain(&stack.services)
    .await
    .unwrap();
    assert!(again > 0);
    assert_eq!(stack.deliver().await, 0);
    assert_eq!(merchant.received().len(), 5);
    assert_eq!(
        stack
            .deliveries(&tenant, endpoint["id"].as_str().unwrap())
            .await
            .len(),
        2
    );
}

fn stripe_like_secret() -> String {
    format!("whsec_{}", STANDARD.encode([7u8; 32]))
}

#[tokio::test]
async fn a_dead_endpoint_is_given_up_after_three_days_and_disabled_after_five_with_an_email() {
    let stack = Stack::start().await;
    let (tenant, app) = shop(&stack).await;
    let product = stack.product(&tenant, json!({"autoEmail": false})).await;
    let owner = format!("{}@example.com", unique("ops"));
    let endpoint = stack
        .endpoint(
            &tenant,
            json!({"url": dead_url(), "alertEmail": owner, "eventTypes": ["license.created"]}),
        )
        .await;
    let id = endpoint["id"].as_str().unwrap().to_string();

    let (event, _) = checkout_event(&product, None);
    stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!(stack.deliver().await, 1);
    // Three and a half days of retries, six hours apart.
    for _ in 0..14 {
        stack.services.clock.advance(Duration::hours(6));
        stack.deliver().await;
    }
    let deliveries = stack.deliveries(&tenant, &id).await;
    assert_eq!(deliveries[0]["status"], "failed", "{}", deliveries[0]);
    let attempts = deliveries[0]["attempts"].as_u64().unwrap();
    assert!((8..=14).contains(&attempts), "{attempts} attempts");
    assert!(deliveries[0]["history"][0]["error"].is_string());
    let (_, e) = stack
        .api(
            &tenant.token,
            "GET",
            &format!("/api/webhook-endpoints/{id}"),
            None,
        )
        .await;
    assert_eq!(
        e["active"], true,
        "failing for under five days: still active"
    );
    assert!(e["failingSince"].is_string());

    // Day 5: the next event's first failure disables the endpoint and emails its owner.
    stack.services.clock.advance(Duration::hours(36));
    let (event, _) = checkout_event(&product, None);
    stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    stack.deliver().await;
    let (_, e) = stack
        .api(
            &tenant.token,
            "GET",
            &format!("/api/webhook-endpoints/{id}"),
            None,
        )
        .await;
    assert_eq!(e["active"], false, "{e}");
    assert!(e["disabledReason"]
        .as_str()
        .unwrap()
        .contains("failed since"));
    stack.drain_mail().await;
    let emails = stack.emails_to(&owner).await;
    assert_eq!(emails.len(), 1, "the owner is told once");
    assert_eq!(
        emails[0]["subject"],
        "Your Keyhook webhook endpoint was disabled"
    );
    assert!(emails[0]["body"].as_str().unwrap().contains(&id));

    // No more attempts at a disabled endpoint: its pending delivery is closed.
    stack.services.clock.advance(Duration::hours(1));
    assert_eq!(stack.deliver().await, 0);
    let newest = &stack.deliveries(&tenant, &id).await[0];
    assert_eq!(newest["status"], "failed");
    assert_eq!(newest["closedReason"], "the endpoint is disabled");
    let (status, _) = stack
        .api(
            &tenant.token,
            "POST",
            &format!(
                "/api/webhook-endpoints/{id}/deliveries/{}/retry",
                newest["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(status, 409, "no retry to a disabled endpoint");

    // Re-enabled, its failure record is cleared.
    let (status, e) = stack
        .api(
            &tenant.token,
            "PUT",
            &format!("/api/webhook-endpoints/{id}"),
            Some(json!({"active": true})),
        )
        .await;
    assert_eq!(status, 200, "{e}");
    assert_eq!(e["active"], true);
    assert!(e["failingSince"].is_null() && e["disabledAt"].is_null());
}

#[tokio::test]
async fn test_events_manual_retries_and_rolled_secrets() {
    let stack = Stack::start().await;
    let (tenant, _app) = shop(&stack).await;
    let merchant = MerchantEndpoint::start(&stack.services.clock, &[], 200).await;
    let endpoint = stack
        .endpoint(
            &tenant,
            json!({"url": merchant.url, "description": "CRM sync"}),
        )
        .await;
    let id = endpoint["id"].as_str().unwrap().to_string();
    let secret = endpoint["secret"].as_str().unwrap().to_string();
    assert_eq!(endpoint["eventTypes"], json!(["*"]));

    // Secrets are shown once: never in reads or lists.
    let (_, got) = stack
        .api(
            &tenant.token,
            "GET",
            &format!("/api/webhook-endpoints/{id}"),
            None,
        )
        .await;
    assert!(got.get("secret").is_none(), "{got}");
    let (_, list) = stack
        .api(&tenant.token, "GET", "/api/webhook-endpoints", None)
        .await;
    assert!(!list.to_string().contains(&secret));
    // Another tenant cannot see it.
    let other = stack.tenant("Other").await;
    let (status, _) = stack
        .api(
            &other.token,
            "GET",
            &format!("/api/webhook-endpoints/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 404);

    // A test event is queued, not sent in the request.
    let (status, d) = stack
        .api(
            &tenant.token,
            "POST",
            &format!("/api/webhook-endpoints/{id}/test"),
            None,
        )
        .await;
    assert_eq!(status, 202, "{d}");
    assert_eq!(d["status"], "pending");
    assert!(merchant.received().is_empty());
    assert_eq!(stack.deliver().await, 1);
    let first = &merchant.received()[0];
    verify(&secret, first, now(&stack)).unwrap();
    assert_eq!(first.json()["type"], "webhook.test");
    assert_eq!(first.json()["data"]["endpointId"], id.as_str());

    // A manual retry of a succeeded delivery: the same event again.
    let delivery = d["id"].as_str().unwrap();
    let (status, retried) = stack
        .api(
            &tenant.token,
            "POST",
            &format!("/api/webhook-endpoints/{id}/deliveries/{delivery}/retry"),
            None,
        )
        .await;
    assert_eq!(status, 202, "{retried}");
    assert_eq!(stack.deliver().await, 1);
    let second = &merchant.received()[1];
    assert_eq!(second.header("webhook-id"), first.header("webhook-id"));
    assert_eq!(second.body, first.body);
    let log = stack.deliveries(&tenant, &id).await;
    assert_eq!(log[0]["attempts"], 2);
    assert_eq!(log[0]["status"], "succeeded");

    // Rolling: the new secret is shown once; for 24 hours deliveries carry both signatures.
    let (status, rolled) = stack
        .api(
            &tenant.token,
            "POST",
            &format!("/api/webhook-endpoints/{id}/roll-secret"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{rolled}");
    let new_secret = rolled["secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    assert!(rolled["previousSecretExpiresAt"].is_string());
    stack
        .api(
            &tenant.token,
            "POST",
            &format!("/api/webhook-endpoints/{id}/test"),
            None,
        )
        .await;
    stack.deliver().await;
    let third = merchant.received()[2].clone();
    assert_eq!(third.header("webhook-signature").split(' ').count(), 2);
    verify(&new_secret, &third, now(&stack)).unwrap();
    verify(&secret, &third, now(&stack)).unwrap();
    stack.services.clock.advance(Duration::hours(25));
    stack
        .api(
            &tenant.token,
            "POST",
            &format!("/api/webhook-endpoints/{id}/test"),
            None,
        )
        .await;
    stack.deliver().await;
    let fourth = merchant.received()[3].clone();
    verify(&new_secret, &fourth, now(&stack)).unwrap();
    assert!(
        verify(&secret, &fourth, now(&stack)).is_err(),
        "the old secret expired"
    );

    // Bad input is refused with the field named.
    for (body, field) in [
        (json!({"url": "http://hooks.example.com/x"}), "url"),
        (json!({"url": "https://10.1.2.3/x"}), "url"),
        (
            json!({"url": "https://hooks.example.com/x", "eventTypes": ["license.nope"]}),
            "eventTypes[0]",
        ),
        (
            json!({"url": "https://hooks.example.com/x", "eventTypes": []}),
            "eventTypes",
        ),
        (
            json!({"url": "https://hooks.example.com/x", "alertEmail": "nope"}),
            "alertEmail",
        ),
        (
            json!({"url": "https://hooks.example.com/x", "secret": "whsec_x"}),
            "secret",
        ),
    ] {
        let (status, err) = stack
            .api(&tenant.token, "POST", "/api/webhook-endpoints", Some(body))
            .await;
        assert_eq!(status, 422, "{err}");
        assert_eq!(err["error"]["code"], "validation_failed");
        assert!(
            err["error"]["field"].as_str().unwrap_or("").contains(field)
                || err["error"]["message"].as_str().unwrap().contains(field),
            "{err}"
        );
    }
    let (status, _) = stack
        .api(
            &tenant.token,
            "DELETE",
            &format!("/api/webhook-endpoints/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
}

async fn post_json(stack: &Stack, path: &str, body: Value) -> Value {
    let res = stack
        .http
        .post(format!("{}{path}", stack.base_url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn every_license_event_is_derived_from_the_change_that_caused_it() {
    let stack = Stack::start().await;
    let (tenant, app) = shop(&stack).await;
    let product = stack
        .product(
            &tenant,
            json!({"trialDays": 7, "maxDevices": 3, "autoEmail": false}),
        )
        .await;
    let merchant = MerchantEndpoint::start(&stack.services.clock, &[], 200).await;
    let endpoint = stack.endpoint(&tenant, json!({"url": merchant.url})).await;
    let secret = endpoint["secret"].as_str().unwrap().to_string();

    let (event, _) = checkout_event(&product, None);
    stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    let license = stack.licenses(&tenant, "").await[0].clone();
    let (lid, key) = (
        license["id"].as_str().unwrap(),
        license["key"].as_str().unwrap(),
    );
    let patch = |body: Value| {
        let path = format!("/api/licenses/{lid}");
        let stack = &stack;
        let token = tenant.token.clone();
        async move {
            let (status, b) = stack.api(&token, "PATCH", &path, Some(body)).await;
            assert_eq!(status, 200, "{b}");
        }
    };
    // A test-mode purchase: its license answers test builds.
    let activate = json!({"licenseKey": key, "productId": product, "deviceId": "mac-1", "environment": "test"});
    assert_eq!(
        post_json(&stack, "/api/licenses/activate", activate.clone()).await["valid"],
        true
    );
    post_json(&stack, "/api/licenses/deactivate", activate).await;
    patch(json!({"status": "suspended"})).await;
    patch(json!({"status": "active"})).await;
    patch(json!({"expiresAt": "2099-01-01T00:00:00Z"})).await;
    patch(json!({"status": "revoked"})).await;
    let trial = post_json(
        &stack,
        "/api/licenses/validate",
        json!({"productId": product, "deviceId": "pc-trial"}),
    )
    .await;
    assert_eq!(trial["code"], "TRIAL", "{trial}");
    // An event that can never issue is recorded failed: purchase.failed.
    let (bad, _) = checkout_event("999999", None);
    stack.post_event(WEBHOOK, &bad, &app.webhook_secret).await;
    // A buyer who left no address, for a product that emails keys: email.failed.
    let mailed = stack.product(&tenant, json!({"autoEmail": true})).await;
    let (mut anonymous, _) = checkout_event(&mailed, None);
    anonymous["data"]["object"]["customer_details"]["email"] = Value::Null;
    anonymous["data"]["object"]["customer_email"] = Value::Null;
    stack
        .post_event(WEBHOOK, &anonymous, &app.webhook_secret)
        .await;
    stack.deliver().await;

    let types: Vec<String> = merchant
        .received()
        .iter()
        .map(|r| {
            verify(&secret, r, r.received_at).unwrap();
            r.json()["type"].as_str().unwrap().to_string()
        })
        .collect();
    let mut sorted = types.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "email.failed",
            "license.activated",
            "license.created",
            "license.created",
            "license.deactivated",
            "license.reinstated",
            "license.renewed",
            "license.revoked",
            "license.suspended",
            "purchase.failed",
            "trial.started",
        ],
        "{types:?}"
    );
    let by_type = |t: &str| {
        merchant
            .received()
            .into_iter()
            .map(|r| r.json())
            .find(|p| p["type"] == t)
            .unwrap()
    };
    assert_eq!(
        by_type("license.activated")["data"]["device"]["deviceId"],
        "mac-1"
    );
    assert_eq!(
        by_type("license.revoked")["data"]["license"]["status"],
        "revoked"
    );
    assert!(by_type("license.renewed")["data"]["previousExpiresAt"].is_string());
    assert_eq!(
        by_type("trial.started")["data"]["trial"]["productId"],
        product.as_str()
    );
    assert_eq!(
        by_type("purchase.failed")["data"]["event"]["eventId"],
        bad["id"]
    );
    assert_eq!(
        by_type("purchase.failed")["data"]["event"]["status"],
        "failed"
    );

    // license.expired has no write: the sweep emits it once the expiry passes, once.
    let short = stack
        .product(
            &tenant,
            json!({"defaultLicenseDays": 1, "autoEmail": false}),
        )
        .await;
    let (event, _) = checkout_event(&short, None);
    stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    stack.deliver().await;
    let before = merchant.received().len();
    let report = keyhook_shared::handlers::deliveries::sweep::run(&stack.services)
        .await
        .unwrap();
    assert_eq!(report.events, 0, "not expired yet");
    stack.services.clock.advance(Duration::days(2));
    let report = keyhook_shared::handlers::deliveries::sweep::run(&stack.services)
        .await
        .unwrap();
    assert_eq!(report.events, 1, "{report:?}");
    let again = keyhook_shared::handlers::deliveries::sweep::run(&stack.services)
        .await
        .unwrap();
    assert_eq!(again.events, 0, "a second sweep emits nothing new");
    stack.deliver().await;
    let expired: Vec<Value> = merchant.received()[before..]
        .iter()
        .map(|r| r.json())
        .collect();
    assert_eq!(expired.len(), 1, "delivered once: {expired:?}");
    assert_eq!(expired[0]["type"], "license.expired");
    assert_eq!(expired[0]["data"]["license"]["status"], "expired");
}

#[tokio::test]
async fn a_retry_whose_message_was_lost_is_scheduled_again_when_the_attempts_message_returns() {
    let stack = Stack::start().await;
    let tenant = stack.tenant("Acme").await;
    let merchant = MerchantEndpoint::start(&stack.services.clock, &[500], 200).await;
    let endpoint = stack.endpoint(&tenant, json!({"url": merchant.url})).await;
    let id = endpoint["id"].as_str().unwrap();
    let (_, d) = stack
        .api(
            &tenant.token,
            "POST",
            &format!("/api/webhook-endpoints/{id}/test"),
            None,
        )
        .await;
    assert_eq!(stack.deliver().await, 1, "the first attempt fails");
    // The retry's message is lost (as if the sender stopped right after recording the
    // attempt), and SQS hands the first attempt's message out again.
    aws_sdk_sqs::Client::new(&stack.sdk)
        .purge_queue()
        .queue_url(&stack.resources.delivery_queue_url)
        .send()
        .await
        .unwrap();
    let job = keyhook_shared::handlers::deliveries::queue::DeliveryJob {
        tenant_id: tenant.id.clone(),
        delivery_id: d["id"].as_str().unwrap().to_string(),
        seq: 0,
    };
    stack
        .services
        .deliveries
        .enqueue(&job, std::time::Duration::ZERO)
        .await
        .unwrap();
    stack.services.clock.advance(Duration::hours(1));
    stack.deliver().await;
    stack.deliver().await;
    let log = stack.deliveries(&tenant, id).await;
    assert_eq!(log[0]["status"], "succeeded", "{}", log[0]);
    assert_eq!(log[0]["attempts"], 2);
    assert_eq!(merchant.received().len(), 2, "no attempt was made twice");
}
