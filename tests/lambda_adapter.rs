//! The Lambda side of HTTP: an API Gateway HTTP API (payload v2) event, as the webhook Lambda
//! receives it (body base64-encoded, as API Gateway sends JSON it treats as binary), goes
//! through the same dispatcher and verifies against the exact bytes Stripe signed.

use base64::Engine;
use keyhook_shared::app::lambda::{to_api_request, to_lambda_response};
use keyhook_shared::app::routes::{serve_function, FunctionRoutes};
use keyhook_shared::app::{dispatch, Function, ROUTES};
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

/// Each Lambda binary serves its rows with its own handler table (`FunctionRoutes`), not the
/// local server's: every row of the route table, sent as its function receives it (with an
/// authorized tenant, an empty JSON body), reaches a handler of that function. A row whose op
/// sits in another function's table would answer 500 `internal`.
#[tokio::test]
async fn every_route_reaches_a_handler_of_its_own_function() {
    let stack = Stack::start().await;
    let tenant = stack.tenant("Acme").await;
    for route in ROUTES {
        let path: String = route
            .path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x1" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let raw = apigw_event(
            route.method.as_str(),
            &path,
            "",
            json!({"authorization": format!("Bearer {}", tenant.token), "content-type": "application/json"}),
            "{}",
            false,
        );
        let req = to_api_request(lambda_http::request::from_str(&raw).unwrap());
        let res = serve_function(&stack.services, FunctionRoutes::of(route.function), req).await;
        let body = String::from_utf8_lossy(&res.body);
        let unrouted =
            res.status.as_u16() == 404 && body.contains(&format!("Route {}", route.method));
        assert!(
            res.status.as_u16() != 500 && !unrouted,
            "{} {} on {:?}: {} {body}",
            route.method,
            route.path,
            route.function,
            res.status
        );
        // The other functions do not serve it.
        for other in [
            Function::Webhook,
            Function::Checkout,
            Function::Validate,
            Function::Admin,
            Function::Docs,
            Function::Pages,
        ] {
            if other != route.function {
                let req = to_api_request(lambda_http::request::from_str(&raw).unwrap());
                let res = serve_function(&stack.services, FunctionRoutes::of(other), req).await;
                assert_eq!(
                    res.status.as_u16(),
                    404,
                    "{} {} on {other:?}",
                    route.method,
                    route.path
                );
            }
        }
    }
}

/// The template's `ANY <path>` routes hand every other method to the function serving the path:
/// it answers them as the local server does.
#[tokio::test]
async fn other_methods_reach_the_function_through_the_any_routes() {
    let stack = Stack::start().await;
    let tenant = stack.tenant("Acme").await;
    let via_any = |method: &str, path: &str, headers: serde_json::Value| {
        let mut event: serde_json::Value =
            serde_json::from_str(&apigw_event(method, path, "", headers, "", false)).unwrap();
        event["routeKey"] = json!(format!("ANY {path}"));
        event["requestContext"]["routeKey"] = json!(format!("ANY {path}"));
        to_api_request(lambda_http::request::from_str(&event.to_string()).unwrap())
    };

    let preflight = via_any(
        "OPTIONS",
        "/api/licenses/validate",
        json!({"origin": "https://app.example.com", "access-control-request-method": "POST"}),
    );
    let res =
        to_lambda_response(dispatch(&stack.services, Some(Function::Validate), preflight).await);
    assert_eq!(res.status().as_u16(), 204);
    assert_eq!(res.headers()["access-control-allow-origin"], "*");

    let auth = json!({"authorization": format!("Bearer {}", tenant.token)});
    let put = via_any("PUT", "/api/products", auth.clone());
    let res = to_lambda_response(dispatch(&stack.services, Some(Function::Admin), put).await);
    assert_eq!(res.status().as_u16(), 405);
    assert!(res.headers()["allow"].to_str().unwrap().contains("GET"));

    let head = via_any("HEAD", "/api/products", auth);
    let res = to_lambda_response(dispatch(&stack.services, Some(Function::Admin), head).await);
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.body().is_empty());
}

/// A Lambda Function URL event (payload 2.0, as Lambda sends it for `AuthType: NONE`).
fn function_url_event(
    path: &str,
    source_ip: &str,
    headers: serde_json::Value,
    body: &str,
) -> String {
    let host = "abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws";
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous", "apiId": "abcdefghijklmnopqrstuvwxyz012345",
            "domainName": host, "domainPrefix": "abcdefghijklmnopqrstuvwxyz012345",
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": source_ip, "userAgent": "AcmeApp/2.3.1"},
            "requestId": "url-req-1", "routeKey": "$default", "stage": "$default",
            "time": "24/Nov/2026:10:00:00 +0000", "timeEpoch": 1795000000000u64
        },
        "body": body,
        "isBase64Encoded": false
    })
    .to_string()
}

#[tokio::test]
async fn a_function_url_event_is_served_and_budgeted_by_its_source_ip() {
    let stack = Stack::start().await;
    let tenant = stack.tenant("Acme").await;
    let product = stack.product(&tenant, json!({"maxDevices": 3})).await;
    let body = json!({
        "licenseKey": "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE", "productId": product, "deviceId": "dev-1"
    })
    .to_string();
    let send = |ip: &str, forwarded_for: &str| {
        let raw = function_url_event(
            "/api/licenses/deactivate",
            ip,
            json!({"content-type": "application/json", "x-forwarded-for": forwarded_for}),
            &body,
        );
        let request = lambda_http::request::from_str(&raw).expect("a Function URL event");
        let api_request = to_api_request(request);
        assert_eq!(api_request.path, "/api/licenses/deactivate");
        assert_eq!(api_request.request_id, "url-req-1");
        assert_eq!(api_request.source_ip, Some(ip.parse().unwrap()));
        dispatch(&stack.services, Some(Function::Validate), api_request)
    };
    // Served from the Function URL's event: 200 (the key is unknown: NOT_FOUND).
    assert_eq!(
        send("203.0.113.7", "198.51.100.1").await.status.as_u16(),
        200
    );
    // The per-IP budget of activation churn is keyed by requestContext.http.sourceIp, which
    // Lambda sets, not by X-Forwarded-For, which the client writes. Spend 203.0.113.7's budget:
    for _ in 0..2 * keyhook_shared::services::ip_budgets::CHURN.burst as usize {
        stack.services.ip_budgets.churn.allow("203.0.113.7");
    }
    let spoofed = send("203.0.113.7", "203.0.113.8").await;
    assert_eq!(
        spoofed.status.as_u16(),
        429,
        "the budget of 203.0.113.7 is spent"
    );
    // Another address still has its own, whatever it claims to forward for.
    assert_eq!(
        send("203.0.113.8", "203.0.113.7").await.status.as_u16(),
        200
    );
    // Other functions' routes are not served on the validate function's URL.
    let raw = function_url_event("/api/products", "203.0.113.9", json!({}), "");
    let res = dispatch(
        &stack.services,
        Some(Function::Validate),
        to_api_request(lambda_http::request::from_str(&raw).unwrap()),
    )
    .await;
    assert_eq!(res.status.as_u16(), 404);
}
