//! Which app an event belongs to, and what an unauthenticated request can cost: Connect events
//! only for apps that take them; deleted tenants', deactivated and re-keyed apps stop matching
//! at once, cached candidate list or not; bad signatures force at most one list re-read per
//! interval, however many arrive at once, and nothing else.

use std::time::Duration;

use futures::future::join_all;
use keyhook_shared::http::{dispatch, ApiRequest, Function};
use keyhook_tests::calls::{counted_services, CallCounter};
use keyhook_tests::{checkout_event, unique, Stack, TestApp, TestTenant};
use serde_json::{json, Value};

const WEBHOOK: &str = "/api/stripe/webhook";

async fn post(stack: &Stack, base: &str, path: &str, event: &Value, secret: &str) -> (u16, Value) {
    let (body, header) = keyhook_cli::trigger::sign_event(event, secret);
    let res = stack
        .http
        .post(format!("{base}{path}"))
        .header("stripe-signature", header)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

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
        let (status, receipt) = post(
            &stack,
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
            let (status, body) = post(
                &stack,
                &base,
                &path,
                &checkout_event(product, None).0,
                secret,
            )
            .await;
            assert_eq!(status, 400, "{who} at {path}: {body}");
        }
    }
    let (status, receipt) = post(
        &stack,
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
