//! Floating licenses end to end over HTTP against the emulator: seats taken by leases stay
//! exactly `maxConcurrent` under concurrent requests, heartbeats, releases and lapses; a
//! device gets its own lease back; borrowing holds the seat and its license file verifies;
//! another tenant's product or a forged lease id finds nothing; a lease and a heartbeat cost
//! one read and one conditional write.

use std::collections::BTreeSet;

use futures::future::join_all;
use keyhook_format::answer::{verify_answer, Expected};
use keyhook_format::LicenseFile;
use keyhook_tests::calls::{counted_services, CallCounter};
use keyhook_tests::Shop;
use serde_json::{json, Value};
use time::Duration;

const LEASES: &str = "/api/licenses/leases";

async fn call(
    base: &str,
    shop: &Shop,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value, Vec<u8>) {
    let url = format!("{base}{path}");
    let req = match method {
        "DELETE" => shop.stack.http.delete(url),
        _ => shop.stack.http.post(url),
    };
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let bytes = res.bytes().await.unwrap().to_vec();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, value, bytes)
}

async fn post(shop: &Shop, path: &str, body: Value) -> (u16, Value, Vec<u8>) {
    call(&shop.stack.base_url, shop, "POST", path, Some(body)).await
}

/// `POST /api/licenses/leases` for `device`: the answer (a 200).
async fn lease(shop: &Shop, key: &str, product: &str, device: &str) -> Value {
    let (status, a, _) = post(
        shop,
        LEASES,
        json!({"licenseKey": key, "productId": product, "deviceId": device}),
    )
    .await;
    assert_eq!(status, 200, "{a}");
    a
}

async fn heartbeat(shop: &Shop, lease_id: &str, product: &str, device: &str) -> Value {
    let (status, a, _) = post(
        shop,
        &format!("{LEASES}/{lease_id}/heartbeat"),
        json!({"productId": product, "deviceId": device}),
    )
    .await;
    assert_eq!(status, 200, "{a}");
    a
}

async fn release(shop: &Shop, lease_id: &str) -> u16 {
    call(
        &shop.stack.base_url,
        shop,
        "DELETE",
        &format!("{LEASES}/{lease_id}"),
        None,
    )
    .await
    .0
}

/// A live shop, a floating product with `extra`, and one license of it: (shop, product, key).
async fn floating(extra: Value) -> (Shop, String, String) {
    let shop = Shop::live().await;
    let product = shop.product(extra).await;
    let key = shop.license(&product).await;
    (shop, product, key)
}

#[tokio::test]
async fn fifty_simultaneous_requests_on_five_seats_take_exactly_five() {
    let (shop, product, key) = floating(json!({"maxConcurrent": 5, "leaseSeconds": 60})).await;
    let answers = join_all((0..50).map(|i| {
        let (shop, key, product) = (&shop, &key, &product);
        async move {
            let device = format!("device-{i}");
            let (status, a, raw) = post(
                shop,
                LEASES,
                json!({"licenseKey": key, "productId": product, "deviceId": device, "nonce": format!("n-{i}")}),
            )
            .await;
            assert_eq!(status, 200, "{a}");
            (device, a, raw)
        }
    }))
    .await;
    let keys = shop.signing_keys().await;
    let mut holders = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for (i, (device, a, raw)) in answers.iter().enumerate() {
        // Every answer is signed and about this request (product, device, nonce, license).
        let nonce = format!("n-{i}");
        let verified = verify_answer(
            &keys,
            raw,
            &Expected {
                product_id: &product,
                device_id: Some(device),
                nonce: Some(&nonce),
                license_key: Some(&key),
            },
        )
        .unwrap_or_else(|e| panic!("{device}: {e:?} {a}"));
        if verified.valid {
            let l = verified.lease.expect("a valid lease answer has its lease");
            assert_eq!(l.heartbeat_seconds, 20);
            holders.insert(device.clone());
            ids.insert(l.id);
        } else {
            assert_eq!(verified.code, "CONCURRENCY_LIMIT_REACHED", "{a}");
            let seats = verified.seats.expect("seats");
            assert_eq!((seats.in_use, seats.max_concurrent), (5, 5));
        }
    }
    assert_eq!(holders.len(), 5, "exactly five seats were taken");
    assert_eq!(ids.len(), 5, "five distinct leases");

    // A holder asking again gets its own lease back, never a second seat.
    let holder = holders.iter().next().unwrap();
    let first = answers.iter().find(|(d, ..)| d == holder).unwrap();
    let again = lease(&shop, &key, &product, holder).await;
    assert_eq!(again["lease"]["id"], first.1["lease"]["id"]);
    let refused = lease(&shop, &key, &product, "device-late").await;
    assert_eq!(refused["code"], "CONCURRENCY_LIMIT_REACHED");
    assert_eq!(refused["seats"]["inUse"], 5);
}

#[tokio::test]
async fn heartbeats_releases_and_takes_racing_never_exceed_the_seats() {
    let (shop, product, key) = floating(json!({"maxConcurrent": 5, "leaseSeconds": 60})).await;
    let mut held = Vec::new();
    for i in 0..5 {
        let a = lease(&shop, &key, &product, &format!("held-{i}")).await;
        assert_eq!(a["valid"], true, "{a}");
        held.push(a["lease"]["id"].as_str().unwrap().to_string());
    }
    enum Outcome {
        Beat(bool),
        Released(u16),
        Took(bool),
    }
    let mut work: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = Outcome>>>> = Vec::new();
    for (i, id) in held.iter().enumerate() {
        let (shop, product) = (&shop, &product);
        if i < 2 {
            work.push(Box::pin(async move {
                Outcome::Released(release(shop, id).await)
            }));
        } else {
            work.push(Box::pin(async move {
                let a = heartbeat(shop, id, product, &format!("held-{i}")).await;
                Outcome::Beat(a["valid"] == true)
            }));
        }
    }
    for i in 0..20 {
        let (shop, product, key) = (&shop, &product, &key);
        work.push(Box::pin(async move {
            let a = lease(shop, key, product, &format!("new-{i}")).await;
            Outcome::Took(a["valid"] == true)
        }));
    }
    let outcomes = join_all(work).await;
    let mut took = 0;
    for o in outcomes {
        match o {
            Outcome::Beat(ok) => assert!(ok, "a held lease's heartbeat is valid"),
            Outcome::Released(status) => assert_eq!(status, 204),
            Outcome::Took(ok) => took += usize::from(ok),
        }
    }
    assert!(
        took <= 2,
        "only the two released seats could be taken, not {took}"
    );
    // Fill what is left one by one: exactly five seats in all.
    let mut extra = 0;
    loop {
        let a = lease(&shop, &key, &product, &format!("fill-{extra}")).await;
        if a["valid"] != true {
            assert_eq!(a["seats"]["inUse"], 5, "{a}");
            break;
        }
        extra += 1;
    }
    assert_eq!(3 + took + extra, 5);
}

#[tokio::test]
async fn a_lapsed_lease_frees_its_seat_without_a_sweeper() {
    let (shop, product, key) = floating(json!({"maxConcurrent": 1, "leaseSeconds": 10})).await;
    let a = lease(&shop, &key, &product, "crashed").await;
    let crashed = a["lease"]["id"].as_str().unwrap().to_string();
    assert_eq!(a["lease"]["heartbeatSeconds"], 3);
    assert_eq!(
        lease(&shop, &key, &product, "other").await["code"],
        "CONCURRENCY_LIMIT_REACHED"
    );
    // A heartbeat within the lease keeps the seat.
    shop.stack.services.clock.advance(Duration::seconds(8));
    assert_eq!(
        heartbeat(&shop, &crashed, &product, "crashed").await["valid"],
        true
    );
    shop.stack.services.clock.advance(Duration::seconds(8));
    assert_eq!(
        lease(&shop, &key, &product, "other").await["code"],
        "CONCURRENCY_LIMIT_REACHED"
    );
    // The app crashes: no heartbeat for longer than the lease.
    shop.stack.services.clock.advance(Duration::seconds(11));
    let taken = lease(&shop, &key, &product, "other").await;
    assert_eq!(taken["valid"], true, "{taken}");
    let lapsed = heartbeat(&shop, &crashed, &product, "crashed").await;
    assert_eq!(
        (lapsed["valid"].clone(), lapsed["code"].clone()),
        (json!(false), json!("LEASE_EXPIRED"))
    );
    assert_eq!(release(&shop, &crashed).await, 404);
}

#[tokio::test]
async fn a_borrowed_lease_holds_its_seat_offline_until_returned() {
    let (shop, product, key) = floating(
        json!({"maxConcurrent": 1, "leaseSeconds": 10, "maxBorrowSeconds": 7200, "entitlements": ["pro"]}),
    )
    .await;
    let a = lease(&shop, &key, &product, "laptop").await;
    let id = a["lease"]["id"].as_str().unwrap().to_string();
    let borrow = format!("{LEASES}/{id}/borrow");
    let (status, e, _) = post(
        &shop,
        &borrow,
        json!({"productId": product, "deviceId": "laptop", "seconds": 7201}),
    )
    .await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{e}"
    );
    let (status, out, _) = post(
        &shop,
        &borrow,
        json!({"productId": product, "deviceId": "laptop", "seconds": 3600}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    let payload = LicenseFile(out["file"].as_str().unwrap().to_string())
        .verify(&shop.signing_keys().await, None)
        .unwrap();
    let now = shop.stack.services.clock.now();
    assert_eq!(
        payload.check(&product, "laptop", now, Duration::minutes(5)),
        Ok(())
    );
    assert_eq!(payload.expires_at, out["expiresAt"].as_str().unwrap());
    assert_eq!(payload.entitlements, vec!["pro"]);
    assert!(payload
        .check(
            &product,
            "laptop",
            now + Duration::seconds(3601),
            Duration::ZERO
        )
        .is_err());
    // Offline, no heartbeat, long past the lease: the seat stays taken.
    shop.stack.services.clock.advance(Duration::seconds(600));
    let refused = lease(&shop, &key, &product, "desktop").await;
    assert_eq!(refused["code"], "CONCURRENCY_LIMIT_REACHED", "{refused}");
    let held = heartbeat(&shop, &id, &product, "laptop").await;
    assert_eq!(held["valid"], true);
    assert!(held["lease"]["borrowedUntil"].is_string(), "{held}");
    // Returned early: the seat is free at once.
    assert_eq!(release(&shop, &id).await, 204);
    assert_eq!(lease(&shop, &key, &product, "desktop").await["valid"], true);
}

#[tokio::test]
async fn leases_are_refused_as_validation_refuses_and_isolated_between_tenants() {
    let (shop, product, key) = floating(json!({"maxConcurrent": 2})).await;
    let a = lease(&shop, &key, &product, "pc").await;
    let id = a["lease"]["id"].as_str().unwrap().to_string();
    // Another tenant's product: neither the key nor the lease is found there.
    let other = shop.stack.tenant("Globex").await;
    let theirs = shop
        .stack
        .product(&other, json!({"maxConcurrent": 2}))
        .await;
    // The key answers there as validation answers it (a native key names its license
    // whatever the product: PRODUCT_MISMATCH, no seat, signed by the license's tenant).
    let found = lease(&shop, &key, &theirs, "pc").await;
    let (_, validated, _) = post(
        &shop,
        "/api/licenses/validate",
        json!({"licenseKey": key, "productId": theirs, "deviceId": "pc"}),
    )
    .await;
    assert_eq!(found["code"], validated["code"], "{found}");
    assert_eq!(found["code"], "PRODUCT_MISMATCH", "{found}");
    assert!(found.get("lease").is_none() && found.get("license").is_none());
    let beat = heartbeat(&shop, &id, &theirs, "pc").await;
    assert_eq!(beat["code"], "NOT_FOUND", "{beat}");
    assert!(beat.get("lease").is_none());
    // Another device presenting the lease id gets nothing either.
    assert_eq!(
        heartbeat(&shop, &id, &product, "thief").await["code"],
        "LEASE_EXPIRED"
    );
    // A forged lease id.
    let forged = format!("{}x", &id[..id.len() - 1]);
    assert_eq!(release(&shop, &forged).await, 404);
    assert_eq!(release(&shop, "lse_nothing").await, 404);
    // A product that is not floating: a clear 409.
    let plain = shop.product(json!({})).await;
    let plain_key = shop.license(&plain).await;
    let (status, e, _) = post(
        &shop,
        LEASES,
        json!({"licenseKey": plain_key, "productId": plain, "deviceId": "pc"}),
    )
    .await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{e}"
    );
    // A revoked license gets no lease, as validation says.
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
        lease(&shop, &revoked_key, &product, "pc").await["code"],
        "REVOKED"
    );
    // Bad input is named.
    let (status, e, _) = post(
        &shop,
        LEASES,
        json!({"licenseKey": key, "productId": product}),
    )
    .await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (422, Some("deviceId")),
        "{e}"
    );
}

#[tokio::test]
async fn a_license_overrides_its_products_terms() {
    let (shop, product, _) = floating(json!({"maxConcurrent": 1})).await;
    let (id, key) = shop.license_with_id(&product).await;
    let (status, l) = shop
        .stack
        .api(
            &shop.tenant.token,
            "PATCH",
            &format!("/api/licenses/{id}"),
            Some(json!({"maxConcurrent": 2, "leaseSeconds": 30})),
        )
        .await;
    assert_eq!(status, 200, "{l}");
    assert_eq!(
        (l["maxConcurrent"].clone(), l["leaseSeconds"].clone()),
        (json!(2), json!(30))
    );
    assert_eq!(
        lease(&shop, &key, &product, "a").await["lease"]["heartbeatSeconds"],
        10
    );
    assert_eq!(lease(&shop, &key, &product, "b").await["valid"], true);
    assert_eq!(
        lease(&shop, &key, &product, "c").await["seats"]["maxConcurrent"],
        2
    );
    let (status, e) = shop
        .stack
        .api(
            &shop.tenant.token,
            "PATCH",
            &format!("/api/licenses/{id}"),
            Some(json!({"leaseSeconds": 5})),
        )
        .await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (422, Some("leaseSeconds")),
        "{e}"
    );
    let (status, e) = shop
        .stack
        .api(
            &shop.tenant.token,
            "POST",
            "/api/products",
            Some(json!({"name": "F", "maxConcurrent": 0})),
        )
        .await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (422, Some("maxConcurrent")),
        "{e}"
    );
}

/// Cost: a lease and a heartbeat each make one read (the license item, signed directly) and
/// one conditional write, once the product and signing key are cached.
#[tokio::test]
async fn a_lease_and_a_heartbeat_cost_one_read_and_one_write() {
    let (shop, product, key) = floating(json!({"maxConcurrent": 10})).await;
    let counter = CallCounter::default();
    let services = counted_services(shop.stack.config(), &shop.stack.sdk, &counter);
    let base = shop.stack.serve_with(services.clone()).await;
    let take = |device: &str| json!({"licenseKey": key, "productId": product, "deviceId": device});
    call(&base, &shop, "POST", LEASES, Some(take("warm"))).await; // warm the caches
    let mut figures = Vec::new();
    for (name, path, body) in [
        ("lease", LEASES.to_string(), take("measured")),
        (
            "lease again (same device)",
            LEASES.to_string(),
            take("measured"),
        ),
    ] {
        counter.reset();
        let signed = services.store.signed_get_items();
        let (status, a, _) = call(&base, &shop, "POST", &path, Some(body)).await;
        assert_eq!((status, a["valid"].clone()), (200, json!(true)), "{a}");
        let calls = counter.take();
        figures.push((
            name,
            calls.clone(),
            services.store.signed_get_items() - signed,
        ));
        if name.starts_with("lease") {
            let id = a["lease"]["id"].as_str().unwrap().to_string();
            counter.reset();
            let signed = services.store.signed_get_items();
            let (status, b, _) = call(
                &base,
                &shop,
                "POST",
                &format!("{LEASES}/{id}/heartbeat"),
                Some(json!({"productId": product, "deviceId": "measured"})),
            )
            .await;
            assert_eq!((status, b["valid"].clone()), (200, json!(true)), "{b}");
            figures.push((
                "heartbeat",
                counter.take(),
                services.store.signed_get_items() - signed,
            ));
        }
    }
    for (name, calls, signed) in &figures {
        eprintln!("{name}: {calls:?} + {signed} signed GetItem");
        assert_eq!(*signed, 1, "{name}: one read of the license item");
        assert_eq!(
            calls.get("DynamoDB.UpdateItem"),
            Some(&1),
            "{name}: {calls:?}"
        );
        assert_eq!(
            calls.values().sum::<usize>(),
            1,
            "{name}: nothing else: {calls:?}"
        );
    }
}

/// The Rust client: `lease()` holds the seat with a background heartbeat, reports its loss
/// (a merchant's release), gives it back on drop, and borrows a license file.
#[tokio::test]
async fn the_rust_client_holds_reports_and_returns_its_seat() {
    use keyhook_client::{Client, Config, Error, SeatState};
    use std::sync::Arc;
    let (shop, product, key) =
        floating(json!({"maxConcurrent": 1, "leaseSeconds": 10, "maxBorrowSeconds": 3600})).await;
    let keys = String::from_utf8(shop.stack.published_keys(&shop.tenant.id).await).unwrap();
    let mut config = Config::new(&shop.stack.base_url, &product, &keys).unwrap();
    config.cache_dir =
        Some(std::env::temp_dir().join(format!("keyhook-leases-{}", shop.tenant.id)));
    let client = Arc::new(Client::new(config).unwrap());
    let guard = client.lease(&key, "laptop").await.unwrap();
    assert_eq!(guard.lease().heartbeat_seconds, 3);
    let first_expiry = guard.lease().expires_at.clone();
    // The seat is held: another device is refused with the signed counts.
    match client.lease(&key, "desktop").await {
        Err(Error::ConcurrencyLimit {
            in_use,
            max_concurrent,
        }) => assert_eq!((in_use, max_concurrent), (1, 1)),
        other => panic!("{other:?}"),
    }
    // The task heartbeats (every 3 s): the expiry moves.
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    match guard.state() {
        SeatState::Held { expires_at } => assert!(expires_at > first_expiry, "{expires_at}"),
        lost => panic!("{lost:?}"),
    }
    // Borrowed: a verified file for this device.
    let (_, file) = guard.borrow(time::Duration::seconds(600)).await.unwrap();
    assert_eq!(file.product_id, product);
    // Dropped: the seat comes back without waiting for the lease to lapse.
    drop(guard);
    let mut next = None;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if let Ok(g) = client.lease(&key, "desktop").await {
            next = Some(g);
            break;
        }
    }
    let mut next = next.expect("the dropped guard gave its seat back");
    // A merchant releases it from the dashboard's operation: the guard reports the loss.
    let license_id = next.answer().license_id.clone().unwrap();
    assert!(keyhook_shared::handlers::validate::leases::release_device(
        &shop.stack.services,
        &shop.tenant.id,
        &license_id,
        "desktop",
    )
    .await
    .unwrap());
    let lost = tokio::time::timeout(std::time::Duration::from_secs(10), next.lost())
        .await
        .expect("the loss is reported within a heartbeat");
    assert_eq!(
        lost,
        SeatState::Lost {
            code: "LEASE_EXPIRED".into(),
            detail:
                "The lease has lapsed or was released; take a new one (POST /api/licenses/leases)."
                    .into()
        }
    );
}

/// The dashboard: the product form sets the terms; the license page lists the seats in use
/// (device, since, last heartbeat, expiry; never a lease id) and releases one.
#[tokio::test]
async fn the_dashboard_sets_terms_shows_seats_and_releases_one() {
    use keyhook_shared::domain::member::Role;
    let (shop, product, _) = floating(json!({"maxConcurrent": 2})).await;
    let owner = format!("{}@example.com", keyhook_tests::unique("owner"));
    shop.stack.member(&shop.tenant, &owner, Role::Owner).await;
    let d = shop.stack.sign_in(&shop.tenant, &owner).await;
    // The product form's floating fields reach the API's rules.
    let form = d.get(&format!("/dashboard/products/{product}")).await;
    assert!(
        form.body.contains("name=\"leaseSeconds\""),
        "the form has the field"
    );
    let save = |lease: &'static str| {
        let (d, path) = (&d, format!("/dashboard/products/{product}"));
        async move {
            d.post(
                &path,
                &[
                    ("name", "Floating"),
                    ("price", "10"),
                    ("maxConcurrent", "3"),
                    ("leaseSeconds", lease),
                ],
            )
            .await
        }
    };
    let refused = save("5").await;
    assert!(
        refused.status >= 400
            && refused
                .body
                .contains("id=\"f-leaseSeconds-error\">must be at least 10<"),
        "{}",
        refused.body
    );
    assert_eq!(save("30").await.status, 303);
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
        (
            p["maxConcurrent"].clone(),
            p["leaseSeconds"].clone(),
            p["maxBorrowSeconds"].clone()
        ),
        (json!(3), json!(30), Value::Null)
    );
    let (license_id, key) = shop.license_with_id(&product).await;
    let a = lease(&shop, &key, &product, "desktop-7").await;
    let id = a["lease"]["id"].as_str().unwrap().to_string();
    let path = format!("/dashboard/licenses/{license_id}");
    let page = d.get(&path).await.body;
    let seats = &page[page.find("id=\"seats-title\"").expect("a Seats section")..];
    assert!(seats.contains("Seats in use (1 / 3)"), "{seats}");
    assert!(seats.contains("desktop-7"));
    assert!(
        !page.contains(&id) && !page.contains("lse_"),
        "no lease id in the page"
    );
    let released = d
        .post(&path, &[("action", "release"), ("deviceId", "desktop-7")])
        .await;
    assert_eq!(released.status, 303, "{}", released.body);
    let beat = heartbeat(&shop, &id, &product, "desktop-7").await;
    assert_eq!(beat["code"], "LEASE_EXPIRED");
    let again = d
        .post(&path, &[("action", "release"), ("deviceId", "desktop-7")])
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
}

/// `license.lease_limit_reached`: sent when a device is refused for want of seats, by the app,
/// at most once an hour per license.
#[tokio::test]
async fn running_out_of_seats_is_one_webhook_an_hour() {
    use keyhook_tests::merchant::MerchantEndpoint;
    let (shop, product, key) = floating(json!({"maxConcurrent": 1})).await;
    let merchant = MerchantEndpoint::start(&shop.stack.services.clock, &[], 200).await;
    shop.stack
        .endpoint(
            &shop.tenant,
            json!({"url": merchant.url, "eventTypes": ["license.lease_limit_reached"]}),
        )
        .await;
    assert_eq!(lease(&shop, &key, &product, "a").await["valid"], true);
    for device in ["b", "c", "d"] {
        let refused = lease(&shop, &key, &product, device).await;
        assert_eq!(refused["code"], "CONCURRENCY_LIMIT_REACHED");
    }
    shop.stack.deliver().await;
    let events: Vec<Value> = merchant
        .received()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "license.lease_limit_reached");
    assert_eq!(events[0]["data"]["actor"], "app");
    assert!(events[0]["data"]["license"]["id"]
        .as_str()
        .unwrap()
        .starts_with("lic_"));
    // An hour later the seats run out again: one more.
    shop.stack.services.clock.advance(Duration::minutes(61));
    // (a's lease lapsed meanwhile: it takes the seat again.)
    assert_eq!(lease(&shop, &key, &product, "a").await["valid"], true);
    assert_eq!(
        lease(&shop, &key, &product, "e").await["code"],
        "CONCURRENCY_LIMIT_REACHED"
    );
    shop.stack.deliver().await;
    assert_eq!(merchant.received().len(), 2);
}
