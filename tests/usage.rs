//! Usage limits end to end over HTTP against the emulator: records stay within the meter's
//! limit under concurrent requests; a retry with the same idempotencyKey counts once; a
//! refusal records nothing; periods roll with the clock; another tenant's product finds
//! nothing; a record costs one read and one conditional write; a meter billed through Stripe
//! reports each accepted record once (retries and refusals none), also after Stripe was down;
//! a report Stripe refuses is marked failed and shown; a full report backlog refuses records.

use futures::future::join_all;
use keyhook_format::answer::{verify_answer, Expected};
use keyhook_tests::calls::{counted_services, CallCounter};
use keyhook_tests::Shop;
use serde_json::{json, Value};
use time::Duration;

const USAGE: &str = "/api/licenses/usage";

async fn post_to(base: &str, shop: &Shop, body: Value) -> (u16, Value, Vec<u8>) {
    let res = shop
        .stack
        .http
        .post(format!("{base}{USAGE}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let bytes = res.bytes().await.unwrap().to_vec();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, value, bytes)
}

async fn post(shop: &Shop, body: Value) -> (u16, Value, Vec<u8>) {
    post_to(&shop.stack.base_url, shop, body).await
}

/// Records `quantity` of `meter` under `idem`: the answer (a 200).
async fn record(
    shop: &Shop,
    key: &str,
    product: &str,
    meter: &str,
    quantity: u64,
    idem: &str,
) -> Value {
    let (status, a, _) = post(
        shop,
        json!({"licenseKey": key, "productId": product, "meter": meter, "quantity": quantity, "idempotencyKey": idem}),
    )
    .await;
    assert_eq!(status, 200, "{a}");
    a
}

/// A live shop, a product with `meters`, and one license of it: (shop, product, key).
async fn metered(meters: Value) -> (Shop, String, String) {
    let shop = Shop::live().await;
    let product = shop.product(json!({ "meters": meters })).await;
    let key = shop.license(&product).await;
    (shop, product, key)
}

#[tokio::test]
async fn fifty_simultaneous_records_on_a_limit_of_twenty_record_exactly_twenty() {
    let (shop, product, key) =
        metered(json!([{"name": "exports", "limit": 20, "period": "month"}])).await;
    let answers = join_all((0..50).map(|i| {
        let (shop, key, product) = (&shop, &key, &product);
        async move {
            let (status, a, raw) = post(
                shop,
                json!({"licenseKey": key, "productId": product, "meter": "exports", "quantity": 1,
                       "idempotencyKey": format!("k-{i}"), "nonce": format!("n-{i}")}),
            )
            .await;
            assert_eq!(status, 200, "{a}");
            (a, raw)
        }
    }))
    .await;
    let keys = shop.signing_keys().await;
    let mut accepted = Vec::new();
    for (i, (a, raw)) in answers.iter().enumerate() {
        let nonce = format!("n-{i}");
        let verified = verify_answer(
            &keys,
            raw,
            &Expected {
                product_id: &product,
                device_id: None,
                nonce: Some(&nonce),
                license_key: Some(&key),
            },
        )
        .unwrap_or_else(|e| panic!("{i}: {e:?} {a}"));
        let usage = verified.usage.expect("a usage answer has its meter");
        assert_eq!((usage.meter.as_str(), usage.limit), ("exports", 20));
        assert_eq!(usage.used + usage.remaining, 20);
        if verified.valid {
            accepted.push(usage.used);
        } else {
            assert_eq!(verified.code, "USAGE_LIMIT_REACHED", "{a}");
            assert_eq!((usage.used, usage.remaining), (20, 0));
        }
    }
    accepted.sort_unstable();
    assert_eq!(
        accepted,
        (1..=20).collect::<Vec<_>>(),
        "each unit counted once"
    );
    let again = record(&shop, &key, &product, "exports", 1, "late").await;
    assert_eq!(again["code"], "USAGE_LIMIT_REACHED");
    assert_eq!(again["usage"]["used"], 20);
}

#[tokio::test]
async fn a_retry_counts_once_and_a_refusal_records_nothing() {
    let (shop, product, key) =
        metered(json!([{"name": "exports", "limit": 10, "period": "lifetime"}])).await;
    let first = record(&shop, &key, &product, "exports", 4, "job-1").await;
    assert_eq!(
        (
            first["valid"].clone(),
            first["usage"]["used"].clone(),
            first["usage"]["remaining"].clone()
        ),
        (json!(true), json!(4), json!(6))
    );
    assert!(
        first["usage"].get("resetsAt").is_none(),
        "lifetime never resets"
    );
    // Retries (concurrent and later) answer the same and count nothing.
    let retries =
        join_all((0..5).map(|_| record(&shop, &key, &product, "exports", 4, "job-1"))).await;
    for r in &retries {
        assert_eq!(
            (r["valid"].clone(), r["usage"]["used"].clone()),
            (json!(true), json!(4)),
            "{r}"
        );
    }
    // Too much: refused with the numbers, nothing recorded.
    let refused = record(&shop, &key, &product, "exports", 7, "job-2").await;
    assert_eq!(
        (
            refused["valid"].clone(),
            refused["code"].clone(),
            refused["usage"]["used"].clone(),
            refused["usage"]["remaining"].clone()
        ),
        (
            json!(false),
            json!("USAGE_LIMIT_REACHED"),
            json!(4),
            json!(6)
        )
    );
    let fits = record(&shop, &key, &product, "exports", 6, "job-3").await;
    assert_eq!(
        (fits["valid"].clone(), fits["usage"]["used"].clone()),
        (json!(true), json!(10))
    );
    // The refused key was not remembered: asked again, it is decided again.
    assert_eq!(
        record(&shop, &key, &product, "exports", 1, "job-2").await["code"],
        "USAGE_LIMIT_REACHED"
    );
    // Bad input is named; an unknown meter is a clear 409.
    for (body, status, field) in [
        (
            json!({"licenseKey": key, "productId": product, "meter": "exports", "quantity": 0, "idempotencyKey": "x"}),
            422,
            "quantity",
        ),
        (
            json!({"licenseKey": key, "productId": product, "meter": "Exports!", "quantity": 1, "idempotencyKey": "x"}),
            422,
            "meter",
        ),
        (
            json!({"licenseKey": key, "productId": product, "meter": "exports", "quantity": 1, "idempotencyKey": "has space"}),
            422,
            "idempotencyKey",
        ),
        (
            json!({"licenseKey": key, "productId": product, "meter": "exports", "quantity": 1}),
            422,
            "idempotencyKey",
        ),
        (
            json!({"licenseKey": key, "productId": product, "meter": "pages", "quantity": 1, "idempotencyKey": "x"}),
            409,
            "meter",
        ),
    ] {
        let (got, e, _) = post(&shop, body.clone()).await;
        assert_eq!(
            (got, e["error"]["field"].as_str()),
            (status, Some(field)),
            "{body} -> {e}"
        );
    }
}

#[tokio::test]
async fn a_month_meter_starts_again_next_month() {
    let (shop, product, key) = metered(json!([
        {"name": "exports", "limit": 3, "period": "month"},
        {"name": "seats.total", "limit": 3, "period": "lifetime"}
    ]))
    .await;
    let a = record(&shop, &key, &product, "exports", 3, "m1").await;
    let resets = a["usage"]["resetsAt"].as_str().unwrap().to_string();
    assert!(resets.ends_with("-01T00:00:00.000Z"), "{resets}");
    record(&shop, &key, &product, "seats.total", 3, "l1").await;
    assert_eq!(
        record(&shop, &key, &product, "exports", 1, "m2").await["code"],
        "USAGE_LIMIT_REACHED"
    );
    shop.stack.services.clock.advance(Duration::days(32));
    let next = record(&shop, &key, &product, "exports", 1, "m3").await;
    assert_eq!(
        (next["valid"].clone(), next["usage"]["used"].clone()),
        (json!(true), json!(1)),
        "{next}"
    );
    assert_ne!(next["usage"]["resetsAt"].as_str().unwrap(), resets);
    // A retry from last month answers what it answered then, counting nothing.
    assert_eq!(
        record(&shop, &key, &product, "exports", 3, "m1").await["usage"]["used"],
        3
    );
    assert_eq!(
        record(&shop, &key, &product, "exports", 1, "m4").await["usage"]["used"],
        2
    );
    // A lifetime meter does not roll.
    assert_eq!(
        record(&shop, &key, &product, "seats.total", 1, "l2").await["code"],
        "USAGE_LIMIT_REACHED"
    );
}

#[tokio::test]
async fn usage_is_refused_as_validation_refuses_and_isolated_between_tenants() {
    let (shop, product, key) =
        metered(json!([{"name": "exports", "limit": 5, "period": "month"}])).await;
    record(&shop, &key, &product, "exports", 2, "a").await;
    let other = shop.stack.tenant("Globex").await;
    let theirs = shop
        .stack
        .product(
            &other,
            json!({"meters": [{"name": "exports", "limit": 5, "period": "month"}]}),
        )
        .await;
    let found = record(&shop, &key, &theirs, "exports", 1, "b").await;
    assert_eq!(found["code"], "PRODUCT_MISMATCH", "{found}");
    assert!(found.get("usage").is_none() && found.get("license").is_none());
    // Nothing was counted there: the license's own count goes on from 2.
    assert_eq!(
        record(&shop, &key, &product, "exports", 1, "d").await["usage"]["used"],
        3
    );
    // A revoked license records nothing, as validation says.
    let (license_id, revoked_key) = shop.license_with_id(&product).await;
    let (status, _) = shop
        .stack
        .api(
            &shop.tenant.token,
            "PATCH",
            &format!("/api/licenses/{license_id}"),
            Some(json!({"status": "revoked"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        record(&shop, &revoked_key, &product, "exports", 1, "e").await["code"],
        "REVOKED"
    );
    // Meters are checked where they are set: a meter breaking a rule of its own is 422; two
    // valid meters sharing a name conflict (409).
    for (meters, expected) in [
        (
            json!([{"name": "Exports", "limit": 5, "period": "month"}]),
            422,
        ),
        (json!([{"name": "a", "limit": 0, "period": "month"}]), 422),
        (
            json!([{"name": "a", "limit": 1, "period": "month"}, {"name": "a", "limit": 2, "period": "month"}]),
            409,
        ),
        (json!([{"name": "a", "limit": 1, "period": "week"}]), 422),
    ] {
        let (status, e) = shop
            .stack
            .api(
                &shop.tenant.token,
                "PUT",
                &format!("/api/products/{product}"),
                Some(json!({"meters": meters})),
            )
            .await;
        assert_eq!(status, expected, "{meters} -> {e}");
    }
}

#[tokio::test]
async fn a_record_costs_one_read_and_one_write() {
    let (shop, product, key) =
        metered(json!([{"name": "exports", "limit": 1000, "period": "subscription"}])).await;
    let counter = CallCounter::default();
    let services = counted_services(shop.stack.config(), &shop.stack.sdk, &counter);
    let base = shop.stack.serve_with(services.clone()).await;
    let body = |k: &str| json!({"licenseKey": key, "productId": product, "meter": "exports", "quantity": 1, "idempotencyKey": k});
    post_to(&base, &shop, body("warm")).await; // warm the caches
    for (name, idem, writes) in [("usage", "measured", 1), ("usage retried", "measured", 0)] {
        counter.reset();
        let signed = services.store.signed_get_items();
        let (status, a, _) = post_to(&base, &shop, body(idem)).await;
        assert_eq!((status, a["valid"].clone()), (200, json!(true)), "{a}");
        let calls = counter.take();
        let signed = services.store.signed_get_items() - signed;
        eprintln!("{name}: {calls:?} + {signed} signed GetItem");
        assert_eq!(signed, 1, "{name}: one read of the license item");
        assert_eq!(
            calls.get("DynamoDB.UpdateItem").copied().unwrap_or(0),
            writes,
            "{name}: {calls:?}"
        );
        assert_eq!(
            calls.values().sum::<usize>(),
            writes,
            "{name}: nothing else: {calls:?}"
        );
    }
}

#[tokio::test]
async fn running_out_of_a_meter_is_one_webhook_an_hour_per_meter() {
    use keyhook_tests::merchant::MerchantEndpoint;
    let (shop, product, key) = metered(json!([
        {"name": "exports", "limit": 1, "period": "lifetime"},
        {"name": "pages", "limit": 1, "period": "lifetime"}
    ]))
    .await;
    let merchant = MerchantEndpoint::start(&shop.stack.services.clock, &[], 200).await;
    shop.stack
        .endpoint(
            &shop.tenant,
            json!({"url": merchant.url, "eventTypes": ["license.usage_limit_reached"]}),
        )
        .await;
    for meter in ["exports", "pages"] {
        assert_eq!(
            record(&shop, &key, &product, meter, 1, meter).await["valid"],
            true
        );
        for i in 0..3 {
            let refused = record(&shop, &key, &product, meter, 1, &format!("{meter}-{i}")).await;
            assert_eq!(refused["code"], "USAGE_LIMIT_REACHED");
        }
    }
    shop.stack.deliver().await;
    let events: Vec<Value> = merchant
        .received()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    let mut meters: Vec<&str> = events
        .iter()
        .map(|e| e["data"]["meter"].as_str().unwrap())
        .collect();
    meters.sort_unstable();
    assert_eq!(meters, ["exports", "pages"]);
    for e in &events {
        assert_eq!(e["type"], "license.usage_limit_reached");
        assert_eq!(e["data"]["actor"], "app");
        assert!(e["data"]["license"]["id"]
            .as_str()
            .unwrap()
            .starts_with("lic_"));
    }
    // An hour later, refused again: one more.
    shop.stack.services.clock.advance(Duration::minutes(61));
    assert_eq!(
        record(&shop, &key, &product, "exports", 1, "later").await["code"],
        "USAGE_LIMIT_REACHED"
    );
    shop.stack.deliver().await;
    assert_eq!(merchant.received().len(), 3);
}

#[tokio::test]
async fn the_dashboard_sets_meters_and_shows_usage_per_license() {
    use keyhook_shared::domain::member::Role;
    let (shop, product, _) =
        metered(json!([{"name": "exports", "limit": 5, "period": "month"}])).await;
    let owner = format!("{}@example.com", keyhook_tests::unique("owner"));
    shop.stack.member(&shop.tenant, &owner, Role::Owner).await;
    let d = shop.stack.sign_in(&shop.tenant, &owner).await;
    // The license page shows what the license used this period.
    let (license_id, key) = shop.license_with_id(&product).await;
    record(&shop, &key, &product, "exports", 3, "seen").await;
    let page = d.get(&format!("/dashboard/licenses/{license_id}")).await;
    assert!(page.body.contains("Usage this period"), "{}", page.body);
    assert!(
        page.body
            .contains("<td class=\"mono\">exports</td><td>3</td><td>5 / month</td><td>2</td>"),
        "{}",
        page.body
    );
    let form = d.get(&format!("/dashboard/products/{product}")).await;
    assert!(
        form.body.contains("exports 5 month"),
        "the form shows the meter"
    );
    let save = |meters: &'static str| {
        let (d, path) = (&d, format!("/dashboard/products/{product}"));
        async move {
            d.post(
                &path,
                &[("name", "Metered"), ("price", "10"), ("meters", meters)],
            )
            .await
        }
    };
    let refused = save("exports lots month").await;
    assert!(
        refused.status >= 400
            && refused
                .body
                .contains("line 1: the limit lots is not a whole number"),
        "{}",
        refused.body
    );
    let refused = save("Exports 5 month").await;
    assert!(
        refused.status >= 400 && refused.body.contains("line 1: name "),
        "{}",
        refused.body
    );
    assert_eq!(
        save("exports 1000 month\npages 20 lifetime api_pages")
            .await
            .status,
        303
    );
    let (_, p) = shop
        .stack
        .api(
            &shop.tenant.token,
            "GET",
            &format!("/api/products/{product}"),
            None,
        )
        .await;
    assert_eq!(
        p["meters"],
        json!([
            {"name": "exports", "limit": 1000, "period": "month"},
            {"name": "pages", "limit": 20, "period": "lifetime", "stripeMeterEvent": "api_pages"}
        ])
    );
}

#[tokio::test]
async fn a_validation_including_usage_carries_every_meters_remainder() {
    let (shop, product, key) = metered(json!([
        {"name": "exports", "limit": 10, "period": "month"},
        {"name": "projects", "limit": 3, "period": "lifetime"}
    ]))
    .await;
    record(&shop, &key, &product, "exports", 4, "a").await;
    let (status, a, raw) = post_to_path(
        &shop,
        "/api/licenses/validate",
        json!({"licenseKey": key, "productId": product, "include": ["usage"], "nonce": "n-1"}),
    )
    .await;
    assert_eq!(status, 200, "{a}");
    let verified = verify_answer(
        &shop.signing_keys().await,
        &raw,
        &Expected {
            product_id: &product,
            device_id: None,
            nonce: Some("n-1"),
            license_key: Some(&key),
        },
    )
    .unwrap();
    let meters = verified.meters.expect("meters with include usage");
    let got: Vec<(&str, u64, u64)> = meters
        .iter()
        .map(|m| (m.meter.as_str(), m.used, m.remaining))
        .collect();
    assert_eq!(got, [("exports", 4, 6), ("projects", 0, 3)]);
    // Without include: no meters; an unknown include is named.
    let (_, plain, _) = post_to_path(
        &shop,
        "/api/licenses/validate",
        json!({"licenseKey": key, "productId": product}),
    )
    .await;
    assert!(plain.get("meters").is_none(), "{plain}");
    let (status, e, _) = post_to_path(
        &shop,
        "/api/licenses/validate",
        json!({"licenseKey": key, "productId": product, "include": ["devices"]}),
    )
    .await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (422, Some("include[0]")),
        "{e}"
    );
}

async fn post_to_path(shop: &Shop, path: &str, body: Value) -> (u16, Value, Vec<u8>) {
    let res = shop
        .stack
        .http
        .post(format!("{}{path}", shop.stack.base_url))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let bytes = res.bytes().await.unwrap().to_vec();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        bytes,
    )
}

#[tokio::test]
async fn the_rust_client_records_usage_and_reports_the_limit() {
    use keyhook_client::{Client, Config, Error};
    let (shop, product, key) =
        metered(json!([{"name": "exports", "limit": 3, "period": "month"}])).await;
    let keys = String::from_utf8(shop.stack.published_keys(&shop.tenant.id).await).unwrap();
    let mut config = Config::new(&shop.stack.base_url, &product, &keys).unwrap();
    config.cache_dir = Some(std::env::temp_dir().join(format!("keyhook-usage-{}", shop.tenant.id)));
    let client = Client::new(config).unwrap();
    let u = client
        .record_usage(&key, "laptop", "exports", 2, "job-1")
        .await
        .unwrap();
    assert_eq!((u.used, u.remaining), (2, 1));
    let again = client
        .record_usage(&key, "laptop", "exports", 2, "job-1")
        .await
        .unwrap();
    assert_eq!(again.used, 2, "a retry counts once");
    match client
        .record_usage(&key, "laptop", "exports", 2, "job-2")
        .await
    {
        Err(Error::UsageLimit {
            meter,
            used,
            limit,
            remaining,
        }) => {
            assert_eq!(
                (meter.as_str(), used, limit, remaining),
                ("exports", 2, 3, 1)
            )
        }
        other => panic!("{other:?}"),
    }
}

/// A test-mode shop on a fake Stripe, a product with a meter billed through Stripe, and one
/// license bought by `cus_Buyer1`: (world, product, license id, key).
async fn billed() -> (keyhook_tests::World, String, String, String) {
    let world = keyhook_tests::World::open().await;
    let product = world
        .product(json!({"meters": [
            {"name": "api", "limit": 10, "period": "month", "stripeMeterEvent": "api_calls"}
        ]}))
        .await;
    let (id, key) = world.license_with_id(&product).await;
    let lic = world
        .stack
        .services
        .store
        .get_tenant_license(&world.tenant.id, &id)
        .await
        .unwrap()
        .unwrap();
    mount_buyer(&world, &lic).await;
    (world, product, id, key)
}

/// The license `id` as stored, with its usage counts.
async fn stored(
    shop: &Shop,
    id: &str,
) -> (
    keyhook_shared::domain::License,
    keyhook_shared::domain::validation::LicenseUsage,
) {
    shop.stack
        .services
        .store
        .get_license_with_usage(id)
        .await
        .unwrap()
        .expect("the license is stored")
}

/// The license's Checkout Session, bought by `cus_Buyer1`, and Stripe's meter events.
async fn mount_buyer(world: &keyhook_tests::World, lic: &keyhook_shared::domain::License) {
    let cs = lic.source.checkout_session_id.clone().unwrap();
    let mut session: Value =
        serde_json::from_str(keyhook_tests::fake_stripe::SESSION_FIXTURE).unwrap();
    session["id"] = json!(cs);
    session["customer"] = json!("cus_Buyer1");
    world
        .stripe
        .object(&format!("checkout/sessions/{cs}"), session)
        .await;
    world.stripe.mount_meter_events().await;
}

/// Records in a test build (the license is a test-mode one): the answer's code.
async fn record_test(shop: &Shop, key: &str, product: &str, quantity: u64, idem: &str) -> Value {
    let (status, a, _) = post(
        shop,
        json!({"licenseKey": key, "productId": product, "meter": "api", "quantity": quantity,
               "idempotencyKey": idem, "environment": "test"}),
    )
    .await;
    assert_eq!(status, 200, "{a}");
    a["code"].clone()
}

#[tokio::test]
async fn accepted_usage_is_reported_to_stripe_once_per_record() {
    let (world, product, id, key) = billed().await;
    assert_eq!(record_test(&world, &key, &product, 3, "a").await, "VALID");
    assert_eq!(record_test(&world, &key, &product, 3, "a").await, "VALID");
    assert_eq!(record_test(&world, &key, &product, 2, "b").await, "VALID");
    assert_eq!(
        record_test(&world, &key, &product, 9, "c").await,
        "USAGE_LIMIT_REACHED"
    );
    world.stack.deliver().await;
    // Sent again (a stream record read twice): Stripe keeps one per identifier.
    keyhook_shared::services::meter_reports::report_pending(&world.stack.services, &id)
        .await
        .unwrap();
    let events = world.stripe.meter_events();
    assert_eq!(events.len(), 2, "{events:?}");
    for (e, (idem, value)) in events.iter().zip([("a", "3"), ("b", "2")]) {
        assert_eq!(e["event_name"], "api_calls");
        assert_eq!(e["identifier"], format!("{id}:api:{idem}"));
        assert_eq!(e["payload"]["stripe_customer_id"], "cus_Buyer1");
        assert_eq!(e["payload"]["value"], value);
    }
    let posts: Vec<_> = world
        .stripe
        .requests()
        .await
        .into_iter()
        .filter(|r| r.path == "/v1/billing/meter_events")
        .collect();
    let bearer = format!("Bearer {}", world.app.secret_key);
    assert!(posts
        .iter()
        .all(|r| r.header("authorization") == Some(bearer.as_str())));
    let (_, usage) = stored(&world, &id).await;
    assert!(usage.meters["api"].pending.is_empty());
    assert_eq!(usage.meters["api"].reported, 5);
}

#[tokio::test]
async fn usage_is_reported_once_stripe_is_back() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    let (world, product, id, key) = billed().await;
    Mock::given(method("POST"))
        .and(path("/v1/billing/meter_events"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({"error": {
            "type": "api_error", "message": "Stripe is having trouble"}})))
        .with_priority(1)
        .mount(&world.stripe.server)
        .await;
    assert_eq!(record_test(&world, &key, &product, 4, "x").await, "VALID");
    assert!(world.stack.try_drain_stream().await.is_err());
    assert!(world.stripe.meter_events().is_empty());
    let (_, usage) = stored(&world, &id).await;
    assert_eq!(usage.meters["api"].pending.len(), 1, "still pending");
    // Stripe is back.
    world.stripe.server.reset().await;
    let (lic, _) = stored(&world, &id).await;
    mount_buyer(&world, &lic).await;
    world.stack.deliver().await;
    let events = world.stripe.meter_events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["identifier"], format!("{id}:api:x"));
    assert_eq!(events[0]["payload"]["value"], "4");
}

#[tokio::test]
async fn a_report_stripe_refuses_is_marked_failed_shown_and_does_not_hold_the_others() {
    use keyhook_shared::domain::member::Role;
    use wiremock::matchers::{body_string_contains, method, path};
    use wiremock::{Mock, ResponseTemplate};
    let (world, product, id, key) = billed().await;
    // Stripe refuses the first record's event for good, as it does an event of no meter.
    Mock::given(method("POST"))
        .and(path("/v1/billing/meter_events"))
        .and(body_string_contains("refused-1"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "type": "invalid_request_error",
            "message": "No active meter was found matching event_name api_calls."}})))
        .with_priority(1)
        .mount(&world.stripe.server)
        .await;
    assert_eq!(
        record_test(&world, &key, &product, 3, "refused-1").await,
        "VALID"
    );
    assert_eq!(
        record_test(&world, &key, &product, 2, "taken-1").await,
        "VALID"
    );
    world.stack.deliver().await;
    let events = world.stripe.meter_events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["identifier"], format!("{id}:api:taken-1"));
    let (_, usage) = stored(&world, &id).await;
    let api = &usage.meters["api"];
    assert!(api.pending.is_empty(), "nothing left to retry: {api:?}");
    assert_eq!((api.reported, api.failed), (2, 3));
    // The license page says what Stripe refused, in Stripe's words.
    let owner = format!("{}@example.com", keyhook_tests::unique("owner"));
    world.stack.member(&world.tenant, &owner, Role::Owner).await;
    let d = world.stack.sign_in(&world.tenant, &owner).await;
    let page = d.get(&format!("/dashboard/licenses/{id}")).await;
    assert!(
        page.body.contains("2 reported, 0 pending")
            && page.body.contains(
                "3 refused by Stripe: Stripe refused meter event api_calls: No active meter was found matching event_name api_calls."
            ),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn a_full_report_backlog_refuses_the_record_and_counts_nothing() {
    use keyhook_shared::domain::validation::meters::{self, MeterCount, MeterReport};
    let (world, product, id, key) = billed().await;
    assert_eq!(
        record_test(&world, &key, &product, 1, "first").await,
        "VALID"
    );
    // Stripe has been unreachable for long: the license has the most reports that may wait.
    let store = &world.stack.services.store;
    let (lic, usage) = stored(&world, &id).await;
    let mut counts = usage.meters.clone();
    let api: &mut MeterCount = counts.get_mut("api").unwrap();
    api.pending = (0..meters::MAX_PENDING_REPORTS)
        .map(|i| MeterReport {
            id: format!("{id}:api:old-{i}"),
            event: "api_calls".into(),
            value: 0,
            at: 0,
        })
        .collect();
    store
        .write_meters(&lic, usage.meter_version, &counts)
        .await
        .unwrap();
    let body = json!({"licenseKey": key, "productId": product, "meter": "api", "quantity": 1,
                      "idempotencyKey": "one-too-many", "environment": "test"});
    let (status, a, _) = post(&world, body.clone()).await;
    assert_eq!(status, 502, "{a}");
    assert_eq!(a["error"]["code"], "upstream_unavailable");
    let (_, after) = stored(&world, &id).await;
    assert_eq!(
        after.meters["api"].used, 1,
        "the refused record counted nothing"
    );
    assert_eq!(
        after.meters["api"].pending.len(),
        meters::MAX_PENDING_REPORTS
    );
    // Once the backlog drains, the same request (same idempotencyKey) counts.
    let mut drained = after.meters.clone();
    drained.get_mut("api").unwrap().pending.clear();
    store
        .write_meters(&lic, after.meter_version, &drained)
        .await
        .unwrap();
    let (status, a, _) = post(&world, body).await;
    assert_eq!((status, &a["code"]), (200, &json!("VALID")), "{a}");
    assert_eq!(a["usage"]["used"], 2);
}

#[tokio::test]
async fn usage_of_a_license_not_sold_through_stripe_is_marked_unbillable_not_kept_pending() {
    let (world, product, _, _) = billed().await;
    let (status, l) = world
        .stack
        .api(
            &world.tenant.token,
            "POST",
            "/api/licenses",
            Some(json!({"productId": product, "customerEmail": "by-hand@example.com"})),
        )
        .await;
    assert_eq!(status, 201, "{l}");
    let (id, key) = (l["id"].as_str().unwrap(), l["key"].as_str().unwrap());
    assert_eq!(
        record_test(&world, key, &product, 4, "by-hand").await,
        "VALID"
    );
    world.stack.deliver().await;
    assert!(world.stripe.meter_events().is_empty());
    let (_, usage) = stored(&world, id).await;
    let api = &usage.meters["api"];
    assert_eq!((api.used, api.pending.len(), api.failed), (4, 0, 4));
    assert_eq!(
        api.last_failure.as_deref(),
        Some("the license was not sold through Stripe")
    );
}
