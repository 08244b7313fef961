//! The customer portal's self-service cores (`handlers::self_service`), on the local stack:
//! a buyer sees and changes only their own licenses with one tenant, a freed device stops
//! validating and is recorded as the customer's, and the 30-day limit holds under concurrent
//! frees.

use aws_sdk_dynamodb::types::AttributeValue;
use futures::future::join_all;
use keyhook_shared::handlers::self_service::{self as portal, SelfServiceError};
use keyhook_tests::merchant::MerchantEndpoint;
use keyhook_tests::{checkout_event, unique, Shop, TestApp, TestTenant, WEBHOOK};
use serde_json::{json, Value};

const IP: &str = "198.51.100.23";

/// Issues a license of `product` to `email` through a signed checkout to `app` of `tenant`;
/// its (id, key).
async fn license_for(
    shop: &Shop,
    (tenant, app): (&TestTenant, &TestApp),
    product: &str,
    email: &str,
) -> (String, String) {
    let (mut event, _) = checkout_event(product, None);
    event["data"]["object"]["customer_details"]["email"] = json!(email);
    event["data"]["object"]["customer_email"] = json!(email);
    let (status, receipt) = shop
        .stack
        .post_event(
            &format!("{WEBHOOK}/{}", app.id),
            &event,
            &app.webhook_secret,
        )
        .await;
    assert_eq!(status, 200, "{receipt}");
    let id = receipt["licenseIds"][0].as_str().unwrap().to_string();
    let (_, l) = shop
        .stack
        .api(&tenant.token, "GET", &format!("/api/licenses/{id}"), None)
        .await;
    (id, l["key"].as_str().unwrap().to_string())
}

fn ids(licenses: &[keyhook_shared::domain::License]) -> Vec<String> {
    let mut ids: Vec<String> = licenses.iter().map(|l| l.id.clone()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_buyer_sees_and_acts_on_only_their_own_licenses_with_that_tenant() {
    let shop = Shop::open().await;
    let s = &shop.stack.services;
    let product = shop.product(json!({"maxDevices": 2})).await;
    let email = format!("{}@example.com", unique("ada"));
    let (mine, _) = license_for(&shop, (&shop.tenant, &shop.app), &product, &email).await;
    // The same buyer, the address typed in capitals at checkout.
    let (mine_too, _) = license_for(
        &shop,
        (&shop.tenant, &shop.app),
        &product,
        &email.to_uppercase(),
    )
    .await;
    let (theirs, their_key) = license_for(
        &shop,
        (&shop.tenant, &shop.app),
        &product,
        &format!("{}@example.com", unique("bob")),
    )
    .await;
    // The same address at another merchant.
    let other = shop.stack.tenant("Other").await;
    let other_app = shop.stack.app(&other).await;
    let other_product = shop.stack.product(&other, json!({})).await;
    let (elsewhere, _) = license_for(&shop, (&other, &other_app), &other_product, &email).await;

    let mut expected = vec![mine.clone(), mine_too.clone()];
    expected.sort();
    let listed = portal::licenses_of(s, &shop.tenant.id, &email)
        .await
        .unwrap();
    assert_eq!(ids(&listed), expected);
    let listed = portal::licenses_of(s, &shop.tenant.id, &format!("  {}  ", email.to_uppercase()))
        .await
        .unwrap();
    assert_eq!(ids(&listed), expected, "the address is matched normalised");
    let listed = portal::licenses_of(s, &other.id, &email).await.unwrap();
    assert_eq!(ids(&listed), vec![elsewhere.clone()]);

    // Another buyer's license, and this buyer's license at the other tenant: not found.
    shop.check("activate", &their_key, &product, Some("bob-laptop"))
        .await;
    let t = &shop.tenant.id;
    for (tenant, license) in [
        (t.as_str(), theirs.as_str()),
        (t.as_str(), elsewhere.as_str()),
    ] {
        let refusals = [
            portal::license_of(s, tenant, &email, license).await.err(),
            portal::frees_remaining(s, tenant, &email, license, 3)
                .await
                .err(),
            portal::free_device(s, tenant, &email, license, "bob-laptop", None, 3)
                .await
                .err(),
            portal::license_file_for_device(s, tenant, &email, license, "bob-laptop")
                .await
                .err(),
            portal::resend_key(s, tenant, &email, license, None)
                .await
                .err(),
        ];
        for r in refusals {
            assert!(matches!(r, Some(SelfServiceError::NotFound)), "{r:?}");
            assert_eq!(r.unwrap().code(), "NOT_FOUND");
        }
    }
    assert_eq!(
        shop.admin_license(&theirs).await["devices"][0]["deviceId"],
        "bob-laptop",
        "nothing was freed"
    );

    // The merchant moves a license to another address: it leaves this buyer's list.
    let moved = format!("{}@example.com", unique("moved"));
    let (status, body) = shop
        .stack
        .api(
            &shop.tenant.token,
            "PATCH",
            &format!("/api/licenses/{mine_too}"),
            Some(json!({"customerEmail": moved})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let listed = portal::licenses_of(s, t, &email).await.unwrap();
    assert_eq!(ids(&listed), vec![mine.clone()]);
    let listed = portal::licenses_of(s, t, &moved).await.unwrap();
    assert_eq!(ids(&listed), [mine_too]);
}

#[tokio::test]
async fn a_freed_device_stops_validating_and_is_recorded_as_the_customers() {
    let shop = Shop::open().await;
    let s = &shop.stack.services;
    let t = shop.tenant.id.clone();
    let product = shop.product(json!({"maxDevices": 3})).await;
    let merchant = MerchantEndpoint::start(&s.clock, &[], 200).await;
    shop.stack
        .endpoint(
            &shop.tenant,
            json!({"url": merchant.url, "eventTypes": ["license.deactivated"]}),
        )
        .await;
    let email = format!("{}@example.com", unique("ada"));
    let (id, key) = license_for(&shop, (&shop.tenant, &shop.app), &product, &email).await;
    for device in ["old-laptop", "desktop"] {
        let answer = shop.check("activate", &key, &product, Some(device)).await;
        assert_eq!(answer["code"], "VALID", "{answer}");
    }

    let ip = Some(IP.parse().unwrap());
    let left = portal::free_device(s, &t, &email, &id, "old-laptop", ip, 3)
        .await
        .unwrap();
    assert_eq!(left, 2);
    assert_eq!(
        portal::frees_remaining(s, &t, &email, &id, 3)
            .await
            .unwrap(),
        2
    );
    let answer = shop
        .check("validate", &key, &product, Some("old-laptop"))
        .await;
    assert_eq!(answer["code"], "NOT_ACTIVATED", "{answer}");
    let answer = shop
        .check("validate", &key, &product, Some("desktop"))
        .await;
    assert_eq!(answer["code"], "VALID", "{answer}");
    // Freeing it again: it is no longer there.
    let again = portal::free_device(s, &t, &email, &id, "old-laptop", ip, 3).await;
    assert!(
        matches!(again, Err(SelfServiceError::NotActivated)),
        "{again:?}"
    );

    // A file for a device still activated; none for one that is not.
    let file = portal::license_file_for_device(s, &t, &email, &id, "desktop")
        .await
        .unwrap();
    assert!(file
        .file
        .starts_with("-----BEGIN KEYHOOK LICENSE FILE-----"));
    for device in ["old-laptop", "never-seen"] {
        let refused = portal::license_file_for_device(s, &t, &email, &id, device).await;
        assert_eq!(refused.err().map(|e| e.code()), Some("NOT_ACTIVATED"));
    }

    // The key's email, again, to the owner.
    let resent = portal::resend_key(s, &t, &email, &id, ip).await.unwrap();
    assert_eq!(resent.to, email);

    // The license's activity names the customer and their address; the webhook, the actor.
    let (status, activity) = shop
        .stack
        .api(
            &shop.tenant.token,
            "GET",
            &format!("/api/licenses/{id}/activity"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{activity}");
    let seen: Vec<(&str, &str, &str)> = activity["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["actor"].as_str().unwrap(),
                e["deviceId"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("email_resent", "customer", ""),
            ("device_deactivated", "customer", "old-laptop"),
            ("device_activated", "app", "desktop"),
            ("device_activated", "app", "old-laptop"),
            ("issued", "stripe", ""),
        ]
    );
    assert_eq!(activity["items"][1]["ip"], IP);
    shop.stack.deliver().await;
    let received: Vec<Value> = merchant.received().iter().map(|r| r.json()).collect();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["type"], "license.deactivated");
    assert_eq!(received[0]["data"]["actor"], "customer");
    assert_eq!(received[0]["data"]["device"]["deviceId"], "old-laptop");
}

#[tokio::test]
async fn the_limit_holds_under_concurrent_frees_and_zero_turns_it_off() {
    let shop = Shop::open().await;
    let s = &shop.stack.services;
    let t = shop.tenant.id.clone();
    let product = shop.product(json!({"maxDevices": 10})).await;
    let email = format!("{}@example.com", unique("ada"));
    let (id, key) = license_for(&shop, (&shop.tenant, &shop.app), &product, &email).await;
    let devices: Vec<String> = (0..10).map(|i| format!("device-{i:02}")).collect();
    for d in &devices {
        let answer = shop.check("activate", &key, &product, Some(d)).await;
        assert_eq!(answer["code"], "VALID", "{answer}");
    }

    let off = portal::free_device(s, &t, &email, &id, "device-00", None, 0).await;
    assert_eq!(off.err().map(|e| e.code()), Some("SELF_SERVICE_OFF"));

    let results = join_all(
        devices
            .iter()
            .map(|d| portal::free_device(s, &t, &email, &id, d, None, 3)),
    )
    .await;
    let freed = results.iter().filter(|r| r.is_ok()).count();
    let limited = results
        .iter()
        .filter(|r| matches!(r, Err(SelfServiceError::LimitReached { limit: 3, .. })))
        .count();
    assert_eq!((freed, limited), (3, 7), "{results:?}");
    let mut left: Vec<u32> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    left.sort();
    assert_eq!(left, [0, 1, 2]);
    let license = shop.admin_license(&id).await;
    assert_eq!(license["devices"].as_array().unwrap().len(), 7);
    assert_eq!(
        portal::frees_remaining(s, &t, &email, &id, 3)
            .await
            .unwrap(),
        0
    );
    // A device still active (which three the race freed varies).
    let active = license["devices"][0]["deviceId"]
        .as_str()
        .unwrap()
        .to_string();
    let refused = portal::free_device(s, &t, &email, &id, &active, None, 3).await;
    assert_eq!(
        refused.err().map(|e| e.code()),
        Some("SELF_SERVICE_LIMIT_REACHED")
    );
    // A merchant raising the limit gives the buyer more at once.
    assert_eq!(
        portal::frees_remaining(s, &t, &email, &id, 5)
            .await
            .unwrap(),
        2
    );
}

#[tokio::test]
async fn licenses_issued_before_the_buyer_index_join_it_once_indexed() {
    let shop = Shop::open().await;
    let s = &shop.stack.services;
    let t = shop.tenant.id.clone();
    let product = shop.product(json!({})).await;
    let email = format!("{}@example.com", unique("ada"));
    let (id, _) = license_for(&shop, (&shop.tenant, &shop.app), &product, &email).await;
    let someone_else =
        license_for(&shop, (&shop.tenant, &shop.app), &product, "x@example.com").await;
    // As a license written before the index was: no `gsi2` keys.
    let dynamo = aws_sdk_dynamodb::Client::new(&shop.stack.sdk);
    for license in [&id, &someone_else.0] {
        dynamo
            .update_item()
            .table_name(&shop.stack.resources.table)
            .key("pk", AttributeValue::S(format!("LICENSE#{license}")))
            .key("sk", AttributeValue::S("LICENSE".into()))
            .update_expression("REMOVE gsi2pk, gsi2sk")
            .send()
            .await
            .unwrap();
    }
    assert!(portal::licenses_of(s, &t, &email).await.unwrap().is_empty());

    assert_eq!(s.store.index_buyers(&t).await.unwrap(), 2);
    let listed = portal::licenses_of(s, &t, &email).await.unwrap();
    assert_eq!(ids(&listed), vec![id]);
    assert_eq!(s.store.index_buyers(&t).await.unwrap(), 0, "idempotent");
}
