//! The admin API, over HTTP against the emulator: validation, secrets, currencies, licenses,
//! tenant keys, tokens and pagination.

use keyhook_tests::{assert_fields, assert_refused, checkout_event, unique, Shop, Stack, WEBHOOK};
use serde_json::{json, Value};

/// Sends each body of a table to `method path` and checks the refusal it gets: (body, the
/// status, the field named), every refusal with a message.
async fn assert_refusals(
    stack: &Stack,
    token: &str,
    method: &str,
    path: &str,
    cases: &[(Value, u16, &str)],
) {
    for (body, status, field) in cases {
        let (got, err) = stack.api(token, method, path, Some(body.clone())).await;
        assert_eq!(got, *status, "{body}: {err}");
        assert_refused(got, &err, field);
        let message = err["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "{body}: {err}");
    }
}

#[tokio::test]
async fn stripe_apps_keep_secrets_write_only_and_report_status_from_decryption() {
    // Stripe out of reach: the manual path (a key given with its signing secret) never calls
    // it, and an app Stripe was never asked about is never Ready.
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let (status, app) = stack
        .api(
            &t.token,
            "POST",
            "/api/stripe/apps",
            Some(json!({
                "name": "Main", "publishableKey": "pk_test_abcdefgh", "defaultCurrency": "eur"
            })),
        )
        .await;
    assert_eq!(status, 201, "{app}");
    assert_eq!(app["status"], "not_configured");
    assert_eq!(app["hasSecret"], false);
    assert_eq!(
        app["webhookUrl"],
        format!(
            "{}/api/stripe/webhook/{}",
            stack.base_url,
            app["id"].as_str().unwrap()
        )
    );
    let id = app["id"].as_str().unwrap();

    let (_, app) = stack
        .api(
            &t.token,
            "PUT",
            &format!("/api/stripe/apps/{id}"),
            Some(json!({"secretKey": "sk_test_abcdefghijkl", "webhookSigningSecret": "whsec_abcdefghij"})),
        )
        .await;
    assert_eq!(app["hasSecret"], true);
    assert_eq!(app["hasWebhookSigningSecret"], true);
    assert!(!app.to_string().contains("sk_test_abcdefghijkl"));
    assert!(!app.to_string().contains("whsec_abcdefghij"));
    assert_eq!(
        app["status"], "partial",
        "stored secrets are not Ready: {app}"
    );
    let failed: Vec<&str> = app["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["secret_key", "verified_event"], "{app}");
    assert_eq!(app["name"], "Main", "absent fields keep their value");
    let (_, app) = stack
        .api(
            &t.token,
            "PUT",
            &format!("/api/stripe/apps/{id}"),
            Some(json!({"secretKey": ""})),
        )
        .await;
    assert_eq!(app["status"], "not_configured");

    let (_, diag) = stack
        .api(&t.token, "GET", "/api/stripe/diagnostics", None)
        .await;
    assert_eq!(diag["items"][0]["appId"], id);
    assert_eq!(diag["items"][0]["hasWebhookSigningSecret"], true);
    assert_eq!(diag["items"][0]["hasSecret"], false);
    assert_eq!(diag["items"][0]["status"], "not_configured");
}

#[tokio::test]
async fn stripe_app_input_is_validated_field_by_field() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    // Malformed: 422; well formed but at odds with the state (a live key on a test app, a
    // currency Keyhook does not know): 409. Either way the field is named.
    let cases = [
        (
            json!({"name": "x", "secretKey": "pk_test_abcdefgh"}),
            422,
            "secretKey",
        ),
        (
            json!({"name": "x", "isLive": false, "secretKey": "sk_live_abcdefgh"}),
            409,
            "secretKey",
        ),
        (
            json!({"name": "x", "isLive": true, "secretKey": "sk_test_abcdefgh"}),
            409,
            "secretKey",
        ),
        (
            json!({"name": "x", "webhookSigningSecret": "abc"}),
            422,
            "webhookSigningSecret",
        ),
        (
            json!({"name": "x", "publishableKey": "sk_test_abcdefgh"}),
            422,
            "publishableKey",
        ),
        (
            json!({"name": "x", "defaultCurrency": "USD"}),
            422,
            "defaultCurrency",
        ),
        (
            json!({"name": "x", "defaultCurrency": "zzz"}),
            409,
            "defaultCurrency",
        ),
        (json!({"name": ""}), 422, "name"),
        (json!({"name": "x", "colour": "red"}), 422, "colour"),
        (json!({"name": 5}), 422, "name"),
    ];
    assert_refusals(&stack, &t.token, "POST", "/api/stripe/apps", &cases).await;
    // Live keys on a live app, restricted keys: fine.
    let (status, app) = stack
        .api(
            &t.token,
            "POST",
            "/api/stripe/apps",
            Some(json!({"name": "Live", "isLive": true, "secretKey": "rk_live_abcdefghij", "webhookSigningSecret": "whsec_abcdefghij"})),
        )
        .await;
    assert_eq!(status, 201, "{app}");
    let (status, err) = stack
        .api(
            &t.token,
            "POST",
            "/api/stripe/apps",
            Some(json!({"name": "x"})).map(|_| json!("not an object")),
        )
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (422, Some("validation_failed"))
    );
}

#[tokio::test]
async fn one_default_app_per_mode() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let a = stack.app(&t).await;
    let b = stack.app(&t).await;
    let live = stack.app_with(&t, json!({"isLive": true, "secretKey": "sk_live_abcdefghij", "publishableKey": "pk_live_abcdefgh"})).await;
    let get = |id: String| {
        let stack = &stack;
        let token = t.token.clone();
        async move {
            stack
                .api(&token, "GET", &format!("/api/stripe/apps/{id}"), None)
                .await
                .1
        }
    };
    let defaults = |expected: [(&'static str, bool); 3]| {
        let ids = [a.id.clone(), b.id.clone(), live.id.clone()];
        let get = &get;
        async move {
            for (id, (app, default)) in ids.into_iter().zip(expected) {
                assert_eq!(get(id).await["isDefault"], default, "{app}");
            }
        }
    };
    // b took the test default; live has its own.
    defaults([("a", false), ("b", true), ("live", true)]).await;
    stack
        .api(
            &t.token,
            "PUT",
            &format!("/api/stripe/apps/{}", a.id),
            Some(json!({"isDefault": true})),
        )
        .await;
    defaults([("a", true), ("b", false), ("live", true)]).await;
}

#[tokio::test]
async fn products_plans_and_price_mappings() {
    let Shop {
        stack,
        tenant: t,
        app,
    } = Shop::open().await;
    let cases = [
        (json!({"name": "P", "price": "-1"}), 422, "price"),
        (json!({"name": "P", "price": "1.234"}), 422, "price"),
        (
            json!({"name": "P", "defaultLicenseDays": -1}),
            422,
            "defaultLicenseDays",
        ),
        (
            json!({"name": "P", "expirationStart": "later"}),
            422,
            "expirationStart",
        ),
        (
            json!({"name": "P", "emailTemplate": {"subject": "s", "html": "<p>no key</p>", "text": ""}}),
            422,
            "emailTemplate",
        ),
        (json!({"name": "P", "nope": 1}), 422, "nope"),
    ];
    assert_refusals(&stack, &t.token, "POST", "/api/products", &cases).await;
    let product = stack
        .product(
            &t,
            json!({"name": "Pro", "price": "29.9", "maxDevices": 3, "renewalMode": "extend"}),
        )
        .await;
    let (_, p) = stack
        .api(&t.token, "GET", &format!("/api/products/{product}"), None)
        .await;
    assert_eq!(
        (
            p["price"].as_str(),
            p["maxDevices"].as_u64(),
            p["renewalMode"].as_str()
        ),
        (Some("29.9"), Some(3), Some("extend"))
    );
    let (_, p) = stack
        .api(
            &t.token,
            "PUT",
            &format!("/api/products/{product}"),
            Some(json!({"trialDays": 14})),
        )
        .await;
    assert_eq!(
        (p["trialDays"].as_u64(), p["name"].as_str()),
        (Some(14), Some("Pro"))
    );

    let (status, plan) = stack
        .api(
            &t.token,
            "POST",
            "/api/plans",
            Some(json!({"productId": product, "name": "Annual", "days": 365})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, err) = stack
        .api(
            &t.token,
            "POST",
            "/api/plans",
            Some(json!({"productId": "999999", "name": "x", "days": 1})),
        )
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (_, plans) = stack.api(&t.token, "GET", "/api/plans", None).await;
    assert_eq!(plans["items"][0]["id"], plan["id"]);

    let mapping = json!({"appId": app.id, "productId": product, "stripePriceId": "price_1PgafmB7WZ01zgkW6dKueIc5", "displayName": "Monthly", "displayPrice": "9.99"});
    let (status, m1) = stack
        .api(
            &t.token,
            "POST",
            "/api/stripe/price-mappings",
            Some(mapping.clone()),
        )
        .await;
    assert_eq!(status, 201, "{m1}");
    let mut second = mapping.clone();
    second["stripePriceId"] = json!("price_annual000000");
    let (status, _) = stack
        .api(&t.token, "POST", "/api/stripe/price-mappings", Some(second))
        .await;
    assert_eq!(status, 201, "several mappings per product");
    // A malformed field: 422 naming it; an app that does not exist: 404 naming it.
    let with = |patch: Value| {
        let mut body = mapping.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (
            with(json!({"stripePriceId": "prod_123"})),
            422,
            "stripePriceId",
        ),
        (with(json!({"appId": "app_nope"})), 404, "appId"),
        (with(json!({"displayPrice": "x"})), 422, "displayPrice"),
    ];
    assert_refusals(
        &stack,
        &t.token,
        "POST",
        "/api/stripe/price-mappings",
        &cases,
    )
    .await;
    let (_, list) = stack
        .api(
            &t.token,
            "GET",
            &format!("/api/stripe/price-mappings?productId={product}"),
            None,
        )
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let id = m1["id"].as_str().unwrap();
    let (_, m) = stack
        .api(
            &t.token,
            "PUT",
            &format!("/api/stripe/price-mappings/{id}"),
            Some(json!({"displayName": "Monthly Pro"})),
        )
        .await;
    assert_eq!(m["displayName"], "Monthly Pro");
    for (method, status) in [("DELETE", 204), ("GET", 404)] {
        let path = format!("/api/stripe/price-mappings/{id}");
        assert_eq!(
            stack.api(&t.token, method, &path, None).await.0,
            status,
            "{method}"
        );
    }
}

#[tokio::test]
async fn a_product_with_licenses_is_archived_not_deleted() {
    let Shop {
        stack,
        tenant: t,
        app,
    } = Shop::open().await;
    let sold = stack.product(&t, json!({})).await;
    let unsold = stack.product(&t, json!({})).await;
    let (event, _) = checkout_event(&sold, None);
    stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;

    let (status, err) = stack
        .api(&t.token, "DELETE", &format!("/api/products/{sold}"), None)
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("conflict"))
    );
    assert_eq!(
        stack
            .api(&t.token, "DELETE", &format!("/api/products/{unsold}"), None)
            .await
            .0,
        204
    );
    let (_, p) = stack
        .api(
            &t.token,
            "PUT",
            &format!("/api/products/{sold}"),
            Some(json!({"archived": true})),
        )
        .await;
    assert_eq!(p["archived"], true);
    let (event, _) = checkout_event(&sold, None);
    let (_, receipt) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!(
        receipt["status"], "failed",
        "an archived product is not sold"
    );
    assert_eq!(stack.licenses(&t, "").await.len(), 1, "its license stays");
}

#[tokio::test]
async fn currencies_are_seeded_and_managed_per_tenant() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let other = stack.tenant("Other").await;
    let (_, page) = stack
        .api(&t.token, "GET", "/api/currencies?limit=200", None)
        .await;
    let items = page["items"].as_array().unwrap();
    assert!(items.len() > 130, "Stripe's currencies are seeded");
    assert!(
        items.iter().all(|c| c["isActive"] == false),
        "a tenant without apps charges in no currency yet"
    );
    let find = |code: &str| items.iter().find(|c| c["code"] == code).cloned().unwrap();
    assert_eq!(find("jpy")["zeroDecimal"], true);
    assert_eq!(find("krw")["zeroDecimal"], true);
    assert_eq!(find("usd")["zeroDecimal"], false);

    let cases = [
        (json!({"code": "USD"}), 422, "code"),
        (json!({"code": "us"}), 422, "code"),
        (json!({}), 422, "code"),
    ];
    assert_refusals(&stack, &t.token, "POST", "/api/currencies", &cases).await;
    let (status, _) = stack
        .api(
            &t.token,
            "POST",
            "/api/currencies",
            Some(json!({"code": "usd"})),
        )
        .await;
    assert_eq!(status, 409);
    let (status, c) = stack
        .api(
            &t.token,
            "POST",
            "/api/currencies",
            Some(json!({"code": "xts", "zeroDecimal": true})),
        )
        .await;
    assert_eq!(status, 201, "{c}");
    assert_eq!(c["isActive"], true);

    let (status, c) = stack
        .api(
            &t.token,
            "PUT",
            "/api/currencies/eur",
            Some(json!({"isActive": false})),
        )
        .await;
    assert_eq!((status, c["isActive"].as_bool()), (200, Some(false)));
    let (status, err) = stack
        .api(
            &t.token,
            "POST",
            "/api/stripe/apps",
            Some(json!({"name": "x", "defaultCurrency": "eur"})),
        )
        .await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (409, Some("defaultCurrency"))
    );
    let (status, _) = stack
        .api(
            &t.token,
            "POST",
            "/api/stripe/apps",
            Some(json!({"name": "x", "defaultCurrency": "xts"})),
        )
        .await;
    assert_eq!(status, 201);
    // Tenant settings stay with the tenant.
    let (status, _) = stack
        .api(
            &other.token,
            "POST",
            "/api/stripe/apps",
            Some(json!({"name": "x", "defaultCurrency": "eur"})),
        )
        .await;
    assert_eq!(status, 201);
    for (token, expected, why) in [
        (&t.token, "xts", "its app's currency; eur stays deactivated"),
        (
            &other.token,
            "eur",
            "only the other tenant's app's currency",
        ),
    ] {
        let (_, active) = stack
            .api(token, "GET", "/api/currencies?active=true&limit=200", None)
            .await;
        let active: Vec<&str> = active["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["code"].as_str().unwrap())
            .collect();
        assert_eq!(active, [expected], "{why}");
    }
    let (status, _) = stack
        .api(
            &t.token,
            "PUT",
            "/api/currencies/jpy",
            Some(json!({"zeroDecimal": false})),
        )
        .await;
    assert_eq!(
        status, 409,
        "Stripe fixes the minor units of its own currencies"
    );
    // Pagination over currencies.
    let (_, first) = stack
        .api(&t.token, "GET", "/api/currencies?limit=3", None)
        .await;
    let cursor = first["nextCursor"].as_str().unwrap();
    let (_, second) = stack
        .api(
            &t.token,
            "GET",
            &format!("/api/currencies?limit=3&cursor={cursor}"),
            None,
        )
        .await;
    assert!(
        second["items"][0]["code"].as_str().unwrap() > first["items"][2]["code"].as_str().unwrap()
    );
}

#[tokio::test]
async fn licenses_are_issued_by_hand_changed_and_resent() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let product = stack
        .product(&t, json!({"defaultLicenseDays": 30, "maxDevices": 2}))
        .await;
    let email = format!("{}@example.com", unique("manual"));
    let (status, l) = stack
        .api(
            &t.token,
            "POST",
            "/api/licenses",
            Some(json!({"productId": product, "customerEmail": email, "maxDevices": 5})),
        )
        .await;
    assert_eq!(status, 201, "{l}");
    assert_eq!(
        (
            l["maxDevices"].as_u64(),
            l["status"].as_str(),
            l["emailStatus"].as_str()
        ),
        (Some(5), Some("active"), Some("pending"))
    );
    let id = l["id"].as_str().unwrap().to_string();
    stack.drain_mail().await;
    let emails = stack.emails_to(&email).await;
    assert_eq!(emails.len(), 1);
    assert!(emails[0]["body"]
        .as_str()
        .unwrap()
        .contains(l["key"].as_str().unwrap()));

    let path = format!("/api/licenses/{id}");
    let changes = [
        (
            json!({"status": "suspended"}),
            vec![("/status", json!("suspended"))],
        ),
        (
            json!({"status": "active", "expiresAt": "2031-01-01T00:00:00Z", "maxDevices": 1}),
            vec![
                ("/status", json!("active")),
                ("/expiresAt", json!("2031-01-01T00:00:00.000Z")),
                ("/maxDevices", json!(1)),
            ],
        ),
        // Perpetual.
        (
            json!({"expiresAt": null}),
            vec![("/expiresAt", Value::Null)],
        ),
    ];
    for (change, expected) in changes {
        let (_, l) = stack.api(&t.token, "PATCH", &path, Some(change)).await;
        assert_fields(&l, &expected);
    }
    let cases = [
        (json!({"status": "expired"}), 422, "status"),
        (json!({"expiresAt": "tomorrow"}), 422, "expiresAt"),
        (json!({"status": "paused"}), 422, "status"),
        (
            json!({"customerEmail": "not-an-email"}),
            422,
            "customerEmail",
        ),
    ];
    assert_refusals(&stack, &t.token, "PATCH", &path, &cases).await;
    let (status, r) = stack
        .api(&t.token, "POST", &format!("{path}/resend-email"), None)
        .await;
    assert_eq!((status, r["to"].as_str()), (202, Some(email.as_str())));
    stack.drain_mail().await;
    assert_eq!(
        stack.emails_to(&email).await.len(),
        2,
        "the resend sent once more"
    );
    let (_, l) = stack
        .api(&t.token, "PATCH", &path, Some(json!({"status": "revoked"})))
        .await;
    assert_eq!(l["status"], "revoked");
    let (status, _) = stack
        .api(&t.token, "PATCH", &path, Some(json!({"status": "active"})))
        .await;
    assert_eq!(status, 409, "revocation is final");

    let listed = |query: String| {
        let (stack, token) = (&stack, &t.token);
        async move {
            let (_, list) = stack
                .api(token, "GET", &format!("/api/licenses?{query}"), None)
                .await;
            list["items"].as_array().unwrap().len()
        }
    };
    assert_eq!(listed("status=revoked".into()).await, 1);
    assert_eq!(listed(format!("customerEmail={email}")).await, 1);
    assert_eq!(listed("productId=999999".into()).await, 0);
    // Contact details change on any license, a revoked one too, and nothing else changes.
    let (status, l) = stack
        .api(
            &t.token,
            "PATCH",
            &path,
            Some(json!({"customerName": "  Ada Lovelace ", "customerEmail": ""})),
        )
        .await;
    assert_eq!(status, 200, "{l}");
    assert_eq!(
        (
            l["customerName"].as_str(),
            l["customerEmail"].is_null(),
            l["status"].as_str(),
            l["maxDevices"].as_u64()
        ),
        (Some("Ada Lovelace"), true, Some("revoked"), Some(1)),
        "{l}"
    );
    let (_, read) = stack.api(&t.token, "GET", &path, None).await;
    assert_eq!(read, l, "the answer is the license as stored");
    assert_eq!(listed(format!("customerEmail={email}")).await, 0);
}

#[tokio::test]
async fn activating_a_new_tenant_key_reseals_everything_and_nothing_breaks() {
    let Shop {
        stack,
        tenant: t,
        app,
    } = Shop::open().await;
    let product = stack.product(&t, json!({})).await;
    let (event, _) = checkout_event(&product, Some(2));
    stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    let keys_before: Vec<Value> = stack
        .licenses(&t, "")
        .await
        .iter()
        .map(|l| l["key"].clone())
        .collect();

    let (_, keys) = stack.api(&t.token, "GET", "/api/tenant-keys", None).await;
    assert_eq!(keys["items"].as_array().unwrap().len(), 1);
    assert_eq!(keys["items"][0]["active"], true);
    let (status, new_key) = stack.api(&t.token, "POST", "/api/tenant-keys", None).await;
    assert_eq!((status, new_key["active"].as_bool()), (201, Some(false)));
    assert!(!new_key.to_string().contains("wrapped"), "no key material");
    let id = new_key["id"].as_str().unwrap();
    // The first activation reseals the app's secrets and both licenses; it is repeatable.
    for (resealed, why) in [((1, 2), "first"), ((0, 0), "repeatable")] {
        let (status, activation) = stack
            .api(
                &t.token,
                "POST",
                &format!("/api/tenant-keys/{id}/activate"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{activation}");
        assert_eq!(
            (
                activation["resealedApps"].as_u64(),
                activation["resealedLicenses"].as_u64()
            ),
            (Some(resealed.0), Some(resealed.1)),
            "{why}"
        );
    }

    // Everything still opens, and new values use the new key.
    let keys_after: Vec<Value> = stack
        .licenses(&t, "")
        .await
        .iter()
        .map(|l| l["key"].clone())
        .collect();
    assert_eq!(keys_before, keys_after);
    let a = stack.app_view(&t, &app.id).await;
    assert_eq!(
        (
            a["hasSecret"].as_bool(),
            a["hasWebhookSigningSecret"].as_bool()
        ),
        (Some(true), Some(true)),
        "both secrets still open: {a}"
    );
    let (event, _) = checkout_event(&product, None);
    let (status, r) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!(
        (status, r["status"].as_str()),
        (200, Some("verified")),
        "{r}"
    );
    let stored = stack
        .services
        .store
        .get_license(r["licenseIds"][0].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(stored.key_sealed.starts_with(&format!("v1.{id}.")));
    let (_, keys) = stack.api(&t.token, "GET", "/api/tenant-keys", None).await;
    assert_eq!(
        keys["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["active"] == true)
            .count(),
        1
    );
}

#[tokio::test]
async fn tokens_are_shown_once_listed_without_secret_and_revoked_at_once() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let (status, created) = stack
        .api(&t.token, "POST", "/api/tokens", Some(json!({"name": "CI"})))
        .await;
    assert_eq!(status, 201);
    let token = created["token"].as_str().unwrap().to_string();
    assert!(token.starts_with(created["prefix"].as_str().unwrap()));
    let (_, list) = stack.api(&t.token, "GET", "/api/tokens", None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert!(!list.to_string().contains(&token));
    assert_eq!(stack.api(&token, "GET", "/api/tenant", None).await.0, 200);
    let (status, _) = stack
        .api(
            &t.token,
            "DELETE",
            &format!("/api/tokens/{}", created["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, err) = stack.api(&token, "GET", "/api/tenant", None).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    assert_eq!(
        stack
            .api(&t.token, "POST", "/api/tokens", Some(json!({})))
            .await
            .0,
        422
    );
}

/// A token records who created it: the operator's first token and tokens made with it say
/// `operator`; a member's token, and tokens made with it, name the member, who answers for
/// them (at most 50; none once they have left the team).
#[tokio::test]
async fn tokens_record_who_created_them() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let (status, by_operator) = stack
        .api(&t.token, "POST", "/api/tokens", Some(json!({"name": "CI"})))
        .await;
    assert_eq!(status, 201);
    assert_eq!(by_operator["createdBy"], "operator");
    let (_, list) = stack.api(&t.token, "GET", "/api/tokens", None).await;
    assert!(list["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["createdBy"] == "operator" && x.get("handedOverTo").is_none()));

    let email = format!("{}@example.com", unique("admin"));
    stack
        .member(&t, &email, keyhook_shared::domain::member::Role::Admin)
        .await;
    let d = stack.sign_in(&t, &email).await;
    let page = d
        .post("/dashboard/settings/tokens", &[("name", "mine")])
        .await;
    assert_eq!(page.status, 201);
    let i = page.body.find("id=\"new-token\">").unwrap() + "id=\"new-token\">".len();
    let mine = page.body[i..].split('<').next().unwrap().to_string();
    let (status, via_mine) = stack
        .api(
            &mine,
            "POST",
            "/api/tokens",
            Some(json!({"name": "made with mine"})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(via_mine["createdBy"], json!(email), "{via_mine}");
    // A member answers for at most 50 tokens.
    for i in 2..50 {
        let (status, body) = stack
            .api(
                &mine,
                "POST",
                "/api/tokens",
                Some(json!({"name": format!("n{i}")})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, full) = stack
        .api(
            &mine,
            "POST",
            "/api/tokens",
            Some(json!({"name": "one too many"})),
        )
        .await;
    assert_eq!(status, 409, "{full}");
    assert!(full["error"]["message"]
        .as_str()
        .unwrap()
        .contains("already answers for 50 API tokens"));
    // Once the member is gone, their tokens cannot create more on their behalf (a token still
    // cached somewhere keeps its creator, and the write checks the member).
    stack
        .services
        .store
        .delete_member(&t.id, &email)
        .await
        .unwrap();
    let (status, gone) = stack
        .api(
            &mine,
            "POST",
            "/api/tokens",
            Some(json!({"name": "after leaving"})),
        )
        .await;
    assert_eq!(status, 409, "{gone}");
    assert!(gone["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no longer a member"));
}

/// The token check is cached per process (`store::read_cache`): a warm admin GET is one
/// DynamoDB call (the item), and a token revoked through another process stops working here
/// within the cache's lifetime (a short one here; 30 s by default).
#[tokio::test]
async fn a_warm_admin_get_is_one_call_and_a_token_revoked_elsewhere_stops_within_the_bound() {
    use keyhook_tests::calls::{counted_services, CallCounter};
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let product = stack.product(&t, json!({})).await;
    // Another process: its own caches, a 2 s token lifetime, every AWS call counted.
    let bound = std::time::Duration::from_secs(2);
    let mut config = stack.config();
    config.token_cache_ttl = bound;
    let counter = CallCounter::default();
    let other = stack
        .serve_with(counted_services(config, &stack.sdk, &counter))
        .await;
    let get = |base: String, token: String, path: String| {
        let http = stack.http.clone();
        async move {
            http.get(format!("{base}{path}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let path = format!("/api/products/{product}");
    assert_eq!(get(other.clone(), t.token.clone(), path.clone()).await, 200);
    counter.reset();
    assert_eq!(get(other.clone(), t.token.clone(), path.clone()).await, 200);
    assert_eq!(
        counter.snapshot(),
        std::collections::BTreeMap::from([("DynamoDB.GetItem".to_string(), 1)]),
        "a warm GET reads the item only"
    );

    // A second token, used through the other process, then revoked through the first.
    let (_, created) = stack
        .api(&t.token, "POST", "/api/tokens", Some(json!({"name": "CI"})))
        .await;
    let token = created["token"].as_str().unwrap().to_string();
    assert_eq!(get(other.clone(), token.clone(), path.clone()).await, 200);
    let id = created["id"].as_str().unwrap();
    let (status, _) = stack
        .api(&t.token, "DELETE", &format!("/api/tokens/{id}"), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        get(stack.base_url.clone(), token.clone(), path.clone()).await,
        401,
        "at once in the process that revoked it"
    );
    tokio::time::sleep(bound + std::time::Duration::from_millis(200)).await;
    assert_eq!(
        get(other.clone(), token.clone(), path.clone()).await,
        401,
        "within the bound everywhere"
    );
    // The first token is unaffected.
    assert_eq!(get(other, t.token.clone(), path).await, 200);
}

#[tokio::test]
async fn authentication_is_required_and_checked() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let url = format!("{}/api/tenant", stack.base_url);
    for header in [
        None,
        Some("Bearer"),
        Some("Basic abc"),
        Some("Bearer kh_nope"),
        Some("Bearer "),
    ] {
        let mut req = stack.http.get(&url);
        if let Some(h) = header {
            req = req.header("authorization", h);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), 401, "{header:?}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    let res = stack
        .http
        .get(&url)
        .header("authorization", format!("KeyhookApi {}", t.token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let tenant: Value = res.json().await.unwrap();
    assert_eq!(tenant["id"], t.id.as_str());
    assert!(tenant["signingPublicKey"].as_str().unwrap().len() >= 40);

    stack.services.store.delete_tenant(&t.id).await.unwrap();
    assert_eq!(
        stack.api(&t.token, "GET", "/api/tenant", None).await.0,
        401,
        "a deleted tenant's token"
    );
}

#[tokio::test]
async fn lists_paginate_with_cursors_that_stay_in_their_tenant() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let other = stack.tenant("Other").await;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(stack.product(&t, json!({"name": format!("P{i}")})).await);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/products?limit=2&cursor={c}"),
            None => "/api/products?limit=2".to_string(),
        };
        let (status, page) = stack.api(&t.token, "GET", &path, None).await;
        assert_eq!(status, 200);
        assert!(page["items"].as_array().unwrap().len() <= 2);
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_string()),
        );
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, created, "every product once, in id order");
    let (_, page) = stack
        .api(&t.token, "GET", "/api/products?limit=2", None)
        .await;
    let foreign_cursor = page["nextCursor"].as_str().unwrap();
    let (status, err) = stack
        .api(
            &other.token,
            "GET",
            &format!("/api/products?cursor={foreign_cursor}"),
            None,
        )
        .await;
    // Another tenant's cursor names no page of this one's listing, like its ids.
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    for bad in ["cursor=%%%", "cursor=abc"] {
        let (status, _) = stack
            .api(&t.token, "GET", &format!("/api/products?{bad}"), None)
            .await;
        assert_eq!(status, 404, "{bad}");
    }
    // A cursor of another listing of the same tenant is no position in this one.
    let (_, one) = stack
        .api(&t.token, "GET", "/api/products?limit=1", None)
        .await;
    let product_cursor = one["nextCursor"].as_str().unwrap();
    let (status, _) = stack
        .api(
            &t.token,
            "GET",
            &format!("/api/licenses?cursor={product_cursor}"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    for bad in ["limit=0", "limit=201", "limit=x"] {
        let (status, _) = stack
            .api(&t.token, "GET", &format!("/api/products?{bad}"), None)
            .await;
        assert_eq!(status, 422, "{bad}");
    }
}

#[tokio::test]
async fn the_openapi_document_and_its_page_are_served() {
    let stack = Stack::start().await;
    let doc: Value = stack
        .http
        .get(format!("{}/openapi.json", stack.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/stripe/apps/{appId}"]["put"].is_object());
    // To a client that takes gzip (a browser, the reference page), the same document gzipped.
    let raw = stack
        .http
        .get(format!("{}/openapi.json", stack.base_url))
        .send()
        .await
        .unwrap();
    assert!(raw.headers().get("content-encoding").is_none());
    let raw = raw.bytes().await.unwrap();
    let gzipped = stack
        .http
        .get(format!("{}/openapi.json", stack.base_url))
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    assert_eq!(gzipped.headers()["vary"], "Accept-Encoding");
    assert_eq!(gzipped.headers()["content-type"], "application/json");
    let gzipped = gzipped.bytes().await.unwrap();
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&gzipped[..]),
        &mut unzipped,
    )
    .unwrap();
    assert_eq!(unzipped, raw, "the gzip is of the document served raw");
    assert!(
        gzipped.len() * 10 < raw.len(),
        "{} bytes of gzip for {} of JSON",
        gzipped.len(),
        raw.len()
    );
    let page = stack
        .http
        .get(format!("{}/docs", stack.base_url))
        .send()
        .await
        .unwrap();
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    // Its own policy: the dashboard's, with inline styles (the renderer's) and still no
    // inline script.
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self';") && csp.contains("style-src 'self' 'unsafe-inline'"));
    let html = page.text().await.unwrap();
    assert!(html.contains("spec-url=\"/openapi.json\""));
    assert!(!html.contains("<script>"));
    // The renderer is Keyhook's own copy, gzip as stored, cached for good.
    let asset = format!("{}/docs/assets/rapidoc-9.3.8.js", stack.base_url);
    assert!(html.contains("/docs/assets/rapidoc-9.3.8.js"));
    let js = stack
        .http
        .get(&asset)
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    let header = |name: &str| js.headers()[name].to_str().unwrap().to_string();
    assert_eq!(header("content-encoding"), "gzip");
    assert!(header("content-type").starts_with("text/javascript"));
    assert_eq!(
        header("cache-control"),
        "public, max-age=31536000, immutable"
    );
    let body = js.bytes().await.unwrap();
    assert_eq!(&body[..2], &[0x1f, 0x8b]);
    assert_eq!(body.len(), 217_516);
    // A client without gzip is told what to send; an unknown asset is not found.
    let plain = stack.http.get(&asset).send().await.unwrap();
    assert_eq!(plain.status(), 400);
    let error: Value = plain.json().await.unwrap();
    assert_eq!(error["error"]["code"], "gzip_required");
    let missing = stack
        .http
        .get(format!("{}/docs/assets/redoc.js", stack.base_url))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    // The document is the API's: the dashboard's pages are not in it.
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.keys().all(|p| !p.starts_with("/dashboard")));
}

#[tokio::test]
async fn a_licenses_activity_keeps_its_newest_entries_and_is_the_tenants_only() {
    let shop = Shop::open().await;
    let product = shop.product(json!({})).await;
    let (id, _) = shop.license_with_id(&product).await;
    let path = format!("/api/licenses/{id}");
    // 70 changes: the log is cut back to the newest 50 once it passes 60.
    for n in 1..=70 {
        let (status, body) = shop
            .stack
            .api(
                &shop.tenant.token,
                "PATCH",
                &path,
                Some(json!({"maxDevices": n})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, activity) = shop
        .stack
        .api(&shop.tenant.token, "GET", &format!("{path}/activity"), None)
        .await;
    assert_eq!(status, 200, "{activity}");
    let items = activity["items"].as_array().unwrap();
    assert!((50..=60).contains(&items.len()), "{}", items.len());
    assert_eq!(
        (
            &items[0]["action"],
            &items[0]["from"],
            &items[0]["to"],
            &items[0]["actor"]
        ),
        (
            &json!("max_devices_changed"),
            &json!("69"),
            &json!("70"),
            &json!("merchant")
        )
    );
    let tos: Vec<u64> = items
        .iter()
        .map(|e| e["to"].as_str().unwrap().parse().unwrap())
        .collect();
    let expected: Vec<u64> = (71 - items.len() as u64..=70).rev().collect();
    assert_eq!(tos, expected, "newest first, the oldest cut");

    let other = shop.stack.tenant("Other").await;
    let (status, body) = shop
        .stack
        .api(&other.token, "GET", &format!("{path}/activity"), None)
        .await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));
    let (status, _) = shop
        .stack
        .api(
            &shop.tenant.token,
            "GET",
            "/api/licenses/lic_nope/activity",
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn resending_a_license_without_an_email_is_a_conflict_naming_the_field() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let product = stack.product(&t, json!({})).await;
    let (status, l) = stack
        .api(
            &t.token,
            "POST",
            "/api/licenses",
            Some(json!({"productId": product})),
        )
        .await;
    assert_eq!(status, 201, "{l}");
    let path = format!("/api/licenses/{}/resend-email", l["id"].as_str().unwrap());
    let (status, e) = stack.api(&t.token, "POST", &path, None).await;
    assert_eq!(status, 409, "{e}");
    assert_eq!(e["error"]["code"], "conflict");
    assert_eq!(e["error"]["field"], "customerEmail");
    assert_eq!(
        e["error"]["message"],
        "the license has no customer email; set one with PATCH first"
    );
}

/// Saves of one product at the same time each keep the others' changes: every write is
/// conditional on the version it read, and a save that lost the race applies its change again
/// to what was written meanwhile. A write from a stale read is refused by the store itself.
#[tokio::test]
async fn concurrent_product_saves_keep_each_others_changes() {
    let stack = Stack::start().await;
    let t = stack.tenant("Acme").await;
    let product = stack.product(&t, json!({})).await;
    let path = format!("/api/products/{product}");
    // Eight saves at once, each changing a field of its own: a save that undid another would
    // leave that field as it was.
    let saves = [
        json!({"trialDays": 7}),
        json!({"maxDevices": 3}),
        json!({"maxIps": 5}),
        json!({"graceDays": 9}),
        json!({"name": "Renamed"}),
        json!({"acceptTestLicenses": true}),
        json!({"autoEmail": false}),
        json!({"price": "19.99"}),
    ];
    let answers = futures::future::join_all(
        saves
            .iter()
            .map(|body| stack.api(&t.token, "PUT", &path, Some(body.clone()))),
    )
    .await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
    }
    let (_, p) = stack.api(&t.token, "GET", &path, None).await;
    for body in &saves {
        for (field, value) in body.as_object().unwrap() {
            assert_eq!(&p[field], value, "{field} was undone: {p}");
        }
    }
    // The store refuses a write from a read another write has overtaken.
    let store = &stack.services.store;
    let read = store
        .get_tenant_product(&t.id, &product)
        .await
        .unwrap()
        .unwrap();
    let mut first = read.clone();
    first.trial_days = 1;
    assert!(store.update_product(&first).await.unwrap());
    let mut second = read;
    second.max_devices = 1;
    assert!(
        !store.update_product(&second).await.unwrap(),
        "a write from a stale read"
    );
    let now = store
        .get_tenant_product(&t.id, &product)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((now.trial_days, now.max_devices), (1, 3));
}
