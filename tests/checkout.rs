//! `POST /api/stripe/checkout/session` against a fake Stripe (wiremock) that answers with
//! Stripe's own example objects and records every request: the exact form fields Stripe
//! documents, every refusal (and that refused requests never reach Stripe), Stripe's errors,
//! timeouts, outages and retries, idempotency keys, and the record that joins a session to the
//! purchase its webhook issues.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use keyhook_shared::Services;
use keyhook_tests::fake_stripe::{stripe_error, FakeStripe};
use keyhook_tests::{assert_refused, with_stripe, CheckoutOptions, Stack, TestApp, TestTenant};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const SUCCESS_URL: &str = "https://shop.example/thanks?session_id={CHECKOUT_SESSION_ID}";
const CANCEL_URL: &str = "https://shop.example/cancel";

/// A tenant with one default test-mode app (usd unless told) and a product, over a fake Stripe.
struct Shop {
    stripe: FakeStripe,
    stack: Stack,
    tenant: TestTenant,
    app: TestApp,
    product: String,
}

impl Shop {
    async fn open(app_extra: Value, product_extra: Value) -> Shop {
        let stripe = FakeStripe::start().await;
        let stack = Stack::start_with_stripe(&stripe.uri()).await;
        let tenant = stack.tenant("Shop").await;
        let app = stack.app_with(&tenant, app_extra).await;
        let product = stack.product(&tenant, product_extra).await;
        Shop {
            stripe,
            stack,
            tenant,
            app,
            product,
        }
    }

    fn body(&self, extra: Value) -> Value {
        let mut body =
            json!({"productId": self.product, "successUrl": SUCCESS_URL, "cancelUrl": CANCEL_URL});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    }

    async fn checkout(&self, extra: Value) -> (u16, Value) {
        self.stack
            .api(
                &self.tenant.token,
                "POST",
                "/api/stripe/checkout/session",
                Some(self.body(extra)),
            )
            .await
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let (status, v) = self
            .stack
            .api(&self.tenant.token, "POST", path, Some(body))
            .await;
        assert!((200..300).contains(&status), "{path}: {status} {v}");
        v
    }

    async fn mapping(&self, price_id: &str) -> String {
        self.post(
            "/api/stripe/price-mappings",
            json!({"appId": self.app.id, "productId": self.product, "stripePriceId": price_id}),
        )
        .await["id"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn form(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn one_time_in_usd_sends_exactly_stripes_fields_and_records_the_session() {
    let shop = Shop::open(json!({}), json!({"name": "Pro License", "price": "29.99"})).await;
    let plan = shop
        .post(
            "/api/plans",
            json!({"productId": shop.product, "name": "Annual", "days": 365}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, session) = shop
        .checkout(json!({"quantity": 2, "planId": plan, "customerEmail": "ada@example.com"}))
        .await;
    assert_eq!(status, 201, "{session}");
    let id = session["sessionId"].as_str().unwrap();
    assert!(id.starts_with("cs_test_"), "{session}");
    assert_eq!(
        session["url"],
        format!("https://checkout.stripe.com/c/pay/{id}")
    );
    assert_eq!(session["mode"], "payment");
    assert_eq!(session["currency"], "usd");
    assert_eq!(session["amount"], "59.98");
    assert_eq!(session["quantity"], 2);
    assert_eq!(session["appId"], shop.app.id);

    let requests = shop.stripe.requests().await;
    assert_eq!(requests.len(), 1, "one call to Stripe");
    let r = &requests[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1/checkout/sessions")
    );
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {}", shop.app.secret_key).as_str())
    );
    assert_eq!(
        r.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert!(r
        .header("idempotency-key")
        .is_some_and(|k| k.starts_with("keyhook-checkout-")));
    let product = shop.product.as_str();
    assert_eq!(
        r.form,
        form(&[
            ("mode", "payment"),
            ("success_url", SUCCESS_URL),
            ("cancel_url", CANCEL_URL),
            ("line_items[0][price_data][currency]", "usd"),
            ("line_items[0][price_data][unit_amount]", "2999"),
            (
                "line_items[0][price_data][product_data][name]",
                "Pro License"
            ),
            ("line_items[0][quantity]", "2"),
            ("customer_email", "ada@example.com"),
            ("metadata[productId]", product),
            ("metadata[quantity]", "2"),
            ("metadata[planId]", &plan),
            ("payment_intent_data[metadata][productId]", product),
            ("payment_intent_data[metadata][quantity]", "2"),
            ("payment_intent_data[metadata][planId]", &plan),
            ("metadata[keyhookCheckout]", "true"),
        ])
    );
    // Stripe's {CHECKOUT_SESSION_ID} placeholder must reach Stripe as text.
    assert!(r.body.contains("%7BCHECKOUT_SESSION_ID%7D"), "{}", r.body);

    // The record, before the buyer pays: no purchase yet.
    let path = format!("/api/stripe/checkout/sessions/{id}");
    let (status, recorded) = shop.stack.api(&shop.tenant.token, "GET", &path, None).await;
    assert_eq!(status, 200, "{recorded}");
    assert_eq!(recorded["productId"], product);
    assert_eq!(recorded["planId"], plan);
    assert_eq!(recorded["amount"], "59.98");
    assert_eq!(recorded["currency"], "usd");
    assert_eq!(recorded["mode"], "payment");
    assert_eq!(recorded["appId"], shop.app.id);
    assert_eq!(recorded["purchase"], Value::Null);

    // The buyer pays: Stripe sends the session's webhook, which is joined to the record.
    let mut event = keyhook_cli::trigger::checkout_completed(&CheckoutOptions {
        product_id: shop.product.clone(),
        quantity: Some(2),
        plan_id: Some(plan.clone()),
        email: Some("ada@example.com".into()),
        name: Some("Ada".into()),
        livemode: false,
    });
    event["data"]["object"]["id"] = json!(id);
    // Stripe sends the session back with the metadata Keyhook created it with.
    event["data"]["object"]["metadata"]["keyhookCheckout"] = json!("true");
    let (status, receipt) = shop
        .stack
        .post_event("/api/stripe/webhook", &event, &shop.app.webhook_secret)
        .await;
    assert_eq!(status, 200, "{receipt}");
    let (_, recorded) = shop.stack.api(&shop.tenant.token, "GET", &path, None).await;
    assert_eq!(recorded["purchase"]["eventId"], event["id"], "{recorded}");
    assert_eq!(
        recorded["purchase"]["licenseIds"].as_array().unwrap().len(),
        2
    );
    let (_, logged) = shop
        .stack
        .event_log(&shop.tenant, event["id"].as_str().unwrap())
        .await;
    // A one-time purchase is named by its payment intent (so `payment_intent.succeeded` is the
    // same purchase); the record links the session to it.
    assert_eq!(
        logged["purchaseRef"],
        event["data"]["object"]["payment_intent"]
    );
    assert_eq!(recorded["purchase"]["purchaseRef"], logged["purchaseRef"]);

    // Another tenant cannot see it.
    let other = shop.stack.tenant("Other").await;
    let (status, _) = shop.stack.api(&other.token, "GET", &path, None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn jpy_is_zero_decimal_and_refuses_fractional_prices() {
    let shop = Shop::open(json!({"defaultCurrency": "jpy"}), json!({"price": "1500"})).await;
    let (status, session) = shop.checkout(json!({"quantity": 3})).await;
    assert_eq!(status, 201, "{session}");
    assert_eq!(
        (session["currency"].as_str(), session["amount"].as_str()),
        (Some("jpy"), Some("4500"))
    );
    let r = &shop.stripe.session_requests().await[0];
    assert_eq!(r.form["line_items[0][price_data][currency]"], "jpy");
    assert_eq!(r.form["line_items[0][price_data][unit_amount]"], "1500");
    assert_eq!(r.form["line_items[0][quantity]"], "3");

    let fractional = shop
        .stack
        .product(&shop.tenant, json!({"price": "29.99"}))
        .await;
    let (status, body) = shop.checkout(json!({"productId": fractional})).await;
    assert_refused(status, &body, "currency");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("jpy"),
        "{body}"
    );
    assert_eq!(
        shop.stripe.session_requests().await.len(),
        1,
        "refused before Stripe"
    );
}

#[tokio::test]
async fn another_currency_sells_only_at_the_products_explicit_price_in_it() {
    let shop = Shop::open(
        json!({}),
        json!({"price": "29.99", "prices": {"eur": "27.00", "kwd": "9.500"}}),
    )
    .await;
    let set_active = |code: &'static str, active: bool| {
        let shop = &shop;
        async move {
            let (status, body) = shop
                .stack
                .api(
                    &shop.tenant.token,
                    "PUT",
                    &format!("/api/currencies/{code}"),
                    Some(json!({"isActive": active})),
                )
                .await;
            assert_eq!(status, 200, "{body}");
        }
    };
    // A new tenant charges only in its apps' currencies.
    let (status, body) = shop.checkout(json!({"currency": "EUR"})).await;
    assert_refused(status, &body, "currency");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not active"),
        "{body}"
    );
    for code in ["eur", "kwd", "mxn"] {
        set_active(code, true).await;
    }
    let (status, session) = shop.checkout(json!({"currency": "EUR"})).await;
    assert_eq!(status, 201, "{session}");
    assert_eq!(session["currency"], "eur");
    assert_eq!(session["amount"], "27.00", "the euro price, not 29.99 EUR");
    let (status, session) = shop.checkout(json!({"currency": "kwd"})).await;
    assert_eq!(status, 201, "{session}");
    assert_eq!(session["amount"], "9.500");
    // Active, but the product has no price in it: 29.99 is not 29.99 MXN.
    let (status, body) = shop.checkout(json!({"currency": "mxn"})).await;
    assert_refused(status, &body, "currency");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("prices.mxn"),
        "{body}"
    );
    let sent: Vec<(String, String)> = shop
        .stripe
        .session_requests()
        .await
        .iter()
        .map(|r| {
            (
                r.form["line_items[0][price_data][currency]"].clone(),
                r.form["line_items[0][price_data][unit_amount]"].clone(),
            )
        })
        .collect();
    assert_eq!(
        sent,
        [("eur".into(), "2700".into()), ("kwd".into(), "9500".into())]
    );

    // A deactivated currency is refused even with a price in it; so are unknown codes.
    set_active("eur", false).await;
    for bad in ["eur", "xyz", "dollars"] {
        let (status, body) = shop.checkout(json!({"currency": bad})).await;
        assert_refused(status, &body, "currency");
    }
    // The app's own currency still sells at `price`.
    let (status, session) = shop.checkout(json!({"currency": "usd"})).await;
    assert_eq!((status, session["amount"].as_str()), (201, Some("29.99")));
    assert_eq!(shop.stripe.session_requests().await.len(), 3);
}

#[tokio::test]
async fn subscriptions_use_the_mapped_price_and_its_currency() {
    let shop = Shop::open(json!({}), json!({"price": "29.99"})).await;
    shop.stripe
        .price("price_monthly_eur", "eur", 900, true)
        .await;
    let monthly = shop.mapping("price_monthly_eur").await;

    // The product's only mapping for the app: a subscription, whatever `currency` says.
    let (status, session) = shop
        .checkout(json!({"quantity": 2, "currency": "usd"}))
        .await;
    assert_eq!(status, 201, "{session}");
    assert_eq!(session["mode"], "subscription");
    assert_eq!(session["currency"], "eur");
    assert_eq!(session["amount"], "18.00");
    let requests = shop.stripe.requests().await;
    let price_reads: Vec<_> = requests.iter().filter(|r| r.method == "GET").collect();
    assert_eq!(price_reads.len(), 1);
    assert_eq!(price_reads[0].path, "/v1/prices/price_monthly_eur");
    assert_eq!(
        price_reads[0].header("authorization"),
        Some(format!("Bearer {}", shop.app.secret_key).as_str())
    );
    let product = shop.product.as_str();
    assert_eq!(
        shop.stripe.session_requests().await[0].form,
        form(&[
            ("mode", "subscription"),
            ("success_url", SUCCESS_URL),
            ("cancel_url", CANCEL_URL),
            ("line_items[0][price]", "price_monthly_eur"),
            ("line_items[0][quantity]", "2"),
            ("metadata[productId]", product),
            ("metadata[quantity]", "2"),
            ("subscription_data[metadata][productId]", product),
            ("subscription_data[metadata][quantity]", "2"),
            ("metadata[keyhookCheckout]", "true"),
        ])
    );

    // Prices never change at Stripe: the second session reuses what the first learnt.
    let (status, _) = shop.checkout(json!({"priceMappingId": monthly})).await;
    assert_eq!(status, 201);
    assert_eq!(
        shop.stripe
            .requests()
            .await
            .iter()
            .filter(|r| r.method == "GET")
            .count(),
        1
    );

    // A second mapping: the merchant must say which one.
    shop.stripe
        .price("price_annual_eur", "eur", 9000, true)
        .await;
    let annual = shop.mapping("price_annual_eur").await;
    let (status, body) = shop.checkout(json!({})).await;
    assert_refused(status, &body, "priceMappingId");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&monthly) && message.contains(&annual),
        "{message}"
    );
    let (status, session) = shop.checkout(json!({"priceMappingId": annual})).await;
    assert_eq!(status, 201, "{session}");
    assert_eq!(session["amount"], "90.00");
    let (status, recorded) = shop
        .stack
        .api(
            &shop.tenant.token,
            "GET",
            &format!(
                "/api/stripe/checkout/sessions/{}",
                session["sessionId"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(recorded["priceMappingId"], annual);
    assert_eq!(recorded["stripePriceId"], "price_annual_eur");

    // `mode: payment` sells the same product once, at its own price.
    let (status, session) = shop.checkout(json!({"mode": "payment"})).await;
    assert_eq!(status, 201, "{session}");
    assert_eq!(
        (session["mode"].as_str(), session["amount"].as_str()),
        (Some("payment"), Some("29.99"))
    );
    let (status, body) = shop
        .checkout(json!({"mode": "payment", "priceMappingId": annual}))
        .await;
    assert_refused(status, &body, "mode");

    // A one-time Stripe price cannot start a subscription.
    shop.stripe.price("price_once_usd", "usd", 500, false).await;
    let once = shop.mapping("price_once_usd").await;
    let (status, body) = shop.checkout(json!({"priceMappingId": once})).await;
    assert_refused(status, &body, "priceMappingId");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("recurring"));

    // A price the app's Stripe account does not have: Stripe's own message.
    let missing = shop.mapping("price_missing_123").await;
    let (status, body) = shop.checkout(json!({"priceMappingId": missing})).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("No such price"),
        "{body}"
    );
}

#[tokio::test]
async fn a_product_without_mapping_cannot_be_forced_into_a_subscription() {
    let shop = Shop::open(json!({}), json!({})).await;
    let (status, body) = shop.checkout(json!({"mode": "subscription"})).await;
    assert_refused(status, &body, "mode");
    assert!(shop.stripe.requests().await.is_empty());
}

#[tokio::test]
async fn every_refusal_names_its_field_and_never_reaches_stripe() {
    let shop = Shop::open(json!({}), json!({})).await;
    let s = &shop.stack;
    let archived = s.product(&shop.tenant, json!({"name": "Old"})).await;
    let (status, _) = s
        .api(
            &shop.tenant.token,
            "PUT",
            &format!("/api/products/{archived}"),
            Some(json!({"archived": true})),
        )
        .await;
    assert_eq!(status, 200);
    let other_product = s.product(&shop.tenant, json!({"name": "Other"})).await;
    let foreign_plan = shop
        .post(
            "/api/plans",
            json!({"productId": other_product, "name": "Monthly", "days": 30}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let foreign_mapping = shop
        .post(
            "/api/stripe/price-mappings",
            json!({"appId": shop.app.id, "productId": other_product, "stripePriceId": "price_other_1"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let inactive = s
        .app_with(&shop.tenant, json!({"active": false, "isDefault": false}))
        .await;
    let keyless = s
        .app_with(&shop.tenant, json!({"secretKey": null, "isDefault": false}))
        .await;
    // An app whose sealed key was copied from another app: it does not open (bound to its app).
    let broken = s.app_with(&shop.tenant, json!({"isDefault": false})).await;
    let donor = s
        .services
        .store
        .get_app(&shop.app.id)
        .await
        .unwrap()
        .unwrap();
    let mut moved = s.services.store.get_app(&broken.id).await.unwrap().unwrap();
    moved.secret_key_sealed = donor.secret_key_sealed.clone();
    s.services
        .store
        .save_apps(&moved, false, &[])
        .await
        .unwrap();
    let elsewhere = s.tenant("Elsewhere").await;
    let foreign_product = s.product(&elsewhere, json!({})).await;
    let foreign_app = s.app(&elsewhere).await;

    let cases: Vec<(Value, &str)> = vec![
        (json!({"productId": null}), "productId"),
        (json!({"productId": "999999999"}), "productId"),
        (json!({"productId": archived}), "productId"),
        (json!({"productId": foreign_product}), "productId"),
        (json!({"quantity": 0}), "quantity"),
        (json!({"quantity": 99}), "quantity"),
        (json!({"quantity": -3}), "quantity"),
        (
            json!({"successUrl": "http://shop.example/thanks"}),
            "successUrl",
        ),
        (json!({"successUrl": "/thanks"}), "successUrl"),
        (json!({"cancelUrl": "ftp://shop.example/"}), "cancelUrl"),
        (json!({"cancelUrl": null}), "cancelUrl"),
        (json!({"customerEmail": "not-an-email"}), "customerEmail"),
        (json!({"planId": "pln_nope"}), "planId"),
        (json!({"planId": foreign_plan}), "planId"),
        (json!({"priceMappingId": "pm_nope"}), "priceMappingId"),
        (json!({"priceMappingId": foreign_mapping}), "priceMappingId"),
        (json!({"appId": "app_nope"}), "appId"),
        (json!({"appId": foreign_app.id}), "appId"),
        (json!({"appId": inactive.id}), "appId"),
        (json!({"appId": keyless.id}), "appId"),
        (json!({"appId": broken.id}), "appId"),
        (json!({"mode": "donation"}), "mode"),
        (json!({"price": "0.01"}), "price"),
    ];
    for (extra, field) in cases {
        let (status, body) = shop.checkout(extra.clone()).await;
        assert_refused(status, &body, field);
        assert!(
            !body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .is_empty(),
            "{extra}: {body}"
        );
    }
    // Localhost may use http (merchants developing locally).
    let (status, body) = shop
        .checkout(
            json!({"successUrl": "http://localhost:3000/ok", "cancelUrl": "http://127.0.0.1/no"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        shop.stripe.session_requests().await.len(),
        1,
        "only the valid request reached Stripe"
    );

    // Without a token: 401.
    let (status, body) = s
        .api(
            "kh_nope",
            "POST",
            "/api/stripe/checkout/session",
            Some(shop.body(json!({}))),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
}

#[tokio::test]
async fn without_a_default_active_app_the_caller_must_name_one() {
    let shop = Shop::open(json!({"isDefault": false}), json!({})).await;
    let (status, body) = shop.checkout(json!({})).await;
    assert_refused(status, &body, "appId");
    let (status, body) = shop.checkout(json!({"appId": shop.app.id})).await;
    assert_eq!(status, 201, "{body}");

    // The default app, deactivated: refused, saying which app.
    let shop = Shop::open(json!({}), json!({})).await;
    let (status, _) = shop
        .stack
        .api(
            &shop.tenant.token,
            "PUT",
            &format!("/api/stripe/apps/{}", shop.app.id),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = shop.checkout(json!({})).await;
    assert_refused(status, &body, "appId");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&shop.app.id),
        "{body}"
    );
    assert!(shop.stripe.requests().await.is_empty());
}

#[tokio::test]
async fn stripe_errors_are_mapped_to_the_contract() {
    let shop = Shop::open(json!({}), json!({"prices": {"ang": "29.99"}})).await;
    let (status, _) = shop
        .stack
        .api(
            &shop.tenant.token,
            "PUT",
            "/api/currencies/ang",
            Some(json!({"isActive": true})),
        )
        .await;
    assert_eq!(status, 200);
    // Stripe refuses the currency: the merchant's to fix, with Stripe's words.
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(400).set_body_json(stripe_error(
            "invalid_request_error",
            None,
            Some("line_items[0][price_data][currency]"),
            "Invalid currency: ang. Stripe currently supports these currencies: usd, eur, ...",
        )))
        .up_to_n_times(1)
        .mount(&shop.stripe.server)
        .await;
    let (status, body) = shop.checkout(json!({"currency": "ang"})).await;
    assert_refused(status, &body, "stripe.line_items[0][price_data][currency]");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Invalid currency: ang"),
        "{body}"
    );
    assert_eq!(
        shop.stripe.session_requests().await.len(),
        1,
        "4xx are not retried"
    );

    // Stripe refuses the app's key: ours to fix, 502, the key never echoed.
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(401).set_body_json(stripe_error(
            "authentication_error",
            None,
            None,
            &format!("Invalid API Key provided: {}", shop.app.secret_key),
        )))
        .up_to_n_times(1)
        .mount(&shop.stripe.server)
        .await;
    let (status, body) = shop.checkout(json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (502, Some("upstream_unavailable"))
    );
    assert!(!body.to_string().contains(&shop.app.secret_key));

    // Stripe keeps failing: three attempts, same idempotency key, then 502.
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(500).set_body_json(stripe_error(
            "api_error",
            None,
            None,
            "boom",
        )))
        .mount(&shop.stripe.server)
        .await;
    let before = shop.stripe.session_requests().await.len();
    let (status, body) = shop.checkout(json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (502, Some("upstream_unavailable"))
    );
    let attempts = shop.stripe.session_requests().await[before..].to_vec();
    assert_eq!(attempts.len(), 3);
    assert!(attempts
        .iter()
        .all(|r| r.header("idempotency-key") == attempts[0].header("idempotency-key")));
}

#[tokio::test]
async fn retries_on_5xx_and_429_reuse_the_idempotency_key_then_succeed() {
    let shop = Shop::open(json!({}), json!({})).await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(503).set_body_json(stripe_error(
            "api_error",
            None,
            None,
            "try again",
        )))
        .up_to_n_times(1)
        .mount(&shop.stripe.server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(stripe_error(
                    "rate_limit_error",
                    Some("rate_limit"),
                    None,
                    "slow down",
                )),
        )
        .up_to_n_times(1)
        .mount(&shop.stripe.server)
        .await;
    let (status, body) = shop.checkout(json!({})).await;
    assert_eq!(status, 201, "{body}");
    let attempts = shop.stripe.session_requests().await;
    assert_eq!(attempts.len(), 3);
    let key = attempts[0].header("idempotency-key").unwrap();
    assert!(attempts
        .iter()
        .all(|r| r.header("idempotency-key") == Some(key)));
    assert!(attempts.iter().all(|r| r.form == attempts[0].form));
}

#[tokio::test]
async fn timeouts_and_an_unreachable_stripe_answer_502_quickly() {
    let shop = Shop::open(json!({}), json!({})).await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(10)))
        .mount(&shop.stripe.server)
        .await;
    let started = Instant::now();
    let (status, body) = shop.checkout(json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (502, Some("upstream_unavailable")),
        "{body}"
    );
    assert_eq!(
        shop.stripe.session_requests().await.len(),
        3,
        "each attempt timed out"
    );
    // Three attempts that each waited for Stripe's answer would take 30 s; one alone, 10 s.
    // (A bound far from the client's timeouts, so a loaded machine does not fail it.)
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    // Nothing listening where Stripe should be.
    let dead = with_stripe(
        Services::new(shop.stack.config(), &shop.stack.sdk),
        "http://127.0.0.1:9",
    );
    let base = shop.stack.serve_with(dead).await;
    let res = reqwest::Client::new()
        .post(format!("{base}/api/stripe/checkout/session"))
        .bearer_auth(&shop.tenant.token)
        .json(&shop.body(json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 502);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "upstream_unavailable");
}

#[tokio::test]
async fn a_callers_idempotency_key_makes_its_retries_idempotent_at_stripe() {
    let shop = Shop::open(json!({}), json!({})).await;
    let post = |key: Option<&'static str>| {
        let mut req = shop
            .stack
            .http
            .post(format!(
                "{}/api/stripe/checkout/session",
                shop.stack.base_url
            ))
            .bearer_auth(&shop.tenant.token)
            .json(&shop.body(json!({})));
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        async move {
            let res = req.send().await.unwrap();
            assert_eq!(res.status().as_u16(), 201);
            res.json::<Value>().await.unwrap()["sessionId"].clone()
        }
    };
    // A retry with the same key is answered from the first result: Stripe is not asked again.
    let first = post(Some("order-17")).await;
    assert_eq!(post(Some("order-17")).await, first);
    post(Some("order-18")).await;
    post(None).await;
    post(None).await;
    let keys: Vec<String> = shop
        .stripe
        .session_requests()
        .await
        .iter()
        .map(|r| r.header("idempotency-key").unwrap().to_string())
        .collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert_ne!(keys[0], keys[1]);
    assert_ne!(keys[2], keys[3]);
    assert!(!keys[0].contains("order-17"), "derived, not echoed");
}
