//! AWS calls per admin request (issue 4), warm, counted by an interceptor on the real SDK
//! clients against the emulator: get, list and update of a product and of a Stripe app.
//! Prints figures; asserts only that each request succeeded.

use keyhook_shared::app::{dispatch, Function};
use keyhook_shared::http::ApiRequest;
use keyhook_tests::calls::{counted_services, CallCounter};
use keyhook_tests::Stack;
use serde_json::{json, Value};

fn request(method: &str, path: &str, token: &str, body: Option<Value>) -> ApiRequest {
    let mut headers = http::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    ApiRequest {
        method: method.parse().unwrap(),
        path: path.split('?').next().unwrap().to_string(),
        query: ApiRequest::parse_query(path.split_once('?').map(|(_, q)| q)),
        headers,
        body: body
            .map(|b| serde_json::to_vec(&b).unwrap())
            .unwrap_or_default()
            .into(),
        source_ip: None,
        request_id: "bench".into(),
    }
}

#[tokio::main]
pub async fn main() {
    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        println!("(AWS_ENDPOINT_URL not set: run `make bench`)");
        return;
    }
    let stack = Stack::start().await;
    let tenant = stack.tenant("Bench").await;
    let app = stack.app(&tenant).await;
    for i in 0..3 {
        stack
            .app_with(
                &tenant,
                json!({"name": format!("extra {i}"), "isDefault": false}),
            )
            .await;
    }
    let product = stack.product(&tenant, json!({})).await;
    for _ in 0..9 {
        stack.product(&tenant, json!({})).await;
    }
    let counter = CallCounter::default();
    let services = counted_services(stack.config(), &stack.sdk, &counter);
    let cases = [
        ("GET", format!("/api/products/{product}"), None),
        ("GET", "/api/products?limit=50".to_string(), None),
        (
            "PUT",
            format!("/api/products/{product}"),
            Some(json!({"trialDays": 7})),
        ),
        ("GET", format!("/api/stripe/apps/{}", app.id), None),
        ("GET", "/api/stripe/apps?limit=50".to_string(), None),
        (
            "PUT",
            format!("/api/stripe/apps/{}", app.id),
            Some(json!({"name": "renamed"})),
        ),
        (
            "PUT",
            format!("/api/stripe/apps/{}", app.id),
            Some(json!({"webhookSigningSecret": "whsec_rolled_secret_1234"})),
        ),
    ];
    println!("== AWS calls per admin request (warm; tenant key cached) ==");
    let mut figures = Vec::new();
    for (method, path, body) in cases {
        // Warm-up: the first request of a tenant unwraps its key (one KMS Decrypt).
        let res = dispatch(
            &services,
            Some(Function::Admin),
            request(method, &path, &tenant.token, body.clone()),
        )
        .await;
        assert!(
            res.status.is_success(),
            "{method} {path}: {}",
            String::from_utf8_lossy(&res.body)
        );
        counter.reset();
        let n = 10;
        for _ in 0..n {
            let res = dispatch(
                &services,
                Some(Function::Admin),
                request(method, &path, &tenant.token, body.clone()),
            )
            .await;
            assert!(res.status.is_success());
        }
        let calls = counter.take();
        let total: usize = calls.values().sum();
        let detail = calls
            .iter()
            .map(|(k, v)| format!("{k}={}", *v as f64 / n as f64))
            .collect::<Vec<_>>()
            .join(", ");
        // Ids replaced segment by segment (a short product id can occur inside an app id).
        let shown: Vec<&str> = path
            .split('/')
            .map(|seg| {
                if seg == product || seg == app.id {
                    "{id}"
                } else {
                    seg
                }
            })
            .collect();
        let label = format!("{method} {}", shown.join("/"));
        let note = body.map(|b| format!(" {b}")).unwrap_or_default();
        println!(
            "  {:<40}{note}: {:.1} calls ({detail})",
            label,
            total as f64 / n as f64
        );
        if method == "GET" {
            figures.push((label, json!(total as f64 / n as f64)));
        }
    }
    // AWS calls per admin GET, by request (issue 17's table takes the largest).
    let figures: Vec<(&str, Value)> = figures
        .iter()
        .map(|(label, v)| (label.as_str(), v.clone()))
        .collect();
    keyhook_tests::figures::record("admin_get_calls", &figures);
}
