//! Bounds that hold whatever a request or an event says: numbers at the edges of their types
//! (signature timestamps, line quantities, period ends) give clean answers or failed events,
//! never a panic (which Stripe would see as a 5xx and retry forever); a license's device list
//! stays far below DynamoDB's item size limit.

use aws_sdk_dynamodb::types::AttributeValue;
use keyhook_shared::domain::license::Device;
use keyhook_tests::stripe::{self as fake, Sale, Shape};
use keyhook_tests::{checkout_event, now, Shop, Stack, World, WEBHOOK};
use serde_json::{json, Value};

#[tokio::test]
async fn signature_timestamps_at_the_ends_of_i64_are_refused_cleanly() {
    let stack = Stack::start().await;
    for t in [i64::MIN, i64::MIN + 1, i64::MAX, -1] {
        let (status, body) = stack
            .post_raw(
                WEBHOOK,
                r#"{"id":"evt_1","object":"event"}"#.into(),
                &format!("t={t},v1={}", "ab".repeat(32)),
            )
            .await;
        assert_eq!(status, 400, "t={t}: {body}");
        assert_eq!(body["error"]["code"], "invalid_signature", "{body}");
    }
}

#[tokio::test]
async fn huge_line_quantities_fail_the_event_and_issue_nothing() {
    let World {
        stripe,
        shop: Shop { stack, tenant, app },
    } = World::open().await;
    let product = stack.product(&tenant, json!({})).await;
    let sale = Sale::one_time(json!({}));
    let session = fake::session(&sale, "paid");
    // Two lines whose quantities would overflow any 32-bit sum, and a negative one.
    let mut lines = Vec::new();
    for q in [json!(u64::MAX), json!(u32::MAX), json!(-3)] {
        let mut line = fake::line_item(1, json!({"product_id": product}));
        line["quantity"] = q;
        lines.push(line);
    }
    stripe
        .line_items(session["id"].as_str().unwrap(), lines)
        .await;
    let event = fake::event("checkout.session.completed", session, Shape::Basil, now());
    let (status, receipt) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["status"], "failed", "{receipt}");
    assert!(
        receipt["error"].as_str().unwrap().contains("at most 98"),
        "{receipt}"
    );
    assert!(stack.licenses(&tenant, "").await.is_empty());
}

#[tokio::test]
async fn a_period_ending_at_the_end_of_time_issues_without_overflow() {
    let World {
        stripe: _stripe,
        shop: Shop { stack, tenant, app },
    } = World::open().await;
    let product = stack.product(&tenant, json!({})).await;
    let sale = Sale::subscription(json!({"productId": product}));
    // 9999-12-31T23:59:59Z: the last second a timestamp can name; plus the grace days.
    let end = 253_402_300_799;
    for shape in Shape::ALL {
        let invoice_id = fake::id("in");
        let invoice = fake::invoice(&sale, &invoice_id, "subscription_create", end, shape, true);
        let event = fake::event("invoice.paid", invoice, shape, now());
        let (status, receipt) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
        assert_eq!(status, 200, "{receipt}");
        assert_eq!(receipt["status"], "verified", "{receipt}");
    }
    for l in stack.licenses(&tenant, "").await {
        assert!(
            l["expiresAt"].as_str().unwrap().starts_with("9999-12-31T"),
            "{l}"
        );
    }
}

#[tokio::test]
async fn even_an_unlimited_license_stops_at_a_thousand_devices() {
    let stack = Stack::start().await;
    let tenant = stack.tenant("Acme").await;
    let app = stack.app(&tenant).await;
    let product = stack.product(&tenant, json!({"maxDevices": 0})).await;
    let (event, _) = checkout_event(&product, None);
    let (_, receipt) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    let id = receipt["licenseIds"][0].as_str().unwrap().to_string();
    let (_, license) = stack
        .api(&tenant.token, "GET", &format!("/api/licenses/{id}"), None)
        .await;
    let key = license["key"].as_str().unwrap();

    // A thousand devices already (activations spread over months, say).
    let devices: Vec<Device> = (0..1000)
        .map(|i| Device {
            device_id: format!("device-{i:04}"),
            device_name: Some(format!("Workstation {i}")),
            activated_at: time::OffsetDateTime::now_utc(),
        })
        .collect();
    stack
        .services
        .store
        .client()
        .update_item()
        .table_name(stack.services.store.table())
        .key("pk", AttributeValue::S(format!("LICENSE#{id}")))
        .key("sk", AttributeValue::S("LICENSE".into()))
        .update_expression("SET devices = :d")
        .expression_attribute_values(":d", serde_dynamo::to_attribute_value(&devices).unwrap())
        .send()
        .await
        .unwrap();

    let activate = |device: &'static str| {
        let body = json!({"licenseKey": key, "productId": product, "deviceId": device, "environment": "test"});
        let stack = &stack;
        async move {
            let res = stack
                .http
                .post(format!("{}/api/licenses/activate", stack.base_url))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            res.json::<Value>().await.unwrap()
        }
    };
    let answer = activate("one-more").await;
    assert_eq!(answer["code"], "DEVICE_LIMIT_REACHED", "{answer}");
    assert!(
        answer["detail"].as_str().unwrap().contains("1000"),
        "{answer}"
    );
    let answer = activate("device-0007").await;
    assert_eq!(
        answer["code"], "VALID",
        "a device already on the list: {answer}"
    );
    let (_, license) = stack
        .api(&tenant.token, "GET", &format!("/api/licenses/{id}"), None)
        .await;
    assert_eq!(license["devices"].as_array().unwrap().len(), 1000);
}
