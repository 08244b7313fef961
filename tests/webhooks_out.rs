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
use keyhook_tests::{checkout_event, unique, Shop, Stack, WEBHOOK};
use serde_json::{json, Value};
use sha2::Sha256;
use time::Duration;

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

#[tokio::test]
async fn a_failing_endpoint_gets_exactly_one_accepted_signed_delivery_per_event() {
    let Shop { stack, tenant, app } = Shop::open().await;
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
    let Shop { stack, tenant, app } = Shop::open().await;
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
    let Shop { stack, tenant, .. } = Shop::open().await;
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
    verify(&secret, first, stack.now()).unwrap();
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
    verify(&new_secret, &third, stack.now()).unwrap();
    verify(&secret, &third, stack.now()).unwrap();
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
    verify(&new_secret, &fourth, stack.now()).unwrap();
    assert!(
        verify(&secret, &fourth, stack.now()).is_err(),
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
    let Shop { stack, tenant, app } = Shop::open().await;
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
    let report = keyhook_shared::consumers::deliveries::sweep::run(&stack.services)
        .await
        .unwrap();
    assert_eq!(report.events, 0, "not expired yet");
    stack.services.clock.advance(Duration::days(2));
    let report = keyhook_shared::consumers::deliveries::sweep::run(&stack.services)
        .await
        .unwrap();
    assert_eq!(report.events, 1, "{report:?}");
    let again = keyhook_shared::consumers::deliveries::sweep::run(&stack.services)
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
    let Shop { stack, tenant, app } = Shop::open().await;
    let product = stack.product(&tenant, json!({"autoEmail": false})).await;
    let merchant = MerchantEndpoint::start(&stack.services.clock, &[500], 200).await;
    let endpoint = stack
        .endpoint(
            &tenant,
            json!({"url": merchant.url, "eventTypes": ["license.created"]}),
        )
        .await;
    let id = endpoint["id"].as_str().unwrap();
    let (event, _) = checkout_event(&product, None);
    stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!(stack.deliver().await, 1, "the first attempt fails");
    let d = stack.deliveries(&tenant, id).await[0].clone();
    assert_eq!(d["status"], "pending", "{d}");
    // The retry's message is lost (as if the sender stopped right after recording the
    // attempt), and SQS hands the first attempt's message out again.
    aws_sdk_sqs::Client::new(&stack.sdk)
        .purge_queue()
        .queue_url(&stack.resources.delivery_queue_url)
        .send()
        .await
        .unwrap();
    let job = keyhook_shared::services::delivery_queue::DeliveryJob {
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

/// The services of a deployed Keyhook over this stack's resources: webhooks to public
/// addresses only (the stack's own allow loopback, where its merchants listen). The same
/// clock; retries wait on it, not on SQS.
fn deployed(stack: &Stack) -> keyhook_shared::Services {
    let mut config = stack.config();
    config.allow_loopback_webhooks = false;
    let mut services = keyhook_shared::Services::new(config, &stack.sdk);
    services.clock = stack.services.clock.clone();
    services.deliveries = services
        .deliveries
        .clone()
        .with_max_delay(std::time::Duration::ZERO);
    services
}

const REFUSED: &str = "refused: not a public address";

fn port_of(url: &str) -> u16 {
    reqwest::Url::parse(url).unwrap().port().unwrap()
}
const NO_ANSWER: &str = "could not connect (or no answer in time)";

#[tokio::test]
async fn a_deployment_sends_nothing_to_loopback_whether_written_as_a_name_or_an_address() {
    let Shop { stack, tenant, app } = Shop::open().await;
    let product = stack.product(&tenant, json!({"autoEmail": false})).await;
    let merchant = MerchantEndpoint::start(&stack.services.clock, &[], 200).await;
    // Registered where loopback is allowed (as in `keyhook dev`): by name and by address.
    let port = port_of(&merchant.url);
    let by_name = stack
        .endpoint(
            &tenant,
            json!({"url": format!("http://localhost:{port}/keyhook/webhooks")}),
        )
        .await;
    let by_address = stack.endpoint(&tenant, json!({"url": merchant.url})).await;

    // A deployment refuses both at registration...
    let deployed = deployed(&stack);
    let base = stack.serve_with(deployed.clone()).await;
    for url in [
        merchant.url.clone(),
        format!("http://localhost:{port}/hook"),
        format!("https://localhost:{port}/hook"),
        "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next".into(),
    ] {
        let res = stack
            .http
            .post(format!("{base}/api/webhook-endpoints"))
            .bearer_auth(&tenant.token)
            .json(&json!({"url": url}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 422, "{url}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"]["field"], "url", "{err}");
    }
    // ... and, for endpoints that are there, at connect time: `localhost` goes through the
    // resolver (the system's, which answers 127.0.0.1), the address is checked as written.
    // Deliveries, tests and retries alike.
    let (event, _) = checkout_event(&product, None);
    stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    stack.drain_stream().await;
    for e in [&by_name, &by_address] {
        let (status, _) = stack
            .api(
                &tenant.token,
                "POST",
                &format!("/api/webhook-endpoints/{}/test", e["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(status, 202);
    }
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    let drain = || keyhook_cli::delivery_worker::drain(&deployed, &sqs);
    assert_eq!(drain().await.unwrap(), 4, "two events to two endpoints");
    assert!(merchant.received().is_empty(), "nothing reached loopback");
    stack.services.clock.advance(Duration::hours(1));
    assert!(drain().await.unwrap() >= 2, "the events' retries");
    assert!(merchant.received().is_empty(), "nor on a retry");
    for e in [&by_name, &by_address] {
        let log = stack.deliveries(&tenant, e["id"].as_str().unwrap()).await;
        assert_eq!(log.len(), 2, "{log:?}");
        for d in &log {
            let history = d["history"].as_array().unwrap();
            for a in history {
                assert_eq!(a["error"], REFUSED, "{d}");
                assert!(a["statusCode"].is_null() && a["latencyMs"].is_null(), "{d}");
            }
            if d["eventType"] == "webhook.test" {
                assert_eq!(d["status"], "failed", "a test is not retried: {d}");
                assert_eq!(history.len(), 1);
            } else {
                assert_eq!(d["status"], "pending", "{d}");
                assert!(history.len() >= 2, "retried: {d}");
            }
        }
    }
    // The same endpoints, from the stack that allows loopback: delivered (so it was the
    // deployment's rule that refused them, not a broken URL).
    stack.services.clock.advance(Duration::hours(6));
    stack.deliver().await;
    assert_eq!(
        merchant
            .received()
            .iter()
            .filter(|r| r.json()["type"] == "license.created")
            .count(),
        2
    );
}

#[tokio::test]
async fn the_delivery_log_says_could_not_connect_and_nothing_about_the_network() {
    let stack = Stack::start().await;
    let tenant = stack.tenant("Acme").await;
    let dead = dead_url();
    let port = port_of(&dead).to_string();
    let endpoint = stack.endpoint(&tenant, json!({"url": dead})).await;
    let id = endpoint["id"].as_str().unwrap();
    stack
        .api(
            &tenant.token,
            "POST",
            &format!("/api/webhook-endpoints/{id}/test"),
            None,
        )
        .await;
    assert_eq!(stack.deliver().await, 1);
    let log = stack.deliveries(&tenant, id).await;
    let attempt = &log[0]["lastAttempt"];
    assert_eq!(attempt["error"], NO_ANSWER, "{attempt}");
    assert!(attempt["statusCode"].is_null());
    assert!(attempt["latencyMs"].is_null(), "no timing: {attempt}");
    let text = log[0].to_string();
    for leak in [
        port.as_str(),
        "refused (os",
        "os error",
        "timed out",
        "tcp",
        "connection",
    ] {
        assert!(!text.contains(leak), "{leak:?} in {text}");
    }
}

#[tokio::test]
async fn test_events_are_limited_per_endpoint_and_never_retried() {
    let stack = Stack::start().await;
    let tenant = stack.tenant("Acme").await;
    let merchant = MerchantEndpoint::start(&stack.services.clock, &[], 500).await;
    let endpoint = stack.endpoint(&tenant, json!({"url": merchant.url})).await;
    let other = stack.endpoint(&tenant, json!({"url": merchant.url})).await;
    let test = |id: String| {
        let stack = &stack;
        let token = tenant.token.clone();
        async move {
            stack
                .api(
                    &token,
                    "POST",
                    &format!("/api/webhook-endpoints/{id}/test"),
                    None,
                )
                .await
        }
    };
    let id = endpoint["id"].as_str().unwrap().to_string();
    // Ten at once: all counted, all accepted.
    let sent = futures::future::join_all((0..10).map(|_| test(id.clone()))).await;
    assert!(sent.iter().all(|(s, _)| *s == 202), "{sent:?}");
    let (status, err) = test(id.clone()).await;
    assert_eq!(status, 429, "{err}");
    assert_eq!(err["error"]["code"], "rate_limited");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("At most 10 test events per endpoint every 15 minutes"),
        "{err}"
    );
    // Per endpoint: another one of the tenant's is not held back.
    let (status, _) = test(other["id"].as_str().unwrap().to_string()).await;
    assert_eq!(status, 202);

    // Each failing test got one attempt, and none later.
    assert_eq!(stack.deliver().await, 11);
    for _ in 0..3 {
        stack.services.clock.advance(Duration::hours(2));
        assert_eq!(stack.deliver().await, 0, "no retry of a test event");
    }
    assert_eq!(merchant.received().len(), 11);
    for d in stack.deliveries(&tenant, &id).await {
        assert_eq!(
            (d["status"].as_str(), d["attempts"].as_u64()),
            (Some("failed"), Some(1))
        );
        assert!(d["nextAttemptAt"].is_null());
    }
    // The next window takes tests again.
    let (status, _) = test(id.clone()).await;
    assert_eq!(status, 202, "six hours later");
}

#[tokio::test]
async fn an_edit_decided_before_the_sender_disabled_an_endpoint_does_not_re_enable_it() {
    use keyhook_shared::domain::member::Role;

    let stack = Stack::start().await;
    let tenant = stack.tenant("Acme").await;
    let endpoint = stack.endpoint(&tenant, json!({"url": dead_url()})).await;
    let id = endpoint["id"].as_str().unwrap().to_string();
    let path = format!("/api/webhook-endpoints/{id}");
    let store = &stack.services.store;
    let get = || async { stack.api(&tenant.token, "GET", &path, None).await.1 };
    let disable = || async {
        assert!(store
            .disable_endpoint(
                &tenant.id,
                &id,
                stack.services.clock.now(),
                "every delivery attempt failed since 2030-01-01T00:00:00Z",
            )
            .await
            .unwrap());
    };
    let enable = || async {
        let (status, e) = stack
            .api(&tenant.token, "PUT", &path, Some(json!({"active": true})))
            .await;
        assert_eq!(status, 200, "{e}");
    };

    // The API: an update carrying the version it read.
    let read = get().await;
    disable().await; // what the sender does after five days of failures
    let (status, err) = stack
        .api(
            &tenant.token,
            "PUT",
            &path,
            Some(json!({"description": "CRM", "active": true, "version": read["version"]})),
        )
        .await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["code"], "conflict");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("it is now disabled"),
        "{err}"
    );
    let now = get().await;
    assert_eq!(
        (&now["active"], &now["description"]),
        (&json!(false), &Value::Null)
    );
    assert!(now["disabledAt"].is_string());
    assert_ne!(now["version"], read["version"]);

    // The store: a settings write decided on a read from before the disabling changes nothing.
    enable().await;
    let before = store.get_endpoint(&tenant.id, &id).await.unwrap().unwrap();
    disable().await;
    let mut edited = before.clone();
    edited.description = Some("from a stale read".into());
    assert!(!store
        .update_endpoint_settings(&edited, false, before.version)
        .await
        .unwrap());
    let after = store.get_endpoint(&tenant.id, &id).await.unwrap().unwrap();
    assert!(!after.active && after.disabled_at.is_some(), "{after:?}");
    assert_eq!(after.description, None);

    // The dashboard: a page opened before, saved after, with Active ticked.
    enable().await;
    let owner = format!("{}@example.com", unique("owner"));
    stack.member(&tenant, &owner, Role::Owner).await;
    let d = stack.sign_in(&tenant, &owner).await;
    let page_path = format!("/dashboard/webhooks/{id}");
    let page = d.get(&page_path).await;
    let version = hidden_value(&page.body, "version").expect("the form carries the version");
    disable().await;
    let url = get().await["url"].as_str().unwrap().to_string();
    let saved = d
        .post(
            &page_path,
            &[
                ("action", "save"),
                ("version", version.as_str()),
                ("url", url.as_str()),
                ("eventTypes", "*"),
                ("description", "Fulfilment"),
                ("active", "on"),
            ],
        )
        .await;
    assert_eq!(saved.status, 409, "{}", saved.body);
    assert!(
        saved.body.contains(
            "Not saved: this endpoint changed since you opened the page (it is now disabled"
        ),
        "{}",
        saved.body
    );
    assert!(
        saved.body.contains("Fulfilment"),
        "the typed changes are kept"
    );
    let now = get().await;
    assert_eq!(
        (&now["active"], &now["description"]),
        (&json!(false), &Value::Null)
    );
    // The page now carries the current version and state: saving it keeps the endpoint
    // disabled unless Active is ticked again, knowingly.
    let version_now = hidden_value(&saved.body, "version").unwrap();
    assert_eq!(version_now, now["version"].to_string());
    let saved = d
        .post(
            &page_path,
            &[
                ("action", "save"),
                ("version", version_now.as_str()),
                ("url", url.as_str()),
                ("eventTypes", "*"),
                ("description", "Fulfilment"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let now = get().await;
    assert_eq!(
        (&now["active"], &now["description"]),
        (&json!(false), &json!("Fulfilment"))
    );
}

/// The value of a page's hidden input `name`.
fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("type=\"hidden\" name=\"{name}\" value=\"");
    let i = html.find(&marker)? + marker.len();
    Some(html[i..].split('"').next()?.to_string())
}

#[tokio::test]
async fn concurrent_edits_of_different_fields_all_stay() {
    let stack = Stack::start().await;
    let tenant = stack.tenant("Acme").await;
    for round in 0..3 {
        let endpoint = stack
            .endpoint(&tenant, json!({"url": "https://hooks.example.com/a"}))
            .await;
        let path = format!(
            "/api/webhook-endpoints/{}",
            endpoint["id"].as_str().unwrap()
        );
        let edits = [
            json!({"url": "https://hooks.example.com/b"}),
            json!({"description": "CRM"}),
            json!({"alertEmail": "ops@example.com"}),
            json!({"eventTypes": ["license.created"]}),
            json!({"active": false}),
        ];
        let answers = futures::future::join_all(
            edits
                .iter()
                .map(|body| stack.api(&tenant.token, "PUT", &path, Some(body.clone()))),
        )
        .await;
        // Each applies, or (only one setting `active`, whose state another edit cannot
        // change) none is refused.
        for (status, body) in &answers {
            assert_eq!(*status, 200, "round {round}: {body}");
        }
        let (_, e) = stack.api(&tenant.token, "GET", &path, None).await;
        assert_eq!(
            (
                &e["url"],
                &e["description"],
                &e["alertEmail"],
                &e["eventTypes"],
                &e["active"]
            ),
            (
                &json!("https://hooks.example.com/b"),
                &json!("CRM"),
                &json!("ops@example.com"),
                &json!(["license.created"]),
                &json!(false)
            ),
            "round {round}: every edit stays"
        );
        assert_eq!(e["version"], 5, "one version per edit: {e}");
    }
}

#[tokio::test]
async fn a_device_freed_by_the_merchant_is_recorded_as_theirs_and_its_webhook_says_so() {
    use keyhook_shared::domain::activity::Actor;
    use keyhook_shared::handlers::validate;

    let Shop { stack, tenant, app } = Shop::open().await;
    let product = stack.product(&tenant, json!({"maxDevices": 2})).await;
    let merchant = MerchantEndpoint::start(&stack.services.clock, &[], 200).await;
    stack
        .endpoint(
            &tenant,
            json!({"url": merchant.url, "eventTypes": ["license.activated", "license.deactivated", "license.suspended"]}),
        )
        .await;
    let (event, _) = checkout_event(&product, None);
    stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    let license = stack.licenses(&tenant, "").await[0].clone();
    let (lid, key) = (
        license["id"].as_str().unwrap(),
        license["key"].as_str().unwrap(),
    );
    let activate = json!({"licenseKey": key, "productId": product, "deviceId": "mac-1", "environment": "test"});
    assert_eq!(
        post_json(&stack, "/api/licenses/activate", activate).await["valid"],
        true
    );
    // The dashboard's "Deactivate" (the same core it calls), from the member's address.
    let ip = "203.0.113.9".parse().ok();
    let input = validate::input::deactivation(key, &product, "mac-1").unwrap();
    let verdict = validate::deactivate_device(&stack.services, ip, &input, Actor::Merchant)
        .await
        .unwrap();
    assert_eq!(
        verdict.code,
        keyhook_shared::domain::validation::Code::NotActivated
    );
    let (status, body) = stack
        .api(
            &tenant.token,
            "PATCH",
            &format!("/api/licenses/{lid}"),
            Some(json!({"status": "suspended"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    stack.deliver().await;

    let mut actors: Vec<(String, Value)> = merchant
        .received()
        .iter()
        .map(|r| {
            let p = r.json();
            (
                p["type"].as_str().unwrap().to_string(),
                p["data"]["actor"].clone(),
            )
        })
        .collect();
    actors.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        actors,
        [
            ("license.activated".to_string(), json!("app")),
            ("license.deactivated".to_string(), json!("merchant")),
            ("license.suspended".to_string(), json!("merchant")),
        ]
    );

    // The activity, newest first, with who and from where.
    let (status, activity) = stack
        .api(
            &tenant.token,
            "GET",
            &format!("/api/licenses/{lid}/activity"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{activity}");
    let items = activity["items"].as_array().unwrap();
    let seen: Vec<(&str, &str)> = items
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("status_changed", "merchant"),
            ("device_deactivated", "merchant"),
            ("device_activated", "app"),
            ("issued", "stripe"),
        ]
    );
    assert_eq!(
        (&items[0]["from"], &items[0]["to"]),
        (&json!("active"), &json!("suspended"))
    );
    assert_eq!(items[1]["ip"], "203.0.113.9");
    assert_eq!(items[1]["deviceId"], "mac-1");
    assert!(
        items[3].get("ip").is_none(),
        "Stripe's events have no client address"
    );

    // Another tenant's token: the license does not exist for it.
    let other = stack.tenant("Other").await;
    let (status, body) = stack
        .api(
            &other.token,
            "GET",
            &format!("/api/licenses/{lid}/activity"),
            None,
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found", "{body}");
}
