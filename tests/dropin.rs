//! Issue 13, drop-in for ExisOne and Lukittu merchants: their Stripe setup works unchanged
//! (Stripe's own example objects, both API shapes where the shape matters, signed events
//! through the real webhook routes, a fake Stripe API), and their existing keys keep working
//! (imports of ExisOne, Lukittu and Keygen exports from `tests/data/`, then validation,
//! activation and deactivation of the imported keys).

use keyhook_cli::import::{self, Format};
use keyhook_tests::stripe::{self as fake, Sale, Shape};
use keyhook_tests::{expiry, now, Stack, World, DAY};
use serde_json::{json, Value};

// ---------------------------------------------------------------- their Stripe setup, unchanged

#[tokio::test]
async fn exisone_subscription_checkout_with_metadata_only_in_subscription_data_is_verified_as_one_purchase(
) {
    // The first invoice carries the subscription's metadata (read anyway for its period), or
    // not (then the subscription is read).
    for (shape, invoice_carries_it) in [
        (Shape::Legacy, true),
        (Shape::Legacy, false),
        (Shape::Basil, true),
        (Shape::Basil, false),
    ] {
        let w = World::open().await;
        let product = w.product(json!({})).await;
        // ExisOne's example: `subscription_data.metadata` only; the session's metadata is empty.
        let sale = Sale::subscription(json!({"productId": product}));
        let mut session = fake::session(&sale, "paid");
        session["metadata"] = json!({});
        let p1 = now() + 30 * DAY;
        let first = fake::invoice(
            &sale,
            sale.invoice.as_deref().unwrap(),
            "subscription_create",
            p1,
            shape,
            invoice_carries_it,
        );
        w.stripe
            .subscription(fake::subscription(&sale, "active", p1, false, shape))
            .await;
        w.stripe.invoice(first.clone()).await;

        let r = w
            .deliver(&fake::event(
                "checkout.session.completed",
                session,
                shape,
                now(),
            ))
            .await;
        assert_eq!(r["status"], "verified", "{shape:?}: {r}");
        let subscription_reads = w
            .stripe
            .requests()
            .await
            .iter()
            .filter(|r| r.path.starts_with("/v1/subscriptions/"))
            .count();
        assert_eq!(
            subscription_reads,
            usize::from(!invoice_carries_it),
            "{shape:?}: at most one extra Stripe read"
        );
        let issued = r["licenseIds"].clone();
        assert_eq!(issued.as_array().unwrap().len(), 1, "{shape:?}");
        // The first invoice is the same purchase: nothing more.
        let r = w
            .deliver(&fake::event("invoice.paid", first, shape, now() + 1))
            .await;
        assert_eq!(r["status"], "verified");
        assert_eq!(r["licenseIds"], issued, "{shape:?}");
        let licenses = w.licenses().await;
        assert_eq!(licenses.len(), 1, "{shape:?}");
        assert_eq!(
            expiry(&licenses[0]),
            Some(p1 + 3 * DAY),
            "{shape:?}: the paid period"
        );
        w.stack.drain_mail().await;
        assert_eq!(w.stack.emails_to(&sale.email).await.len(), 1);
    }
}

#[tokio::test]
async fn payment_intent_backup_with_metadata_on_the_session_only_issues_the_same_purchase() {
    let w = World::open().await;
    let product = w.product(json!({})).await;
    // ExisOne's documented one-time setup: metadata on the session, none on the intent.
    let sale = Sale::one_time(json!({"productId": product, "quantity": "2"}));
    let session = fake::session(&sale, "paid");
    w.stripe
        .sessions_of_intent(
            sale.payment_intent.as_deref().unwrap(),
            vec![session.clone()],
        )
        .await;
    let intent = fake::payment_intent(&sale, json!({}), None);
    let r = w
        .deliver(&fake::event(
            "payment_intent.succeeded",
            intent,
            Shape::Basil,
            now(),
        ))
        .await;
    assert_eq!(r["status"], "verified", "{r}");
    assert_eq!(r["licenseIds"].as_array().unwrap().len(), 2);
    let licenses = w.licenses().await;
    assert_eq!(licenses.len(), 2);
    assert_eq!(licenses[0]["customerEmail"], sale.email.as_str());
    assert_eq!(licenses[0]["source"]["checkoutSessionId"], session["id"]);
    // The session's own event is the same purchase.
    let r = w
        .deliver(&fake::event(
            "checkout.session.completed",
            session,
            Shape::Basil,
            now(),
        ))
        .await;
    assert_eq!(r["status"], "verified");
    assert_eq!(w.licenses().await.len(), 2);

    // An intent whose session carries no Keyhook metadata is not Keyhook's: nothing, no failure.
    let other = Sale::one_time(json!({"orderId": "77"}));
    w.stripe
        .sessions_of_intent(
            other.payment_intent.as_deref().unwrap(),
            vec![fake::session(&other, "paid")],
        )
        .await;
    let r = w
        .deliver(&fake::event(
            "payment_intent.succeeded",
            fake::payment_intent(&other, json!({}), None),
            Shape::Basil,
            now(),
        ))
        .await;
    assert_eq!(
        (r["status"].as_str(), r["licenseIds"].clone()),
        (Some("verified"), json!([]))
    );
    assert_eq!(w.licenses().await.len(), 2);
}

#[tokio::test]
async fn exisone_api_authorization_is_accepted_like_bearer() {
    let stack = Stack::start().await;
    let tenant = stack.tenant("Acme").await;
    let call = |scheme: &'static str| {
        let req = stack
            .http
            .get(format!("{}/api/stripe/diagnostics", stack.base_url))
            .header("authorization", format!("{scheme} {}", tenant.token));
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        call("ExisOneApi").await,
        200,
        "ExisOne's diagnostics example"
    );
    assert_eq!(call("exisoneapi").await, 200);
    assert_eq!(call("Bearer").await, 200);
    assert_eq!(call("Basic").await, 401);
}

#[tokio::test]
async fn lukittu_product_ids_and_expiration_days_resolve_through_external_ids() {
    let w = World::open().await;
    let lukittu_id = "7f3c9a2e-1b4d-4e6f-8a0b-2c4d6e8f0a1b";
    // A new product: no default duration, so Lukittu's expiration_days decides.
    let (status, p) = w
        .stack
        .api(
            &w.tenant.token,
            "POST",
            "/api/products",
            Some(json!({"name": "Lukittu Pro", "externalIds": [lukittu_id]})),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    assert_eq!(p["defaultLicenseDays"], Value::Null);
    assert_eq!(p["externalIds"], json!([lukittu_id]));
    let perpetual = w
        .product(json!({"name": "Forever", "defaultLicenseDays": 0, "externalIds": ["lk-forever"]}))
        .await;

    let sale = Sale::one_time(json!({}));
    let session = fake::session(&sale, "paid");
    w.stripe
        .line_items(
            session["id"].as_str().unwrap(),
            vec![
                fake::line_item(
                    1,
                    json!({"product_id": lukittu_id, "expiration_days": "30", "hwid_limit": "2"}),
                ),
                fake::line_item(
                    1,
                    json!({"product_id": "lk-forever", "expiration_days": "30"}),
                ),
            ],
        )
        .await;
    let r = w
        .deliver(&fake::event(
            "checkout.session.completed",
            session,
            Shape::Basil,
            now(),
        ))
        .await;
    assert_eq!(r["status"], "verified", "{r}");
    let licenses = w.licenses().await;
    assert_eq!(licenses.len(), 2);
    for l in &licenses {
        let days = expiry(l).map(|e| (e - now() + DAY / 2) / DAY);
        if l["productId"] == perpetual.as_str() {
            assert_eq!(days, None, "defaultLicenseDays 0 overrides expiration_days");
        } else {
            assert_eq!(l["productId"], p["id"]);
            assert_eq!(days, Some(30), "unset default: expiration_days decides");
            assert_eq!(l["maxDevices"], 2);
        }
    }

    // Subscriptions in both API shapes: the invoice's Stripe Product names the Lukittu id.
    for shape in Shape::ALL {
        let sale = Sale::subscription(json!({}));
        w.stripe
            .product("prod_keyhook", json!({"product_id": lukittu_id}))
            .await;
        w.stripe
            .subscription(fake::subscription(
                &sale,
                "active",
                now() + 30 * DAY,
                false,
                shape,
            ))
            .await;
        let invoice = fake::invoice(
            &sale,
            &fake::id("in"),
            "subscription_cycle",
            now() + 30 * DAY,
            shape,
            false,
        );
        let r = w
            .deliver(&fake::event("invoice.paid", invoice, shape, now()))
            .await;
        assert_eq!(
            r["licenseIds"].as_array().unwrap().len(),
            1,
            "{shape:?}: {r}"
        );
    }

    // An id nobody has: a clear failure naming it.
    let sale = Sale::one_time(json!({}));
    let session = fake::session(&sale, "paid");
    w.stripe
        .line_items(
            session["id"].as_str().unwrap(),
            vec![fake::line_item(1, json!({"product_id": "lk-unknown-0001"}))],
        )
        .await;
    let r = w
        .deliver(&fake::event(
            "checkout.session.completed",
            session,
            Shape::Basil,
            now(),
        ))
        .await;
    assert_eq!(r["status"], "failed");
    assert!(
        r["error"].as_str().unwrap().contains("\"lk-unknown-0001\""),
        "{r}"
    );
}

#[tokio::test]
async fn huge_metadata_day_counts_are_a_failed_event_never_a_panic() {
    let w = World::open().await;
    let product = w.product(json!({"defaultLicenseDays": 365})).await;
    for days in ["100001", "4294967295", "99999999999999"] {
        let sale = Sale::one_time(json!({}));
        let session = fake::session(&sale, "paid");
        w.stripe
            .line_items(
                session["id"].as_str().unwrap(),
                vec![fake::line_item(
                    1,
                    json!({"product_id": product, "expiration_days": days}),
                )],
            )
            .await;
        let event = fake::event("checkout.session.completed", session, Shape::Basil, now());
        let r = w.deliver(&event).await;
        assert_eq!(r["status"], "failed", "{days}: {r}");
        assert!(
            r["error"].as_str().unwrap().contains("expiration_days"),
            "{r}"
        );
        // Stripe's retry gets the same answer: recorded, 200.
        assert_eq!(w.deliver(&event).await["status"], "failed");
    }
    assert!(w.licenses().await.is_empty());
    let (_, log) = w
        .stack
        .api(
            &w.tenant.token,
            "GET",
            "/api/stripe/events?status=failed",
            None,
        )
        .await;
    assert_eq!(log["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn lukittus_webhook_url_is_an_alias_of_the_shared_url() {
    let w = World::open().await;
    let product = w.product(json!({})).await;
    let sale = Sale::one_time(json!({"productId": product}));
    let event = fake::event(
        "checkout.session.completed",
        fake::session(&sale, "paid"),
        Shape::Basil,
        now(),
    );
    let path = format!("/api/v1/integrations/stripe?teamId={}", w.tenant.id);
    let r = w.deliver_to(&path, &event).await;
    assert_eq!(r["status"], "verified");
    assert_eq!(r["appId"], w.app.id.as_str());
    assert_eq!(w.licenses().await.len(), 1);
    // Another team's id narrows the search away from this app.
    let other = w.stack.tenant("Other").await;
    let (status, body) = w
        .stack
        .post_event(
            &format!("/api/v1/integrations/stripe?teamId={}", other.id),
            &event,
            &w.app.webhook_secret,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("no_app_matched_signature"))
    );
    // Without teamId, like the shared URL.
    let r = w.deliver_to("/api/v1/integrations/stripe", &event).await;
    assert_eq!(r["duplicate"], true);
}

#[tokio::test]
async fn external_ids_are_unique_per_tenant() {
    let w = World::open().await;
    let a = w.product(json!({"externalIds": ["lk-1", "lk-2"]})).await;
    let (status, body) = w
        .stack
        .api(
            &w.tenant.token,
            "POST",
            "/api/products",
            Some(json!({"name": "B", "externalIds": ["lk-3", "lk-2"]})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains(&a),
        "{body}"
    );
    // Nothing of the refused product was kept: lk-3 is still free.
    let b = w.product(json!({"externalIds": ["lk-3"]})).await;
    // Another tenant may use the same alias.
    let other = w.stack.tenant("Other").await;
    w.stack
        .product(&other, json!({"externalIds": ["lk-1"]}))
        .await;
    // Moving an alias: released by one product, taken by another.
    let (status, _) = w
        .stack
        .api(
            &w.tenant.token,
            "PUT",
            &format!("/api/products/{a}"),
            Some(json!({"externalIds": ["lk-1"]})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = w
        .stack
        .api(
            &w.tenant.token,
            "PUT",
            &format!("/api/products/{b}"),
            Some(json!({"externalIds": ["lk-3", "lk-2"]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = w
        .stack
        .api(
            &w.tenant.token,
            "PUT",
            &format!("/api/products/{b}"),
            Some(json!({"externalIds": ["lk-1"]})),
        )
        .await;
    assert_eq!(status, 409);
    for bad in [json!(["a,b"]), json!(["x", "x"]), json!([""])] {
        let (status, body) = w
            .stack
            .api(
                &w.tenant.token,
                "PUT",
                &format!("/api/products/{b}"),
                Some(json!({"externalIds": bad})),
            )
            .await;
        let field = body["error"]["field"].as_str().unwrap_or_default();
        assert_eq!(status, 422, "{bad}: {body}");
        assert!(field.starts_with("externalIds"), "{bad}: {body}");
    }
    // Deleting a product frees its aliases.
    let (status, _) = w
        .stack
        .api(
            &w.tenant.token,
            "DELETE",
            &format!("/api/products/{a}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    w.product(json!({"externalIds": ["lk-1"]})).await;
}

#[tokio::test]
async fn a_product_list_can_issue_one_license_valid_for_each_listed_product() {
    let w = World::open().await;
    let suite = w
        .product(json!({"name": "Suite", "listedProducts": "one_license", "maxDevices": 0}))
        .await;
    let addon = w
        .product(json!({"name": "Add-on", "externalIds": ["lk-addon"]}))
        .await;
    let unrelated = w.product(json!({"name": "Other"})).await;
    let sale = Sale::one_time(json!({}));
    let session = fake::session(&sale, "paid");
    w.stripe
        .line_items(
            session["id"].as_str().unwrap(),
            vec![fake::line_item(
                2,
                json!({"product_id": format!("{suite},lk-addon")}),
            )],
        )
        .await;
    let r = w
        .deliver(&fake::event(
            "checkout.session.completed",
            session,
            Shape::Basil,
            now(),
        ))
        .await;
    assert_eq!(
        r["licenseIds"].as_array().unwrap().len(),
        2,
        "one license per unit: {r}"
    );
    let licenses = w.licenses().await;
    assert_eq!(licenses.len(), 2);
    for l in &licenses {
        assert_eq!(l["productId"], suite.as_str());
        assert_eq!(l["productIds"], json!([suite, addon]));
        let key = l["key"].as_str().unwrap();
        for p in [&suite, &addon] {
            assert_eq!(w.check("validate", key, p, None).await["code"], "VALID");
        }
        assert_eq!(
            w.check("validate", key, &unrelated, None).await["code"],
            "PRODUCT_MISMATCH"
        );
    }
}

// ---------------------------------------------------------------- their existing keys, valid

/// Imports a sample export through the CLI's reader and the admin API; returns the reports of
/// a dry run, the import, and a re-run.
async fn import_file(
    w: &World,
    format: Format,
    file: &str,
) -> [keyhook_shared::handlers::admin::license_import::ImportReport; 3] {
    let text =
        std::fs::read_to_string(format!("{}/data/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let parsed = import::parse(format, &text).unwrap();
    assert!(parsed.skipped.is_empty(), "{:?}", parsed.skipped);
    let mut out = Vec::new();
    for dry_run in [true, false, false] {
        let before = w.licenses().await.len();
        let reports = import::send(
            &w.stack.http,
            &w.stack.base_url,
            &w.tenant.token,
            &parsed.licenses,
            dry_run,
            2,
            |_| {},
        )
        .await
        .unwrap();
        let mut all = reports[0].clone();
        for r in &reports[1..] {
            all.created += r.created;
            all.unchanged += r.unchanged;
            all.failed += r.failed;
            all.results.extend(r.results.clone());
        }
        assert_eq!(all.failed, 0, "{:?}", all.results);
        if dry_run {
            assert_eq!(
                w.licenses().await.len(),
                before,
                "a dry run changes nothing"
            );
        }
        out.push(all);
    }
    let [dry, first, again] = <[_; 3]>::try_from(out).unwrap();
    assert_eq!(
        dry.created, first.created,
        "the dry run said what would be created"
    );
    assert_eq!(
        (again.created, again.unchanged),
        (0, first.created),
        "a re-run changes nothing"
    );
    [dry, first, again]
}

async fn license_by_key(w: &World, key: &str) -> Value {
    w.licenses()
        .await
        .into_iter()
        .find(|l| l["key"] == key)
        .unwrap_or_else(|| panic!("no license with key {key}"))
}

#[tokio::test]
async fn exisone_csv_export_imports_and_its_keys_validate_activate_and_deactivate() {
    let w = World::open().await;
    // ExisOne's product 42 became a Keyhook product with a different id: an alias bridges it.
    let product = w
        .product(json!({"name": "Pro", "externalIds": ["7"], "maxDevices": 5}))
        .await;
    let [_, first, _] = import_file(&w, Format::Exisone, "exisone-licenses.csv").await;
    assert_eq!(first.created, 4);

    let ada = license_by_key(&w, "EX7Q-4MZP-9KDL-2WTR").await;
    assert_eq!(ada["productId"], product.as_str());
    assert_eq!(ada["customerEmail"], "ada@example.com");
    assert_eq!(ada["customerName"], "Ada Lovelace");
    assert_eq!(ada["expiresAt"], "2030-06-30T00:00:00.000Z");
    assert_eq!(ada["maxDevices"], 2);
    assert_eq!(ada["devices"].as_array().unwrap().len(), 2);
    assert_eq!(ada["emailStatus"], "disabled", "imports email nobody");
    // Device limit 2, both seats taken by imported devices.
    let key = "EX7Q-4MZP-9KDL-2WTR";
    assert_eq!(
        w.check("validate", key, &product, Some("ada-laptop")).await["code"],
        "VALID"
    );
    assert_eq!(
        w.check("activate", key, &product, Some("new-pc")).await["code"],
        "DEVICE_LIMIT_REACHED"
    );
    assert_eq!(
        w.check("deactivate", key, &product, Some("ada-desktop"))
            .await["code"],
        "NOT_ACTIVATED"
    );
    assert_eq!(
        w.check("activate", key, &product, Some("new-pc")).await["code"],
        "VALID"
    );
    // Keys are matched exactly as imported (surrounding spaces aside).
    assert_eq!(
        w.check("validate", " EX3V-8HNC-5RJB-7YQS ", &product, None)
            .await["code"],
        "VALID"
    );
    assert_eq!(
        w.check("validate", "ex3v-8hnc-5rjb-7yqs", &product, None)
            .await["code"],
        "NOT_FOUND"
    );
    assert_eq!(
        w.check("validate", "EX9T-2LWX-6GFA-4PMU", &product, None)
            .await["code"],
        "EXPIRED"
    );
    assert_eq!(
        w.check("validate", "EX5K-7DRE-3ZNB-8CHQ", &product, None)
            .await["code"],
        "REVOKED"
    );
}

#[tokio::test]
async fn lukittu_json_export_imports_with_its_product_ids_limits_and_hwids() {
    let w = World::open().await;
    let product = w
        .product(json!({"name": "Pro", "externalIds": ["7f3c9a2e-1b4d-4e6f-8a0b-2c4d6e8f0a1b"]}))
        .await;
    let [_, first, _] = import_file(&w, Format::Lukittu, "lukittu-licenses.json").await;
    assert_eq!(first.created, 3);
    let linus = license_by_key(&w, "QWUR7-PL2ZX-M8NVB-K4JTY-H6GFD").await;
    assert_eq!(
        (linus["maxDevices"].as_u64(), linus["maxIps"].as_u64()),
        (Some(2), Some(3))
    );
    assert_eq!(linus["customerName"], "Linus Torvalds");
    assert_eq!(
        linus["devices"][0]["deviceId"],
        "hwid-linus-workstation-0001"
    );
    assert_eq!(
        w.check(
            "validate",
            "QWUR7-PL2ZX-M8NVB-K4JTY-H6GFD",
            &product,
            Some("hwid-linus-workstation-0001")
        )
        .await["code"],
        "VALID"
    );
    // A Lukittu key that reads as a Keyhook key keeps Keyhook's lenient normalisation.
    let margaret = license_by_key(&w, "ABCDE-FGH1K-MN0PQ-RSTVW-XYZ23").await;
    assert_eq!(margaret["status"], "suspended");
    assert_eq!(
        margaret["expiresAt"], "2027-06-01T00:00:00.000Z",
        "createdAt + 365 days"
    );
    assert_eq!(
        w.check("validate", "abcde fgh1k mnopq rstvw xyz23", &product, None)
            .await["code"],
        "SUSPENDED"
    );
    let zuul = "ZUUL9-GATE8-KEEP7-MAST6-ER5XY";
    assert_eq!(license_by_key(&w, zuul).await["expiresAt"], Value::Null);
    assert_eq!(
        w.check("activate", zuul, &product, Some("device-0001"))
            .await["code"],
        "VALID"
    );
    assert_eq!(
        w.check("deactivate", zuul, &product, Some("device-0001"))
            .await["code"],
        "NOT_ACTIVATED"
    );
}

#[tokio::test]
async fn keygen_json_export_imports_with_owners_machines_and_statuses() {
    let w = World::open().await;
    let product = w
        .product(json!({"name": "Pro", "externalIds": ["3ab38aae-bbf7-4846-9c32-af9d94bf5d0b"]}))
        .await;
    let [_, first, _] = import_file(&w, Format::Keygen, "keygen-licenses.json").await;
    assert_eq!(first.created, 2);
    let key = "C1B6DE-39A6E3-DE1529-8559A0-4AF593-V3";
    let barbara = license_by_key(&w, key).await;
    assert_eq!(
        barbara["customerEmail"], "barbara@example.com",
        "the included owner"
    );
    assert_eq!(barbara["maxDevices"], 3);
    assert_eq!(barbara["expiresAt"], "2032-03-01T00:00:00.000Z");
    let machine = "4d:Eq:UV:D3:XZ:tL:WN:Bz:mA:Eg:E6:Mk:YX:dK:NC";
    assert_eq!(barbara["devices"][0]["deviceId"], machine);
    assert_eq!(barbara["devices"][0]["deviceName"], "Barbara's MacBook");
    assert_eq!(
        w.check("validate", key, &product, Some(machine)).await["code"],
        "VALID"
    );
    assert_eq!(
        w.check("validate", key, &product, Some("unknown-machine"))
            .await["code"],
        "NOT_ACTIVATED"
    );
    let edsger = license_by_key(&w, "7D2E91-4B8C03-A5F627-19E0D4-C3B8F1-V3").await;
    assert_eq!(
        (edsger["status"].as_str(), edsger["customerEmail"].as_str()),
        (Some("suspended"), Some("edsger@example.com"))
    );
}

#[tokio::test]
async fn import_entries_fail_alone_with_their_reason() {
    let w = World::open().await;
    let product = w.product(json!({"externalIds": ["p-1"]})).await;
    // A native key already issued here, and another tenant's imported key (the same legacy
    // key in two tenants is two licenses).
    let (_, native) = w
        .stack
        .api(
            &w.tenant.token,
            "POST",
            "/api/licenses",
            Some(json!({"productId": product})),
        )
        .await;
    let other = w.stack.tenant("Other").await;
    let other_product = w.stack.product(&other, json!({})).await;
    let (status, _) = w
        .stack
        .api(
            &other.token,
            "POST",
            "/api/licenses/import",
            Some(json!({"licenses": [
            {"key": "SHARED-KEY-1", "productId": other_product, "externalId": "o-1"}]})),
        )
        .await;
    assert_eq!(status, 200);
    let entry = |key: &str, product: &str, id: &str| json!({"key": key, "productId": product, "externalId": id});
    let (status, report) = w
        .import(json!({"licenses": [
            entry("GOOD-KEY-1", "p-1", "e-1"),
            entry(&"x".repeat(129), "p-1", "e-2"),
            entry("GOOD-KEY-2", "nope", "e-3"),
            entry(native["key"].as_str().unwrap(), "p-1", "e-4"),
            entry("SHARED-KEY-1", "p-1", "e-5"),
            entry("GOOD-KEY-3", "p-1", "e-1"),
            {"key": "GOOD-KEY-4", "productId": "p-1", "externalId": "e-6", "expiresAt": "tomorrow"},
        ]}))
        .await;
    assert_eq!(status, 200, "{report}");
    let errors: Vec<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["error"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(report["results"][0]["status"], "created");
    assert!(errors[1].contains("128"), "{errors:?}");
    assert!(errors[2].contains("\"nope\""), "{errors:?}");
    assert!(
        errors[3].contains(native["id"].as_str().unwrap()),
        "{errors:?}"
    );
    // Another tenant's legacy key is no business of this one: a license of its own.
    assert_eq!(report["results"][4]["status"], "created", "{errors:?}");
    assert!(errors[5].contains("twice"), "{errors:?}");
    assert!(errors[6].contains("expiresAt"), "{errors:?}");
    assert_eq!(
        (report["created"].as_u64(), report["failed"].as_u64()),
        (Some(2), Some(5))
    );
    // The same external id with another key later: refused, the first license stays.
    let (_, again) = w
        .import(json!({"licenses": [entry("OTHER-KEY", "p-1", "e-1")]}))
        .await;
    assert!(
        again["results"][0]["error"]
            .as_str()
            .unwrap()
            .contains("another key"),
        "{again}"
    );
    // Malformed bodies are refused whole.
    let (status, body) = w
        .import(json!({"licenses": [{"key": "K", "productId": "p-1"}]}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("validation_failed"))
    );
    let (status, _) = w.import(json!({"licenses": []})).await;
    assert_eq!(status, 422);
}

/// An imported license has no purchase and a key in its old service's format: a resend emails
/// that key exactly as the buyer knows it.
#[tokio::test]
async fn an_imported_license_can_be_resent_with_its_original_key() {
    let w = World::open().await;
    let product = w.product(json!({"externalIds": ["lk-9"]})).await;
    let buyer = format!("{}@example.com", keyhook_tests::unique("buyer"));
    let key = "lk_OldService-Key.0042";
    let (status, report) = w
        .import(json!({"licenses": [{
            "key": key, "productId": "lk-9", "externalId": "old-42", "customerEmail": buyer
        }]}))
        .await;
    assert_eq!(
        (status, report["created"].as_u64()),
        (200, Some(1)),
        "{report}"
    );
    let license = license_by_key(&w, key).await;
    assert_eq!(license["productId"], product.as_str());
    let (status, resend) = w
        .stack
        .api(
            &w.tenant.token,
            "POST",
            &format!(
                "/api/licenses/{}/resend-email",
                license["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(
        (status, resend["to"].as_str()),
        (202, Some(buyer.as_str())),
        "{resend}"
    );
    assert_eq!(w.stack.drain_mail().await, 1);
    let received = w.stack.emails_to(&buyer).await;
    assert_eq!(received.len(), 1);
    let body = received[0]["body"].as_str().unwrap();
    assert!(
        body.contains(key),
        "the key as the old service issued it: {body}"
    );
}
