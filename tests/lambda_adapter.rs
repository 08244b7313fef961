//! The Lambda side of HTTP: an API Gateway HTTP API (payload v2) event, as the webhook Lambda
//! receives it (body base64-encoded, as API Gateway sends JSON it treats as binary), goes
//! through the same dispatcher and verifies against the exact bytes Stripe signed.

use base64::Engine;
use keyhook_shared::http::lambda::{to_api_request, to_lambda_response};
use keyhook_shared::http::{dispatch, Function};
use keyhook_tests::{checkout_event, Stack};
use serde_json::json;

fn apigw_event(
    method: &str,
    path: &str,
    query: &str,
    headers: serde_json::Value,
    body: &str,
    base64: bool,
) -> String {
    let body = if base64 {
        base64::engine::general_purpose::STANDARD.encode(body)
    } else {
        body.to_string()
    };
    json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "queryStringParameters": if query.is_empty() { json!(null) } else {
            json!(query.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>())
        },
        "requestContext": {
            "accountId": "123456789012", "apiId": "api", "domainName": "example.com",
            "domainPrefix": "example", "requestId": "req-abc-123", "routeKey": format!("{method} {path}"),
            "stage": "$default", "time": "24/Nov/2026:10:00:00 +0000", "timeEpoch": 1795000000000u64,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "Stripe/1.0"}
        },
        "body": body,
        "isBase64Encoded": base64
    })
    .to_string()
}

#[tokio::test]
async fn a_base64_encoded_webhook_event_verifies_and_issues() {
    let stack = Stack::start().await;
    let tenant = stack.tenant("Acme").await;
    let app = stack.app(&tenant).await;
    let product = stack.product(&tenant, json!({})).await;
    let (event, _) = checkout_event(&product, None);
    let (body, signature) = keyhook_cli::trigger::sign_event(&event, &app.webhook_secret);

    let raw = apigw_event(
        "POST",
        "/api/stripe/webhook",
        &format!("tenantId={}", tenant.id),
        json!({"content-type": "application/json", "stripe-signature": signature}),
        &body,
        true,
    );
    let request = lambda_http::request::from_str(&raw).expect("a valid API Gateway v2 event");
    let api_request = to_api_request(request);
    assert_eq!(api_request.request_id, "req-abc-123");
    assert_eq!(api_request.source_ip, Some("203.0.113.9".parse().unwrap()));
    assert_eq!(
        api_request.query_param("tenantId"),
        Some(tenant.id.as_str())
    );
    assert_eq!(
        api_request.body.as_ref(),
        body.as_bytes(),
        "the exact bytes Stripe signed"
    );

    let response =
        to_lambda_response(dispatch(&stack.services, Some(Function::Webhook), api_request).await);
    assert_eq!(response.status().as_u16(), 200);
    let receipt: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(receipt["status"], "verified");
    assert_eq!(stack.licenses(&tenant, "").await.len(), 1);
}

#[tokio::test]
async fn a_function_serves_only_its_own_routes() {
    let stack = Stack::start().await;
    let tenant = stack.tenant("Acme").await;
    let raw = apigw_event(
        "GET",
        "/api/products",
        "",
        json!({"authorization": format!("Bearer {}", tenant.token)}),
        "",
        false,
    );
    let req = || to_api_request(lambda_http::request::from_str(&raw).unwrap());
    let on_webhook = dispatch(&stack.services, Some(Function::Webhook), req()).await;
    assert_eq!(on_webhook.status.as_u16(), 404);
    let on_admin = dispatch(&stack.services, Some(Function::Admin), req()).await;
    assert_eq!(on_admin.status.as_u16(), 200);
}
