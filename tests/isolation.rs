//! Tenant isolation on every admin route, driven by the route table: tenant B's token, aimed
//! at tenant A's resources by their real ids, can neither read, list, change nor delete them.
//! A new admin route is covered as soon as it exists (and this test fails until its path
//! parameters are given a resource of tenant A below).

use std::collections::HashMap;

use keyhook_shared::app::routes::Op;
use keyhook_shared::app::{Function, ROUTES};
use keyhook_shared::domain::member::Role;
use keyhook_tests::dashboard::client;
use keyhook_tests::{checkout_event, unique, Stack};
use serde_json::{json, Value};

#[tokio::test]
async fn tenant_b_cannot_touch_anything_of_tenant_a_on_any_route() {
    let stack = Stack::start().await;
    let a = stack.tenant("A").await;
    let b = stack.tenant("B").await;
    stack.app(&b).await;

    // Tenant A owns one of everything.
    let app = stack.app(&a).await;
    let product = stack.product(&a, json!({})).await;
    let (_, plan) = stack
        .api(
            &a.token,
            "POST",
            "/api/plans",
            Some(json!({"productId": product, "name": "Annual", "days": 365})),
        )
        .await;
    let (_, mapping) = stack
        .api(
            &a.token,
            "POST",
            "/api/stripe/price-mappings",
            Some(
                json!({"appId": app.id, "productId": product, "stripePriceId": "price_123456789"}),
            ),
        )
        .await;
    let (event, _) = checkout_event(&product, None);
    let (_, receipt) = stack
        .post_event("/api/stripe/webhook", &event, &app.webhook_secret)
        .await;
    let (_, currency) = stack
        .api(
            &a.token,
            "POST",
            "/api/currencies",
            Some(json!({"code": "xts"})),
        )
        .await;
    let (_, token) = stack
        .api(
            &a.token,
            "POST",
            "/api/tokens",
            Some(json!({"name": "second"})),
        )
        .await;
    let (_, key) = stack.api(&a.token, "POST", "/api/tenant-keys", None).await;
    let (_, signing_key) = stack.api(&a.token, "POST", "/api/signing-keys", None).await;
    let endpoint = stack
        .endpoint(&a, json!({"url": "https://a.example.com/hooks"}))
        .await;
    let endpoint_id = endpoint["id"].as_str().unwrap().to_string();
    let (_, delivery) = stack
        .api(
            &a.token,
            "POST",
            &format!("/api/webhook-endpoints/{endpoint_id}/test"),
            None,
        )
        .await;
    let params: HashMap<&str, String> = HashMap::from([
        ("appId", app.id.clone()),
        ("productId", product.clone()),
        ("planId", plan["id"].as_str().unwrap().to_string()),
        ("id", mapping["id"].as_str().unwrap().to_string()),
        (
            "licenseId",
            receipt["licenseIds"][0].as_str().unwrap().to_string(),
        ),
        ("eventId", event["id"].as_str().unwrap().to_string()),
        ("code", currency["code"].as_str().unwrap().to_string()),
        ("tokenId", token["id"].as_str().unwrap().to_string()),
        ("keyId", key["id"].as_str().unwrap().to_string()),
        ("kid", signing_key["kid"].as_str().unwrap().to_string()),
        ("endpointId", endpoint_id.clone()),
        ("deliveryId", delivery["id"].as_str().unwrap().to_string()),
    ]);
    let a_ids: Vec<&String> = params.values().collect();

    // Snapshot of what A can see, to compare after B's attempts.
    let snapshot = |token: String| {
        let stack = &stack;
        let params = &params;
        async move {
            let mut seen = Vec::new();
            for path in [
                format!("/api/stripe/apps/{}", params["appId"]),
                format!("/api/products/{}", params["productId"]),
                format!("/api/plans/{}", params["planId"]),
                format!("/api/stripe/price-mappings/{}", params["id"]),
                format!("/api/licenses/{}", params["licenseId"]),
                format!("/api/stripe/events/{}", params["eventId"]),
                "/api/tokens".to_string(),
                "/api/tenant-keys".to_string(),
                "/api/signing-keys".to_string(),
                "/api/currencies?limit=200".to_string(),
                format!("/api/webhook-endpoints/{}", params["endpointId"]),
                format!("/api/webhook-endpoints/{}/deliveries", params["endpointId"]),
            ] {
                let (status, body) = stack.api(&token, "GET", &path, None).await;
                assert_eq!(status, 200, "{path}");
                seen.push(body);
            }
            seen
        }
    };
    let before = snapshot(a.token.clone()).await;

    let mut exercised = 0;
    // The admin API's routes (the pages function's answer sessions, not tokens: the
    // dashboard's in the test below, the customer portal's in
    // `the_portal_shows_a_buyer_nothing_else`).
    for route in ROUTES.iter().filter(|r| r.function == Function::Admin) {
        if ["/health", "/openapi.json", "/api/tenant"].contains(&route.path) {
            continue;
        }
        let names: Vec<&str> = route
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        let mut path = route.path.to_string();
        for name in &names {
            let id = params.get(name).unwrap_or_else(|| {
                panic!("give {{{name}}} of {} a resource of tenant A", route.path)
            });
            path = path.replace(&format!("{{{name}}}"), id);
        }
        let method = route.method.as_str();
        let body = match method {
            "PUT" | "PATCH" => Some(json!({})),
            "POST" if route.path.ends_with("/payment-link") => Some(json!({})),
            "POST" if names.is_empty() => Some(match route.path {
                "/api/plans" => json!({"productId": product, "name": "x", "days": 1}),
                "/api/stripe/price-mappings" => {
                    json!({"appId": app.id, "productId": product, "stripePriceId": "price_999999"})
                }
                "/api/licenses" => json!({"productId": product}),
                "/api/stripe/apps" => json!({"name": "b's own"}),
                "/api/products" => json!({"name": "b's own"}),
                "/api/currencies" => json!({"code": "xxx"}),
                "/api/tokens" => json!({"name": "b's own"}),
                "/api/webhook-endpoints" => json!({"url": "https://b.example.com/hooks"}),
                _ => json!({}),
            }),
            _ => None,
        };
        let (status, response) = stack.api(&b.token, method, &path, body).await;
        let text = response.to_string();
        if names.is_empty() {
            // Lists and creations: whatever B gets never contains A's resources; creations that
            // name A's resources are refused as if they did not exist.
            // (Error messages may echo the id B itself sent; only successful answers count.)
            for id in a_ids.iter().filter(|_| status < 300) {
                if id.len() > 4 {
                    assert!(
                        !text.contains(id.as_str()),
                        "{method} {path} shows A's {id}: {text}"
                    );
                }
            }
            if method == "POST"
                && ["/api/plans", "/api/stripe/price-mappings", "/api/licenses"]
                    .contains(&route.path)
            {
                // A's product named in B's body: nothing of B's, so `not_found`.
                assert_eq!(status, 404, "{method} {path}: {text}");
            }
        } else {
            assert_eq!(status, 404, "{method} {path} by tenant B: {text}");
            assert_eq!(response["error"]["code"], "not_found");
        }
        exercised += 1;
    }
    assert!(exercised >= 30, "only {exercised} routes exercised");
    // Currency codes are too short for the text check above: look for A's code by name.
    let (_, b_currencies) = stack
        .api(&b.token, "GET", "/api/currencies?limit=200", None)
        .await;
    assert!(b_currencies["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["code"] != "xts"));

    let after = snapshot(a.token.clone()).await;
    assert_eq!(before, after, "tenant A's resources are unchanged");
    // The snapshot had real content (A's own reads work).
    assert_eq!(before[0]["id"], app.id.as_str());
}

#[tokio::test]
async fn guessed_ids_answer_not_found_like_foreign_ones() {
    let stack = Stack::start().await;
    let t = stack.tenant("A").await;
    for path in [
        "/api/products/1",
        "/api/stripe/apps/app_0000000000",
        "/api/licenses/lic_0000",
        "/api/plans/pln_x",
        "/api/stripe/events/evt_x",
    ] {
        let (status, body) = stack.api(&t.token, "GET", path, None).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }
    let _ = Value::Null;
}

/// The dashboard is isolated exactly like the API: tenant B's owner, signed in, aimed at tenant
/// A's resources by their real ids on every dashboard route, gets "not found" pages, sees none
/// of A's ids in B's own pages, and changes nothing of A's.
#[tokio::test]
async fn tenant_b_sees_and_changes_nothing_of_tenant_a_in_the_dashboard() {
    let stack = Stack::start().await;
    let a = stack.tenant("A").await;
    let b = stack.tenant("B").await;
    let a_owner = format!("{}@example.com", keyhook_tests::unique("a"));
    let b_owner = format!("{}@example.com", keyhook_tests::unique("b"));
    stack.member(&a, &a_owner, Role::Owner).await;
    stack.member(&b, &b_owner, Role::Owner).await;
    stack.app(&b).await;
    let app = stack.app(&a).await;
    let product = stack.product(&a, json!({})).await;
    let (_, plan) = stack
        .api(
            &a.token,
            "POST",
            "/api/plans",
            Some(json!({"productId": product, "name": "Annual", "days": 365})),
        )
        .await;
    let (_, mapping) = stack
        .api(
            &a.token,
            "POST",
            "/api/stripe/price-mappings",
            Some(
                json!({"appId": app.id, "productId": product, "stripePriceId": "price_123456789"}),
            ),
        )
        .await;
    let (event, buyer) = checkout_event(&product, None);
    let (_, receipt) = stack
        .post_event("/api/stripe/webhook", &event, &app.webhook_secret)
        .await;
    let (_, currency) = stack
        .api(
            &a.token,
            "POST",
            "/api/currencies",
            Some(json!({"code": "xts"})),
        )
        .await;
    let (_, token) = stack
        .api(
            &a.token,
            "POST",
            "/api/tokens",
            Some(json!({"name": "second"})),
        )
        .await;
    let (_, key) = stack.api(&a.token, "POST", "/api/tenant-keys", None).await;
    let (_, endpoint) = stack
        .api(
            &a.token,
            "POST",
            "/api/webhook-endpoints",
            Some(json!({"url": "http://127.0.0.1:9/a"})),
        )
        .await;
    let endpoint_id = endpoint["id"].as_str().unwrap().to_string();
    let (_, delivery) = stack
        .api(
            &a.token,
            "POST",
            &format!("/api/webhook-endpoints/{endpoint_id}/test"),
            None,
        )
        .await;
    let (_, signing) = stack.api(&a.token, "POST", "/api/signing-keys", None).await;
    let member = stack
        .services
        .store
        .get_member(&a.id, &a_owner)
        .await
        .unwrap()
        .unwrap();
    let params: HashMap<&str, String> = HashMap::from([
        ("appId", app.id.clone()),
        ("productId", product.clone()),
        ("planId", plan["id"].as_str().unwrap().to_string()),
        ("id", mapping["id"].as_str().unwrap().to_string()),
        (
            "licenseId",
            receipt["licenseIds"][0].as_str().unwrap().to_string(),
        ),
        ("eventId", event["id"].as_str().unwrap().to_string()),
        ("code", currency["code"].as_str().unwrap().to_string()),
        ("tokenId", token["id"].as_str().unwrap().to_string()),
        ("keyId", key["id"].as_str().unwrap().to_string()),
        ("memberId", member.id.clone()),
        ("endpointId", endpoint_id.clone()),
        ("deliveryId", delivery["id"].as_str().unwrap().to_string()),
        ("kid", signing["kid"].as_str().unwrap().to_string()),
        ("asset", "dashboard.css".to_string()),
    ]);
    let snapshot = || async {
        let mut seen = Vec::new();
        for path in [
            format!("/api/stripe/apps/{}", params["appId"]),
            format!("/api/products/{}", params["productId"]),
            format!("/api/plans/{}", params["planId"]),
            format!("/api/stripe/price-mappings/{}", params["id"]),
            format!("/api/licenses/{}", params["licenseId"]),
            "/api/tokens".to_string(),
            "/api/tenant-keys".to_string(),
            format!("/api/webhook-endpoints/{}", params["endpointId"]),
            "/api/signing-keys".to_string(),
        ] {
            let (status, body) = stack.api(&a.token, "GET", &path, None).await;
            assert_eq!(status, 200, "{path}");
            seen.push(body);
        }
        seen
    };
    let before = snapshot().await;
    let members_before = stack.services.store.members(&a.id).await.unwrap().len();

    let d = stack.sign_in(&b, &b_owner).await;
    let mut exercised = 0;
    for route in ROUTES.iter().filter(|r| {
        matches!(r.op, Op::Dashboard(p) if !p.is_public()) && r.path.starts_with("/dashboard")
    }) {
        let names: Vec<&str> = route
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        let mut path = route.path.to_string();
        for name in &names {
            let id = params.get(name).unwrap_or_else(|| {
                panic!("give {{{name}}} of {} a resource of tenant A", route.path)
            });
            path = path.replace(&format!("{{{name}}}"), id);
        }
        let page = if route.method == http::Method::GET {
            d.get(&path).await
        } else if names.is_empty() {
            // Creations and forms without ids: B's own, checked for leaks below.
            continue;
        } else {
            let action = if path.contains("/licenses/") {
                "revoke"
            } else if path.contains("/members/") {
                "remove"
            } else {
                "delete"
            };
            d.post(&path, &[("action", action), ("confirm", "yes")])
                .await
        };
        if names.is_empty() {
            assert_eq!(page.status, 200, "{path}: {}", page.body);
            for (name, id) in &params {
                if id.len() > 4 && *name != "asset" {
                    assert!(
                        !page.body.contains(id.as_str()),
                        "{path} shows A's {name} {id}"
                    );
                }
            }
            assert!(!page.body.contains(&buyer), "{path} shows A's buyer");
        } else {
            assert_eq!(
                page.status, 404,
                "{} {path} by tenant B: {}",
                route.method, page.body
            );
        }
        exercised += 1;
    }
    assert!(
        exercised >= 20,
        "only {exercised} dashboard routes exercised"
    );
    assert_eq!(
        before,
        snapshot().await,
        "tenant A's resources are unchanged"
    );
    assert_eq!(
        stack.services.store.members(&a.id).await.unwrap().len(),
        members_before
    );
}

/// Every customer-portal route, driven by the route table: a buyer of tenant B (who also owns
/// a license of tenant A under the same address) signed in to B's portal names A's license:
/// not found; their cookie in A's portal is no session there; and nothing of A's shows.
#[tokio::test]
async fn the_portal_shows_a_buyer_nothing_else() {
    let stack = Stack::start().await;
    let a = stack.tenant("A").await;
    let b = stack.tenant("B").await;
    let buyer = format!("{}@example.com", unique("buyer"));
    let issue = |t: &keyhook_tests::TestTenant, product: String, email: String| {
        let stack = &stack;
        let token = t.token.clone();
        async move {
            let (status, l) = stack
                .api(
                    &token,
                    "POST",
                    "/api/licenses",
                    Some(json!({"productId": product, "customerEmail": email, "sendEmail": false})),
                )
                .await;
            assert_eq!(status, 201, "{l}");
            l["id"].as_str().unwrap().to_string()
        }
    };
    let a_product = stack.product(&a, json!({"name": "A-only product"})).await;
    let b_product = stack.product(&b, json!({})).await;
    let a_license = issue(&a, a_product.clone(), buyer.clone()).await;
    let a_other = issue(&a, a_product, format!("{}@example.com", unique("other"))).await;
    issue(&b, b_product, buyer.clone()).await;
    let p = stack.portal_sign_in(&b.id, &buyer).await;

    let mut exercised = 0;
    for route in ROUTES.iter().filter(|r| {
        matches!(r.op, Op::Dashboard(p) if !p.is_public()) && r.path.starts_with("/portal/")
    }) {
        for (tenant, license) in [(&b.id, &a_license), (&b.id, &a_other), (&a.id, &a_license)] {
            let path = route
                .path
                .replace("{tenantId}", tenant)
                .replace("{licenseId}", license);
            assert!(!path.contains('{'), "give {} its parameters", route.path);
            let suffix = path.trim_start_matches(&format!("/portal/{tenant}"));
            let page = if tenant == &b.id {
                if route.method == http::Method::GET {
                    p.get(suffix).await
                } else if route.path.ends_with("/sign-out") {
                    continue;
                } else {
                    p.post(suffix, &[("action", "resend")]).await
                }
            } else {
                let req = if route.method == http::Method::GET {
                    client().get(format!("{}{path}", stack.base_url))
                } else {
                    client()
                        .post(format!("{}{path}", stack.base_url))
                        .form(&[("csrf", p.csrf.as_str()), ("action", "resend")])
                };
                let res = req.header("cookie", &p.cookie).send().await.unwrap();
                let status = res.status().as_u16();
                keyhook_tests::dashboard::Page {
                    status,
                    location: None,
                    headers: res.headers().clone(),
                    body: res.text().await.unwrap(),
                }
            };
            let expected: &[u16] = if tenant == &b.id && route.path.contains("{licenseId}") {
                &[404]
            } else if tenant == &b.id {
                // (The address change's form, posted without an address: its error.)
                &[200, 422]
            } else {
                // Not signed in to A's portal: the sign-in page (GET), or refused (POST).
                &[303, 401]
            };
            assert!(
                expected.contains(&page.status),
                "{} {path}: {} {}",
                route.method,
                page.status,
                page.body
            );
            assert!(
                !page.body.contains("A-only product"),
                "{path} shows A's product"
            );
            assert!(
                !page.body.contains(license.as_str()) || page.status != 200,
                "{path}"
            );
            exercised += 1;
        }
    }
    assert!(exercised >= 10, "only {exercised} portal routes exercised");
    let (_, l) = stack
        .api(&a.token, "GET", &format!("/api/licenses/{a_license}"), None)
        .await;
    assert_eq!(
        l["emailStatus"], "disabled",
        "no email was sent for A's license: {l}"
    );
}
