//! The Stripe webhook, end to end: signed events over HTTP to the real handlers, against the
//! AWS emulator; licenses read back through the admin API, emails as SES recorded them.

use std::collections::HashSet;

use keyhook_shared::Services;
use keyhook_tests::{assert_fields, checkout_event, unique, Shop, Stack, WEBHOOK};
use serde_json::{json, Value};

#[tokio::test]
async fn one_time_purchase_issues_a_key_and_emails_it() {
    let Shop { stack, tenant, app } = Shop::open().await;
    let product = stack.product(&tenant, json!({"name": "Acme Pro"})).await;
    let (event, email) = checkout_event(&product, None);

    let (status, receipt) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["status"], "verified");
    assert_eq!(receipt["appId"], app.id.as_str());
    assert_eq!(receipt["licenseIds"].as_array().unwrap().len(), 1);

    let licenses = stack.licenses(&tenant, "").await;
    assert_eq!(licenses.len(), 1);
    let license = &licenses[0];
    let key = license["key"].as_str().unwrap();
    assert_eq!(key.len(), 29, "XXXXX-XXXXX-XXXXX-XXXXX-XXXXX: {key}");
    assert_fields(
        license,
        &[
            ("/productId", json!(product)),
            ("/status", json!("active")),
            ("/customerEmail", json!(email)),
            ("/customerName", json!("Ada Lovelace")),
            ("/emailStatus", json!("pending")),
            (
                "/source/checkoutSessionId",
                event["data"]["object"]["id"].clone(),
            ),
            ("/source/eventId", event["id"].clone()),
        ],
    );
    assert!(license["expiresAt"]
        .as_str()
        .unwrap()
        .starts_with(&(time::OffsetDateTime::now_utc().year() + 1).to_string()));

    assert_eq!(stack.drain_mail().await, 1);
    let emails = stack.emails_to(&email).await;
    assert_eq!(emails.len(), 1);
    assert!(
        emails[0]["body"].as_str().unwrap().contains(key),
        "the email carries the key"
    );
    assert_eq!(emails[0]["subject"], "Your Acme Pro license key");
    assert!(emails[0]["source"]
        .as_str()
        .unwrap()
        .starts_with("licenses@"));

    let licenses = stack.licenses(&tenant, "").await;
    assert_eq!(licenses[0]["emailStatus"], "sent");
    let (status, entry) = stack
        .event_log(&tenant, event["id"].as_str().unwrap())
        .await;
    assert_eq!(status, 200);
    assert_fields(
        &entry,
        &[
            ("/status", json!("verified")),
            ("/type", json!("checkout.session.completed")),
            ("/apiVersion", json!("2025-03-31.basil")),
            ("/licenseIds", receipt["licenseIds"].clone()),
        ],
    );
}

#[tokio::test]
async fn quantity_three_issues_three_keys_in_one_email() {
    let Shop { stack, tenant, app } = Shop::open().await;
    let product = stack.product(&tenant, json!({})).await;
    let (event, email) = checkout_event(&product, Some(3));

    let (status, _) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!(status, 200);
    let keys: HashSet<String> = stack
        .licenses(&tenant, "")
        .await
        .iter()
        .map(|l| l["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys.len(), 3);
    stack.drain_mail().await;
    let emails = stack.emails_to(&email).await;
    assert_eq!(emails.len(), 1);
    let body = emails[0]["body"].as_str().unwrap();
    for k in &keys {
        assert!(body.contains(k.as_str()));
    }
}

#[tokio::test]
async fn the_same_event_twice_issues_once() {
    let Shop { stack, tenant, app } = Shop::open().await;
    let product = stack.product(&tenant, json!({})).await;
    let (event, email) = checkout_event(&product, Some(2));

    let (s1, first) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    let (s2, second) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(second["duplicate"], true);
    assert_eq!(first["licenseIds"], second["licenseIds"]);
    assert_eq!(stack.licenses(&tenant, "").await.len(), 2);
    stack.drain_mail().await;
    assert_eq!(stack.emails_to(&email).await.len(), 1);
}

#[tokio::test]
async fn ten_concurrent_deliveries_and_a_second_event_for_the_purchase_issue_once() {
    let Shop { stack, tenant, app } = Shop::open().await;
    let product = stack.product(&tenant, json!({})).await;
    let (event, email) = checkout_event(&product, Some(2));
    // Another event (new id) about the same checkout session: the same purchase.
    let mut other = event.clone();
    other["id"] = json!(unique("evt_other"));

    let mut deliveries = Vec::new();
    for i in 0..10 {
        let e = if i == 9 { other.clone() } else { event.clone() };
        let stack = &stack;
        let secret = app.webhook_secret.clone();
        deliveries.push(async move { stack.post_event(WEBHOOK, &e, &secret).await });
    }
    let results = futures::future::join_all(deliveries).await;
    for (status, body) in &results {
        assert_eq!(*status, 200, "{body}");
    }
    let issued: HashSet<&Value> = results.iter().map(|(_, b)| &b["licenseIds"]).collect();
    assert_eq!(issued.len(), 1, "every delivery reports the same licenses");
    assert_eq!(stack.licenses(&tenant, "").await.len(), 2);
    stack.drain_mail().await;
    assert_eq!(stack.emails_to(&email).await.len(), 1, "one email");
    let (_, entry) = stack
        .event_log(&tenant, other["id"].as_str().unwrap())
        .await;
    assert_eq!(entry["status"], "verified");
    assert_eq!(entry["licenseIds"], results[0].1["licenseIds"]);
}

#[tokio::test]
async fn events_that_cannot_issue_are_recorded_failed_and_answered_200() {
    let Shop { stack, tenant, app } = Shop::open().await;
    let product = stack.product(&tenant, json!({})).await;

    // (No metadata at all sends Keyhook to the products' Lukittu metadata through Stripe's
    // API: covered against a fake Stripe in stripe_paths.rs.)
    let cases: Vec<(Value, &str)> = vec![
        (json!({"productId": "999999"}), "does not exist"),
        (json!({"productId": product, "quantity": "0"}), "quantity"),
        (json!({"productId": product, "quantity": "2.5"}), "quantity"),
        (
            json!({"productId": product, "planId": "pln_nope"}),
            "plan pln_nope",
        ),
    ];
    for (metadata, reason) in cases {
        let (mut event, _) = checkout_event(&product, None);
        event["data"]["object"]["metadata"] = metadata.clone();
        let (status, receipt) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
        assert_eq!(status, 200, "{metadata}: {receipt}");
        assert_eq!(receipt["status"], "failed");
        let (_, entry) = stack
            .event_log(&tenant, event["id"].as_str().unwrap())
            .await;
        assert_eq!(entry["status"], "failed");
        let error = entry["error"].as_str().unwrap();
        assert!(error.contains(reason), "{metadata}: {error}");
    }
    assert!(stack.licenses(&tenant, "").await.is_empty());

    // A product of another tenant is unknown to this one.
    let other = stack.tenant("Other").await;
    let foreign = stack.product(&other, json!({})).await;
    let (event, _) = checkout_event(&foreign, None);
    let (_, receipt) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!(receipt["status"], "failed");
    assert!(stack.licenses(&other, "").await.is_empty());
}

#[tokio::test]
async fn livemode_must_match_the_app() {
    let Shop { stack, tenant, app } = Shop::open().await;
    let product = stack.product(&tenant, json!({})).await;
    let (mut event, _) = checkout_event(&product, None);
    event["livemode"] = json!(true);
    // Live events are matched among live apps only, and this one is a test app.
    let (status, body) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "no_app_matched_signature");
    // Sent to the app's own URL it is matched, and refused for its mode.
    let (status, receipt) = stack
        .post_event(
            &format!("{WEBHOOK}/{}", app.id),
            &event,
            &app.webhook_secret,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(receipt["status"], "failed");
    assert!(stack.licenses(&tenant, "").await.is_empty());
}

#[tokio::test]
async fn signatures_are_checked_as_stripe_does() {
    let Shop { stack, tenant, app } = Shop::open().await;
    let product = stack.product(&tenant, json!({})).await;
    let (event, _) = checkout_event(&product, None);
    let body = serde_json::to_string(&event).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let sign = |secret: &str, t: i64, b: &str| {
        keyhook_shared::stripe::signature::sign(secret, t, b.as_bytes())
    };

    // Past the 300 s tolerance by a margin: the cases run a few seconds after `now`.
    let cases = [
        (
            sign("whsec_wrong", now, &body),
            body.clone(),
            "no_app_matched_signature",
        ),
        (
            sign(&app.webhook_secret, now, &body),
            body.replace("Ada", "Eve"),
            "no_app_matched_signature",
        ),
        (
            sign(&app.webhook_secret, now - 330, &body),
            body.clone(),
            "invalid_signature",
        ),
        (
            sign(&app.webhook_secret, now + 330, &body),
            body.clone(),
            "invalid_signature",
        ),
        ("t=abc,v1=00".to_string(), body.clone(), "invalid_signature"),
        (format!("t={now}"), body.clone(), "invalid_signature"),
    ];
    for (header, body, code) in cases {
        let (status, res) = stack.post_raw(WEBHOOK, body, &header).await;
        assert_eq!(status, 400, "{header}: {res}");
        assert_eq!(res["error"]["code"], code, "{header}");
    }
    // No header at all.
    let res = stack
        .http
        .post(format!("{}{WEBHOOK}", stack.base_url))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    // Nothing was recorded for any of them.
    let (_, log) = stack
        .api(&tenant.token, "GET", "/api/stripe/events", None)
        .await;
    assert_eq!(log["items"].as_array().unwrap().len(), 0);

    // Several v1 values, one of them right (Stripe during a secret roll): accepted.
    let good = sign(&app.webhook_secret, now, &body);
    let stale = sign("whsec_old", now, &body);
    let header = format!("{stale},{}", good.split(',').nth(1).unwrap());
    let (status, receipt) = stack.post_raw(WEBHOOK, body, &header).await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["status"], "verified");
}

#[tokio::test]
async fn apps_are_found_by_tenant_hint_and_direct_url_only_within_scope() {
    let stack = Stack::start().await;
    let a = stack.tenant("A").await;
    let b = stack.tenant("B").await;
    let app_a = stack.app(&a).await;
    let app_b = stack.app(&b).await;
    let product = stack.product(&a, json!({})).await;

    // Where tenant A's event is sent, whether it is a new event or the one before, and the
    // answer: its status, the app matched and the receipt's status (none when refused).
    let cases = [
        (
            format!("{WEBHOOK}?tenantId={}", a.id),
            true,
            (200, Some(app_a.id.as_str()), Some("verified")),
            "the tenant hint",
        ),
        (
            format!("{WEBHOOK}?teamId={}", a.id),
            true,
            (200, Some(app_a.id.as_str()), Some("verified")),
            "Lukittu's teamId alias",
        ),
        // Narrowed to tenant B or sent to B's app URL, it matches nothing.
        (
            format!("{WEBHOOK}?tenantId={}", b.id),
            true,
            (400, None, None),
            "narrowed to tenant B",
        ),
        (
            format!("{WEBHOOK}/{}", app_b.id),
            false,
            (400, None, None),
            "B's app URL",
        ),
        (
            format!("{WEBHOOK}/{}", app_a.id),
            false,
            (200, Some(app_a.id.as_str()), Some("verified")),
            "A's app URL",
        ),
    ];
    let mut event = Value::Null;
    for (path, new_event, expected, case) in cases {
        if new_event {
            event = checkout_event(&product, None).0;
        }
        let (status, r) = stack.post_event(&path, &event, &app_a.webhook_secret).await;
        assert_eq!(
            (status, r["appId"].as_str(), r["status"].as_str()),
            expected,
            "{case}: {r}"
        );
    }
    assert_eq!(stack.licenses(&a, "").await.len(), 3);
    assert!(stack.licenses(&b, "").await.is_empty());
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let Shop { stack, app, .. } = Shop::open().await;
    let (mut event, _) = checkout_event("1", None);
    event["data"]["object"]["padding"] = json!("x".repeat(300 * 1024));
    let (status, body) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "payload_too_large");
}

/// Services whose KMS (or SQS) client points at a closed port: an outage. (The endpoint is
/// set on the service's own config: the AWS_ENDPOINT_URL variable outranks `SdkConfig`'s.)
fn services_with_dead(stack: &Stack, dead: &str) -> Services {
    const DEAD: &str = "http://127.0.0.1:9";
    let kms = match dead {
        "kms" => aws_sdk_kms::Client::from_conf(
            aws_sdk_kms::config::Builder::from(&stack.sdk)
                .endpoint_url(DEAD)
                .build(),
        ),
        _ => aws_sdk_kms::Client::new(&stack.sdk),
    };
    let sqs = match dead {
        "sqs" => aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&stack.sdk)
                .endpoint_url(DEAD)
                .build(),
        ),
        _ => aws_sdk_sqs::Client::new(&stack.sdk),
    };
    Services::with_clients(
        stack.config(),
        stack.services.store.clone(),
        kms,
        sqs,
        aws_sdk_sesv2::Client::new(&stack.sdk),
    )
}

#[tokio::test]
async fn kms_unavailable_answers_5xx_writes_nothing_and_the_retry_issues_once() {
    let Shop { stack, tenant, app } = Shop::open().await;
    let product = stack.product(&tenant, json!({})).await;
    let (event, email) = checkout_event(&product, Some(2));

    let broken = stack.serve_with(services_with_dead(&stack, "kms")).await;
    let (status, err) = stack
        .post_event_to(&broken, WEBHOOK, &event, &app.webhook_secret)
        .await;
    assert_eq!(status, 503, "Stripe must retry");
    assert_eq!(err["error"]["code"], "upstream_unavailable");
    assert!(stack.licenses(&tenant, "").await.is_empty());
    assert_eq!(stack.queued_mail().await, 0);

    // Stripe's retry, with KMS back.
    let (status, r) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!((status, r["status"].as_str()), (200, Some("verified")));
    assert_eq!(stack.licenses(&tenant, "").await.len(), 2);
    stack.drain_mail().await;
    assert_eq!(stack.emails_to(&email).await.len(), 1);
}

#[tokio::test]
async fn queue_unavailable_answers_5xx_and_the_retry_enqueues_without_reissuing() {
    let Shop { stack, tenant, app } = Shop::open().await;
    let product = stack.product(&tenant, json!({})).await;
    let (event, email) = checkout_event(&product, Some(2));

    let broken = stack.serve_with(services_with_dead(&stack, "sqs")).await;
    let (status, _) = stack
        .post_event_to(&broken, WEBHOOK, &event, &app.webhook_secret)
        .await;
    assert_eq!(status, 503);
    let issued = stack.licenses(&tenant, "").await;
    assert_eq!(issued.len(), 2, "the licenses are committed");
    assert_eq!(stack.queued_mail().await, 0);

    let (status, r) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!(status, 200);
    assert_eq!(r["duplicate"], true);
    let again = stack.licenses(&tenant, "").await;
    assert_eq!(again.len(), 2, "the retry issued nothing new");
    assert_eq!(stack.drain_mail().await, 1, "the retry enqueued the email");
    assert_eq!(stack.emails_to(&email).await.len(), 1);
}

#[tokio::test]
async fn products_without_auto_email_issue_without_sending() {
    let Shop { stack, tenant, app } = Shop::open().await;
    let product = stack.product(&tenant, json!({"autoEmail": false})).await;
    let (event, email) = checkout_event(&product, None);
    let (status, _) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!(status, 200);
    let licenses = stack.licenses(&tenant, "").await;
    assert_eq!(licenses[0]["emailStatus"], "disabled");
    assert_eq!(stack.queued_mail().await, 0);
    assert!(stack.emails_to(&email).await.is_empty());
}

#[tokio::test]
async fn the_buyer_email_falls_back_to_customer_email_and_plans_set_the_duration() {
    let Shop { stack, tenant, app } = Shop::open().await;
    let product = stack
        .product(&tenant, json!({"defaultLicenseDays": 365}))
        .await;
    let (status, plan) = stack
        .api(
            &tenant.token,
            "POST",
            "/api/plans",
            Some(json!({"productId": product, "name": "Monthly", "days": 30})),
        )
        .await;
    assert_eq!(status, 201, "{plan}");

    let (mut event, _) = checkout_event(&product, None);
    let prefill = format!("{}@example.com", unique("prefill"));
    let session = &mut event["data"]["object"];
    session["customer_details"]["email"] = Value::Null;
    session["customer_email"] = json!(prefill);
    session["metadata"]["planId"] = plan["id"].clone();
    let (status, _) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!(status, 200);
    let license = &stack.licenses(&tenant, "").await[0];
    assert_eq!(license["customerEmail"], prefill.as_str());
    let expires = time::OffsetDateTime::parse(
        license["expiresAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let days = (expires - time::OffsetDateTime::now_utc()).whole_days();
    assert!((29..=30).contains(&days), "plan's 30 days, got {days}");
    stack.drain_mail().await;
    assert_eq!(stack.emails_to(&prefill).await.len(), 1);
}

#[tokio::test]
async fn the_shared_url_matches_new_apps_and_rolled_secrets_with_its_cache_warm() {
    let stack = Stack::start().await;
    let a = stack.tenant("A").await;
    let first = stack.app(&a).await;
    let product = stack.product(&a, json!({})).await;
    let (event, _) = checkout_event(&product, None);
    let (status, _) = stack
        .post_event(WEBHOOK, &event, &first.webhook_secret)
        .await;
    assert_eq!(status, 200, "the candidate list is now cached");

    // A new tenant's app, a moment later: matched once the list is re-read after the miss.
    let b = stack.tenant("B").await;
    let second = stack.app(&b).await;
    let theirs = stack.product(&b, json!({})).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (event, _) = checkout_event(&theirs, None);
    let (status, receipt) = stack
        .post_event(WEBHOOK, &event, &second.webhook_secret)
        .await;
    assert_eq!(
        (status, receipt["appId"].as_str()),
        (200, Some(second.id.as_str()))
    );

    // A rolled secret: the new one verifies, and so does the previous one.
    let rolled = format!("whsec_{}", unique("rolled").replace('-', ""));
    let (status, _) = stack
        .api(&a.token, "PUT", &format!("/api/stripe/apps/{}", first.id),
            Some(json!({"webhookSigningSecret": rolled, "previousWebhookSigningSecret": first.webhook_secret})))
        .await;
    assert_eq!(status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    for secret in [&rolled, &first.webhook_secret] {
        let (event, _) = checkout_event(&product, None);
        let (status, receipt) = stack.post_event(WEBHOOK, &event, secret).await;
        assert_eq!(
            (status, receipt["appId"].as_str()),
            (200, Some(first.id.as_str()))
        );
    }
}

/// Issue 17: a warm purchase webhook is the matched app's re-read, one transaction (purchase,
/// licenses and the event's log entry, recorded there) and one enqueue; the entry is complete
/// (listed, typed, timed) and a redelivery is still answered as a duplicate.
#[tokio::test]
async fn a_warm_purchase_is_two_dynamodb_calls_and_one_enqueue() {
    use keyhook_tests::calls::{counted_services, CallCounter};
    let Shop { stack, tenant, app } = Shop::open().await;
    let product = stack.product(&tenant, json!({})).await;
    let counter = CallCounter::default();
    let base = stack
        .serve_with(counted_services(stack.config(), &stack.sdk, &counter))
        .await;
    // Warm-up: the candidate apps, the tenant key, the product.
    let (status, _) = stack
        .post_event_to(
            &base,
            WEBHOOK,
            &checkout_event(&product, Some(1)).0,
            &app.webhook_secret,
        )
        .await;
    assert_eq!(status, 200);

    counter.reset();
    let (event, _) = checkout_event(&product, Some(2));
    let (status, receipt) = stack
        .post_event_to(&base, WEBHOOK, &event, &app.webhook_secret)
        .await;
    assert_eq!(
        (status, receipt["status"].as_str()),
        (200, Some("verified")),
        "{receipt}"
    );
    assert_eq!(
        counter.take(),
        std::collections::BTreeMap::from([
            ("DynamoDB.GetItem".to_string(), 1),
            ("DynamoDB.TransactWriteItems".to_string(), 1),
            ("SQS.SendMessage".to_string(), 1),
        ])
    );
    let event_id = event["id"].as_str().unwrap();
    let (_, entry) = stack.event_log(&tenant, event_id).await;
    assert_fields(
        &entry,
        &[
            ("/status", json!("verified")),
            ("/type", json!("checkout.session.completed")),
            ("/source", json!("webhook")),
            ("/licenseIds", receipt["licenseIds"].clone()),
        ],
    );
    assert!(entry["receivedAt"].is_string(), "{entry}");
    let (_, listed) = stack
        .api(&tenant.token, "GET", "/api/stripe/events?limit=10", None)
        .await;
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["eventId"] == event_id),
        "{listed}"
    );

    let (status, again) = stack
        .post_event_to(&base, WEBHOOK, &event, &app.webhook_secret)
        .await;
    assert_eq!(status, 200);
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["licenseIds"], receipt["licenseIds"]);
    assert_eq!(stack.licenses(&tenant, "").await.len(), 3);
}

/// The purchase webhook's product cache: a product archived through this process is refused at
/// once; through another, within the cache's lifetime (a short one here; 10 s by default).
#[tokio::test]
async fn a_product_changed_elsewhere_reaches_purchases_within_the_cache_bound() {
    let Shop { stack, tenant, app } = Shop::open().await;
    let product = stack.product(&tenant, json!({})).await;
    let bound = std::time::Duration::from_secs(2);
    let mut config = stack.config();
    config.product_cache_ttl = bound;
    let other = stack.serve_with(Services::new(config, &stack.sdk)).await;
    let (status, r) = stack
        .post_event_to(
            &other,
            WEBHOOK,
            &checkout_event(&product, None).0,
            &app.webhook_secret,
        )
        .await;
    assert_eq!((status, r["status"].as_str()), (200, Some("verified")));

    let (status, _) = stack
        .api(
            &tenant.token,
            "PUT",
            &format!("/api/products/{product}"),
            Some(json!({"archived": true})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, r) = stack
        .post_event(
            WEBHOOK,
            &checkout_event(&product, None).0,
            &app.webhook_secret,
        )
        .await;
    assert_eq!(
        r["status"], "failed",
        "at once through the process that changed it"
    );
    tokio::time::sleep(bound + std::time::Duration::from_millis(200)).await;
    let (event, _) = checkout_event(&product, None);
    let (status, r) = stack
        .post_event_to(&other, WEBHOOK, &event, &app.webhook_secret)
        .await;
    assert_eq!((status, r["status"].as_str()), (200, Some("failed")), "{r}");
    let (_, entry) = stack
        .event_log(&tenant, event["id"].as_str().unwrap())
        .await;
    assert!(
        entry["error"].as_str().unwrap().contains("archived"),
        "{entry}"
    );
}
