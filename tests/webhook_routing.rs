//! Which app an event belongs to, and what an unauthenticated request can cost: Connect events
//! only for apps that take them; deleted tenants', deactivated and re-keyed apps stop matching
//! at once, cached candidate list or not; bad signatures force at most one list re-read per
//! interval, however many arrive at once, and nothing else; the shared URLs refuse a sender
//! that is not Stripe (by API Gateway's source address), a body larger than Stripe's events and
//! a malformed or stale signature before reading anything, while an app's own URL answers any
//! address.

use std::time::Duration;

use futures::future::join_all;
use keyhook_shared::app::{dispatch, Function};
use keyhook_shared::http::ApiRequest;
use keyhook_tests::calls::{counted_services, CallCounter};
use keyhook_tests::{checkout_event, unique, Stack, TestApp, TestTenant, WEBHOOK};
use serde_json::{json, Value};

/// A checkout event for `product` about connected account `account`.
fn connect_event(product: &str, account: &str) -> Value {
    let (mut event, _) = checkout_event(product, None);
    event["account"] = json!(account);
    event
}

#[tokio::test]
async fn connect_events_are_refused_unless_the_app_takes_them() {
    let stack = Stack::start().await;
    let tenant = stack.tenant("Platform").await;
    let app = stack.app(&tenant).await;
    let product = stack.product(&tenant, json!({})).await;

    let (status, receipt) = stack
        .post_event(
            WEBHOOK,
            &connect_event(&product, "acct_1Other"),
            &app.webhook_secret,
        )
        .await;
    assert_eq!(status, 200, "answered 200: retrying cannot help: {receipt}");
    assert_eq!(receipt["status"], "failed", "{receipt}");
    assert!(
        receipt["error"]
            .as_str()
            .unwrap()
            .contains("does not accept Connect events"),
        "{receipt}"
    );
    assert!(stack.licenses(&tenant, "").await.is_empty());

    let path = format!("/api/stripe/apps/{}", app.id);
    let (status, body) = stack
        .api(
            &tenant.token,
            "PUT",
            &path,
            Some(json!({"connect": {"enabled": true, "accountIds": ["not-an-account"]}})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("connect.accountIds[0]")),
        "{body}"
    );
    let (status, body) = stack
        .api(
            &tenant.token,
            "PUT",
            &path,
            Some(json!({"connect": {"enabled": true, "accountIds": ["acct_1Mine"]}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["connect"]["accountIds"], json!(["acct_1Mine"]));

    let (_, receipt) = stack
        .post_event(
            WEBHOOK,
            &connect_event(&product, "acct_1Other"),
            &app.webhook_secret,
        )
        .await;
    assert_eq!(receipt["status"], "failed", "another account: {receipt}");
    let (_, receipt) = stack
        .post_event(
            WEBHOOK,
            &connect_event(&product, "acct_1Mine"),
            &app.webhook_secret,
        )
        .await;
    assert_eq!(receipt["status"], "verified", "{receipt}");
    assert_eq!(stack.licenses(&tenant, "").await.len(), 1);
    // Events of the platform itself (no `account`) are unaffected.
    let (event, _) = checkout_event(&product, None);
    let (_, receipt) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!(receipt["status"], "verified", "{receipt}");
}

/// A tenant with an app and a product.
async fn seller(stack: &Stack, name: &str) -> (TestTenant, TestApp, String) {
    let tenant = stack.tenant(name).await;
    let app = stack.app(&tenant).await;
    let product = stack.product(&tenant, json!({})).await;
    (tenant, app, product)
}

#[tokio::test]
async fn deleted_tenants_and_deactivated_or_rekeyed_apps_stop_matching_at_once() {
    let stack = Stack::start().await;
    let base = stack.base_url.clone();
    let (a, a_app, a_product) = seller(&stack, "A").await;
    let (b, b_app, b_product) = seller(&stack, "B").await;
    let (c, c_app, c_product) = seller(&stack, "C").await;
    // Every app matches on the shared URL, whose candidate list is now cached.
    for (app, product) in [
        (&a_app, &a_product),
        (&b_app, &b_product),
        (&c_app, &c_product),
    ] {
        let (status, receipt) = stack
            .post_event_to(
                &base,
                WEBHOOK,
                &checkout_event(product, None).0,
                &app.webhook_secret,
            )
            .await;
        assert_eq!(
            (status, receipt["appId"].as_str()),
            (200, Some(app.id.as_str()))
        );
    }

    // B's tenant is deleted; C's app deactivated; A's signing secret replaced (no roll).
    stack.services.store.delete_tenant(&b.id).await.unwrap();
    let (status, _) = stack
        .api(
            &c.token,
            "PUT",
            &format!("/api/stripe/apps/{}", c_app.id),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(status, 200);
    let new_secret = format!("whsec_{}", unique("new").replace('-', ""));
    let (status, _) = stack
        .api(
            &a.token,
            "PUT",
            &format!("/api/stripe/apps/{}", a_app.id),
            Some(json!({"webhookSigningSecret": new_secret})),
        )
        .await;
    assert_eq!(status, 200);

    // At once, on their own URLs and on the shared one (the cached list is only a hint).
    for (who, app, product, secret) in [
        ("deleted tenant", &b_app, &b_product, &b_app.webhook_secret),
        ("deactivated app", &c_app, &c_product, &c_app.webhook_secret),
        ("replaced secret", &a_app, &a_product, &a_app.webhook_secret),
    ] {
        for path in [WEBHOOK.to_string(), format!("{WEBHOOK}/{}", app.id)] {
            let (status, body) = stack
                .post_event_to(&base, &path, &checkout_event(product, None).0, secret)
                .await;
            assert_eq!(status, 400, "{who} at {path}: {body}");
        }
    }
    let (status, receipt) = stack
        .post_event_to(
            &base,
            WEBHOOK,
            &checkout_event(&a_product, None).0,
            &new_secret,
        )
        .await;
    assert_eq!(
        (status, receipt["appId"].as_str()),
        (200, Some(a_app.id.as_str()))
    );
    assert!(stack.licenses(&a, "").await.len() == 2);
    let (status, _) = stack.api(&b.token, "GET", "/api/licenses", None).await;
    assert_eq!(status, 401, "B's tokens are gone too");
}

fn request(body: Vec<u8>, header: String) -> ApiRequest {
    let mut headers = http::HeaderMap::new();
    headers.insert("stripe-signature", header.parse().unwrap());
    ApiRequest {
        method: http::Method::POST,
        path: WEBHOOK.into(),
        query: vec![],
        headers,
        body: body.into(),
        source_ip: None,
        request_id: "test".into(),
    }
}

#[tokio::test]
async fn bad_signatures_force_at_most_one_list_read_per_interval() {
    let stack = Stack::start().await;
    let (tenant, app, product) = seller(&stack, "A").await;
    let counter = CallCounter::default();
    let services = counted_services(stack.config(), &stack.sdk, &counter);
    let good = |event: &Value| {
        let (body, header) = keyhook_cli::trigger::sign_event(event, &app.webhook_secret);
        request(body.into_bytes(), header)
    };
    let res = dispatch(
        &services,
        Some(Function::Webhook),
        good(&checkout_event(&product, None).0),
    )
    .await;
    assert_eq!(res.status.as_u16(), 200, "the list is read and cached");
    // Past the re-read interval: the next miss may re-read once.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    counter.reset();

    let bad = |i: usize| {
        let (body, header) =
            keyhook_cli::trigger::sign_event(&checkout_event(&product, None).0, "whsec_wrong");
        let _ = i;
        request(body.into_bytes(), header)
    };
    let answers =
        join_all((0..40).map(|i| dispatch(&services, Some(Function::Webhook), bad(i)))).await;
    for a in &answers {
        assert_eq!(a.status.as_u16(), 400);
    }
    // And a stream of them right after, on the shared URL and narrowed to the tenant.
    for i in 0..40 {
        let mut req = bad(i);
        if i % 2 == 1 {
            req.query = vec![("tenantId".into(), tenant.id.clone())];
        }
        let a = dispatch(&services, Some(Function::Webhook), req).await;
        assert_eq!(a.status.as_u16(), 400);
    }
    let calls = counter.snapshot();
    let queries = calls.get("DynamoDB.Query").copied().unwrap_or(0);
    assert!(
        queries <= 1,
        "80 bad signatures, {queries} list reads (at most one per interval): {calls:?}"
    );
    assert_eq!(
        counter.service_total("DynamoDB"),
        queries,
        "nothing else is read or written for a bad signature: {calls:?}"
    );
}

/// A request to `path` from `source_ip`, with `body` signed by `secret` (now).
fn request_from(path: &str, source_ip: Option<&str>, body: Vec<u8>, secret: &str) -> ApiRequest {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let header = keyhook_shared::stripe::signature::sign(secret, now, &body);
    let mut req = request(body, header);
    req.path = path.into();
    req.source_ip = source_ip.map(|ip| ip.parse().unwrap());
    req
}

/// Services counting their AWS calls, with the shared URLs' address check as deployed.
fn deployed_services(stack: &Stack, counter: &CallCounter) -> keyhook_shared::Services {
    let mut config = stack.config();
    config.stripe_source_ips = keyhook_shared::config::StripeSourceIps::Stripe;
    counted_services(config, &stack.sdk, counter)
}

fn error_code(res: &keyhook_shared::http::ApiResponse) -> Value {
    serde_json::from_slice::<Value>(&res.body).unwrap()["error"]["code"].clone()
}

#[tokio::test]
async fn the_shared_urls_answer_only_stripes_addresses_and_read_nothing_for_others() {
    let stack = Stack::start().await;
    let (_tenant, app, product) = seller(&stack, "A").await;
    let counter = CallCounter::default();
    let services = deployed_services(&stack, &counter);
    let stripe = keyhook_shared::stripe::source_ips::addresses()[0].to_string();
    let event = || serde_json::to_vec(&checkout_event(&product, None).0).unwrap();
    let lukittu = "/api/v1/integrations/stripe";

    // Not from Stripe: refused before anything is read or any signature is tried, whether
    // the signature is an app's (a replayed event), a stranger's, or the address is unknown.
    for (path, ip, secret) in [
        (WEBHOOK, Some("198.51.100.7"), app.webhook_secret.as_str()),
        (WEBHOOK, Some("198.51.100.7"), "whsec_nobody_has_this_one"),
        (lukittu, Some("198.51.100.7"), app.webhook_secret.as_str()),
        (WEBHOOK, Some("10.0.0.5"), app.webhook_secret.as_str()),
        (WEBHOOK, None, app.webhook_secret.as_str()),
    ] {
        let res = dispatch(
            &services,
            Some(Function::Webhook),
            request_from(path, ip, event(), secret),
        )
        .await;
        assert_eq!(
            (res.status.as_u16(), error_code(&res)),
            (403, json!("not_from_stripe")),
            "{path} from {ip:?}: {}",
            String::from_utf8_lossy(&res.body)
        );
    }
    let calls = counter.take();
    assert!(
        calls.is_empty(),
        "no AWS call for a refused sender: {calls:?}"
    );

    // From Stripe's address: matched and processed, on both shared URLs.
    for path in [WEBHOOK, lukittu] {
        let res = dispatch(
            &services,
            Some(Function::Webhook),
            request_from(path, Some(&stripe), event(), &app.webhook_secret),
        )
        .await;
        let receipt: Value = serde_json::from_slice(&res.body).unwrap();
        assert_eq!(res.status.as_u16(), 200, "{path}: {receipt}");
        assert_eq!(receipt["appId"], app.id.as_str());
    }
    // The app's own URL has one candidate: it answers any address.
    let res = dispatch(
        &services,
        Some(Function::Webhook),
        request_from(
            &format!("{WEBHOOK}/{}", app.id),
            Some("198.51.100.7"),
            event(),
            &app.webhook_secret,
        ),
    )
    .await;
    assert_eq!(
        res.status.as_u16(),
        200,
        "{}",
        String::from_utf8_lossy(&res.body)
    );
}

#[tokio::test]
async fn the_shared_urls_refuse_a_body_larger_than_stripes_events_before_any_read() {
    use keyhook_shared::app::routes::{MAX_BODY_BYTES, SHARED_WEBHOOK_MAX_BODY_BYTES};
    let stack = Stack::start().await;
    let (_tenant, app, product) = seller(&stack, "A").await;
    let counter = CallCounter::default();
    let services = deployed_services(&stack, &counter);
    let stripe = keyhook_shared::stripe::source_ips::addresses()[0].to_string();
    // A real event, signed by the app, padded past the shared URLs' limit.
    let (mut event, _) = checkout_event(&product, None);
    event["data"]["object"]["metadata"]["padding"] =
        json!("x".repeat(SHARED_WEBHOOK_MAX_BODY_BYTES));
    let body = serde_json::to_vec(&event).unwrap();
    assert!(body.len() > SHARED_WEBHOOK_MAX_BODY_BYTES && body.len() < MAX_BODY_BYTES);

    for path in [WEBHOOK, "/api/v1/integrations/stripe"] {
        let res = dispatch(
            &services,
            Some(Function::Webhook),
            request_from(path, Some(&stripe), body.clone(), &app.webhook_secret),
        )
        .await;
        assert_eq!(
            (res.status.as_u16(), error_code(&res)),
            (413, json!("payload_too_large")),
            "{path}: {}",
            String::from_utf8_lossy(&res.body)
        );
    }
    let calls = counter.take();
    assert!(
        calls.is_empty(),
        "no AWS call for an oversized body: {calls:?}"
    );
    // The app's own URL takes it (one HMAC, whatever the number of tenants).
    let res = dispatch(
        &services,
        Some(Function::Webhook),
        request_from(
            &format!("{WEBHOOK}/{}", app.id),
            Some(&stripe),
            body,
            &app.webhook_secret,
        ),
    )
    .await;
    assert_eq!(
        res.status.as_u16(),
        200,
        "{}",
        String::from_utf8_lossy(&res.body)
    );
}

#[tokio::test]
async fn a_malformed_or_stale_signature_on_the_shared_url_reads_nothing() {
    let stack = Stack::start().await;
    let (_tenant, app, product) = seller(&stack, "A").await;
    let counter = CallCounter::default();
    let services = deployed_services(&stack, &counter);
    let stripe = keyhook_shared::stripe::source_ips::addresses()[0].to_string();
    let body = serde_json::to_vec(&checkout_event(&product, None).0).unwrap();
    let stale = time::OffsetDateTime::now_utc().unix_timestamp() - 3600;
    for header in [
        None,
        Some("garbage".to_string()),
        Some(format!("t={stale},v1={}", "ab".repeat(32))),
        Some(keyhook_shared::stripe::signature::sign(
            &app.webhook_secret,
            stale,
            &body,
        )),
    ] {
        let mut req = request_from(WEBHOOK, Some(&stripe), body.clone(), &app.webhook_secret);
        match &header {
            Some(h) => {
                req.headers.insert("stripe-signature", h.parse().unwrap());
            }
            None => {
                req.headers.remove("stripe-signature");
            }
        }
        let res = dispatch(&services, Some(Function::Webhook), req).await;
        assert_eq!(
            (res.status.as_u16(), error_code(&res)),
            (400, json!("invalid_signature")),
            "{header:?}"
        );
    }
    let calls = counter.take();
    assert!(
        calls.is_empty(),
        "nothing read before the signature's form and age pass: {calls:?}"
    );
}

/// API Gateway's event as the webhook function receives it: the address checked is
/// `requestContext.http.sourceIp` (set by API Gateway from the connection), never
/// `X-Forwarded-For` (written by the client).
#[tokio::test]
async fn the_address_checked_is_api_gateways_source_ip_not_a_forwarded_header() {
    use keyhook_shared::app::lambda::to_api_request;
    let stack = Stack::start().await;
    let (_tenant, app, product) = seller(&stack, "A").await;
    let counter = CallCounter::default();
    let services = deployed_services(&stack, &counter);
    let stripe = keyhook_shared::stripe::source_ips::addresses()[0].to_string();
    let send = |source_ip: String, forwarded_for: String| {
        let (body, signature) = keyhook_cli::trigger::sign_event(
            &checkout_event(&product, None).0,
            &app.webhook_secret,
        );
        let event = json!({
            "version": "2.0",
            "routeKey": "POST /api/stripe/webhook",
            "rawPath": WEBHOOK,
            "rawQueryString": "",
            "headers": {"content-type": "application/json", "stripe-signature": signature, "x-forwarded-for": forwarded_for},
            "requestContext": {
                "accountId": "123456789012", "apiId": "api", "domainName": "example.com",
                "domainPrefix": "example", "requestId": "req-1", "routeKey": "POST /api/stripe/webhook",
                "stage": "$default", "time": "24/Nov/2026:10:00:00 +0000", "timeEpoch": 1795000000000u64,
                "http": {"method": "POST", "path": WEBHOOK, "protocol": "HTTP/1.1", "sourceIp": source_ip, "userAgent": "Stripe/1.0"}
            },
            "body": body,
            "isBase64Encoded": false
        });
        let req = to_api_request(lambda_http::request::from_str(&event.to_string()).unwrap());
        dispatch(&services, Some(Function::Webhook), req)
    };
    let spoofed = send("198.51.100.7".into(), stripe.clone()).await;
    assert_eq!(
        (spoofed.status.as_u16(), error_code(&spoofed)),
        (403, json!("not_from_stripe"))
    );
    let from_stripe = send(stripe.clone(), "198.51.100.7".into()).await;
    assert_eq!(
        from_stripe.status.as_u16(),
        200,
        "{}",
        String::from_utf8_lossy(&from_stripe.body)
    );
}
