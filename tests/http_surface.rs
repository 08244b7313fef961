//! The HTTP surface the API document promises beyond each route's own answer: `405` with
//! `Allow`, `HEAD` where `GET` is, CORS on the public validation routes only, and
//! `Idempotency-Key` on creates (a retried create answers its first result).

use keyhook_tests::Stack;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn a_known_path_with_another_method_is_405_with_allow() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let res = stack
        .http
        .request(Method::PATCH, format!("{}/api/products", stack.base_url))
        .bearer_auth(&t.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 405);
    let allow: Vec<String> = res.headers()["allow"]
        .to_str()
        .unwrap()
        .split(',')
        .map(|m| m.trim().to_string())
        .collect();
    for m in ["GET", "POST", "HEAD", "OPTIONS"] {
        assert!(allow.contains(&m.to_string()), "{allow:?}");
    }
    assert!(!allow.contains(&"PATCH".to_string()), "{allow:?}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");

    // An unknown path stays 404.
    let res = stack
        .http
        .request(
            Method::PATCH,
            format!("{}/api/nothing-here", stack.base_url),
        )
        .bearer_auth(&t.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    stack.product(&t, json!({"name": "Pro"})).await;
    let url = format!("{}/api/products", stack.base_url);
    let get = stack
        .http
        .get(&url)
        .bearer_auth(&t.token)
        .send()
        .await
        .unwrap();
    let head = stack
        .http
        .head(&url)
        .bearer_auth(&t.token)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), get.status());
    assert_eq!(
        head.headers()["content-type"],
        get.headers()["content-type"]
    );
    assert!(head.bytes().await.unwrap().is_empty());
    assert!(!get.bytes().await.unwrap().is_empty());
    // Without a token, HEAD is refused like GET.
    let anonymous = stack.http.head(&url).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
}

#[tokio::test]
async fn the_public_validation_routes_allow_browsers_and_the_admin_routes_do_not() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let preflight = stack
        .http
        .request(
            Method::OPTIONS,
            format!("{}/api/licenses/validate", stack.base_url),
        )
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status().as_u16(), 204);
    let h = preflight.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    assert!(h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    assert!(h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase()
        .contains("content-type"));

    // The answer itself carries the header, whatever it says.
    let answer = stack
        .http
        .post(format!("{}/api/licenses/validate", stack.base_url))
        .header("origin", "https://app.example.com")
        .json(&json!({"licenseKey": "NOPE", "productId": "1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["access-control-allow-origin"], "*");

    // Admin routes are same-origin: no CORS header, even when asked.
    let admin = stack
        .http
        .get(format!("{}/api/products", stack.base_url))
        .header("origin", "https://evil.example.com")
        .bearer_auth(&t.token)
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status().as_u16(), 200);
    assert!(admin.headers().get("access-control-allow-origin").is_none());
    let admin_preflight = stack
        .http
        .request(Method::OPTIONS, format!("{}/api/products", stack.base_url))
        .header("origin", "https://evil.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(admin_preflight
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn a_retried_create_with_its_idempotency_key_answers_the_first_result() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let other = stack.tenant("Other").await;
    let create = |token: String, key: &'static str, body: Value| {
        let req = stack
            .http
            .post(format!("{}/api/products", stack.base_url))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(&body);
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let body = json!({"name": "Pro", "price": "29.00"});
    let (s1, first) = create(t.token.clone(), "order-1", body.clone()).await;
    let (s2, again) = create(t.token.clone(), "order-1", body.clone()).await;
    assert_eq!((s1, s2), (201, 201));
    assert_eq!(
        first["id"], again["id"],
        "the first result, not a second product"
    );

    // The same key for a different request: refused, nothing created.
    let (s3, mismatch) = create(t.token.clone(), "order-1", json!({"name": "Other"})).await;
    assert_eq!(s3, 409, "{mismatch}");
    assert_eq!(mismatch["error"]["code"], "idempotency_key_mismatch");

    // Keys are per tenant: another tenant's "order-1" is its own create.
    let (s4, theirs) = create(other.token.clone(), "order-1", body.clone()).await;
    assert_eq!(s4, 201);
    assert_ne!(theirs["id"], Value::Null);

    let (_, list) = stack.api(&t.token, "GET", "/api/products", None).await;
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["Pro"], "one product for the retried create");
    let (_, list) = stack.api(&other.token, "GET", "/api/products", None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}
