//! Every Stripe purchase path, through the real webhook route with signed events and a fake
//! Stripe API, in both API shapes (before and after 2025-03-31), with duplicated and shuffled
//! deliveries: licenses, expiries, statuses and emails must come out the same.

use keyhook_tests::stripe::{self as fake, Sale, Shape};
use keyhook_tests::{expiry, now, World, DAY, WEBHOOK};
use serde_json::{json, Value};

#[tokio::test]
async fn delayed_payments_issue_when_the_payment_succeeds() {
    let w = World::open().await;
    let product = w.stack.product(&w.tenant, json!({})).await;
    let sale = Sale::one_time(json!({"productId": product}));
    let t = now();
    let session = fake::session(&sale, "unpaid");
    let r = w
        .deliver(&fake::event(
            "checkout.session.completed",
            session.clone(),
            Shape::Basil,
            t,
        ))
        .await;
    assert_eq!(r["status"], "verified");
    assert!(w.licenses().await.is_empty(), "not paid yet");

    let failed = w
        .deliver(&fake::event(
            "checkout.session.async_payment_failed",
            session.clone(),
            Shape::Basil,
            t + 1,
        ))
        .await;
    assert_eq!(failed["status"], "verified");
    assert!(w.licenses().await.is_empty());

    let mut paid = session.clone();
    paid["payment_status"] = json!("paid");
    let ok = fake::event(
        "checkout.session.async_payment_succeeded",
        paid,
        Shape::Basil,
        t + 2,
    );
    w.deliver_shuffled(&[ok], 1).await;
    assert_eq!(w.licenses().await.len(), 1);
    assert_eq!(w.emails(&sale.email).await, 1);
}

#[tokio::test]
async fn payment_intent_backup_and_the_session_are_one_purchase_in_any_order() {
    let w = World::open().await;
    let product = w.stack.product(&w.tenant, json!({})).await;
    for seed in 1..=3 {
        let sale = Sale::one_time(json!({"productId": product, "quantity": "2"}));
        let t = now();
        let session = fake::event(
            "checkout.session.completed",
            fake::session(&sale, "paid"),
            Shape::Basil,
            t,
        );
        let intent = fake::event(
            "payment_intent.succeeded",
            fake::payment_intent(
                &sale,
                json!({"productId": product, "quantity": "2"}),
                Some(&sale.email),
            ),
            Shape::Basil,
            t,
        );
        w.deliver_shuffled(&[session, intent], seed).await;
        let mine: Vec<Value> = w
            .licenses()
            .await
            .into_iter()
            .filter(|l| l["customerEmail"] == sale.email.as_str())
            .collect();
        assert_eq!(mine.len(), 2, "seed {seed}");
        assert_eq!(w.emails(&sale.email).await, 1, "seed {seed}");
    }
}

#[tokio::test]
async fn a_payment_intent_alone_issues_only_with_keyhook_metadata_and_finds_the_buyer() {
    let w = World::open().await;
    let product = w.stack.product(&w.tenant, json!({})).await;
    let sale = Sale::one_time(json!({}));
    let t = now();
    let foreign = fake::event(
        "payment_intent.succeeded",
        fake::payment_intent(&sale, json!({"orderId": "77"}), None),
        Shape::Basil,
        t,
    );
    assert_eq!(w.deliver(&foreign).await["licenseIds"], json!([]));

    // No receipt email: the buyer's email comes from the session that created the intent.
    let sale = Sale::one_time(json!({"productId": product}));
    w.stripe
        .sessions_of_intent(
            sale.payment_intent.as_deref().unwrap(),
            vec![fake::session(&sale, "paid")],
        )
        .await;
    let intent = fake::event(
        "payment_intent.succeeded",
        fake::payment_intent(&sale, json!({"productId": product}), None),
        Shape::Basil,
        t,
    );
    let r = w.deliver(&intent).await;
    assert_eq!(r["licenseIds"].as_array().unwrap().len(), 1);
    let l = &w.licenses().await[0];
    assert_eq!(l["customerEmail"], sale.email.as_str());
    assert_eq!(l["customerName"], "Grace Hopper");
    assert_eq!(w.emails(&sale.email).await, 1);
}

#[tokio::test]
async fn lukittu_product_metadata_issues_one_license_per_listed_product_with_its_limits() {
    let w = World::open().await;
    let a = w
        .stack
        .product(&w.tenant, json!({"name": "A", "defaultLicenseDays": 365}))
        .await;
    let b = w
        .stack
        .product(&w.tenant, json!({"name": "B", "defaultLicenseDays": 0}))
        .await;
    // A Payment Link sale: no productId on the session; the Stripe Product says what to issue.
    let sale = Sale::one_time(json!({}));
    let session = fake::session(&sale, "paid");
    w.stripe
        .line_items(
            session["id"].as_str().unwrap(),
            vec![
                fake::line_item(2, json!({"product_id": format!("{a}, {b}"), "ip_limit": "4", "hwid_limit": "3", "expiration_days": "30"})),
                fake::line_item(1, json!({"unrelated": "x"})),
            ],
        )
        .await;
    let event = fake::event("checkout.session.completed", session, Shape::Basil, now());
    w.deliver_shuffled(&[event], 7).await;
    let licenses = w.licenses().await;
    assert_eq!(licenses.len(), 4, "2 products × quantity 2");
    for l in &licenses {
        assert_eq!(
            (l["maxIps"].as_u64(), l["maxDevices"].as_u64()),
            (Some(4), Some(3))
        );
        let days = expiry(l).map(|e| (e - now()) / DAY);
        if l["productId"] == a.as_str() {
            assert!(
                matches!(days, Some(29..=30)),
                "expiration_days overrides the product default: {days:?}"
            );
        } else {
            assert_eq!(days, None, "a perpetual product stays perpetual");
        }
    }
    assert_eq!(
        w.emails(&sale.email).await,
        1,
        "one email with all four keys"
    );
}

#[tokio::test]
async fn exisone_metadata_wins_over_product_metadata_and_nothing_is_refused() {
    let w = World::open().await;
    let product = w.stack.product(&w.tenant, json!({})).await;
    let sale = Sale::one_time(json!({"productId": product}));
    let session = fake::session(&sale, "paid");
    // No line-item mock: reading them would fail the event with a 5xx.
    let r = w
        .deliver(&fake::event(
            "checkout.session.completed",
            session,
            Shape::Basil,
            now(),
        ))
        .await;
    assert_eq!(r["licenseIds"].as_array().unwrap().len(), 1);
    assert!(
        w.stripe.requests().await.is_empty(),
        "ExisOne metadata decides alone"
    );

    let nothing = Sale::one_time(json!({}));
    let session = fake::session(&nothing, "paid");
    w.stripe
        .line_items(
            session["id"].as_str().unwrap(),
            vec![fake::line_item(1, json!({}))],
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
    assert!(r["error"]
        .as_str()
        .unwrap()
        .contains("cannot tell what was bought"));
}

#[tokio::test]
async fn stripe_being_down_answers_5xx_and_the_retry_issues_once() {
    let w = World::open().await;
    let product = w.stack.product(&w.tenant, json!({})).await;
    let sale = Sale::one_time(json!({}));
    let session = fake::session(&sale, "paid");
    let event = fake::event(
        "checkout.session.completed",
        session.clone(),
        Shape::Basil,
        now(),
    );
    w.stripe.fail_everything().await;
    let (status, body) = w
        .stack
        .post_event(WEBHOOK, &event, &w.app.webhook_secret)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (502, Some("upstream_unavailable"))
    );
    assert!(w.licenses().await.is_empty());
    w.stripe.reset().await;
    w.stripe
        .line_items(
            session["id"].as_str().unwrap(),
            vec![fake::line_item(1, json!({"product_id": product}))],
        )
        .await;
    w.deliver(&event).await;
    w.deliver(&event).await;
    assert_eq!(w.licenses().await.len(), 1);
}

/// A subscription's first payment: session + first invoice + subscription.created, in any
/// order, twice each: one license, one email, expiring at the period end plus grace.
async fn subscribe(w: &World, product: &str, shape: Shape, seed: u64) -> (Sale, i64) {
    let sale = Sale::subscription(json!({"productId": product}));
    let t = now();
    let p1 = t + 30 * DAY;
    let first = fake::invoice(
        &sale,
        sale.invoice.as_deref().unwrap(),
        "subscription_create",
        p1,
        shape,
        true,
    );
    w.stripe.invoice(first.clone()).await;
    let events = [
        fake::event(
            "checkout.session.completed",
            fake::session(&sale, "paid"),
            shape,
            t,
        ),
        fake::event("invoice.paid", first, shape, t + 1),
        fake::event(
            "customer.subscription.created",
            fake::subscription(&sale, "active", p1, false, shape),
            shape,
            t + 2,
        ),
    ];
    w.deliver_shuffled(&events, seed).await;
    (sale, p1)
}

fn of(licenses: &[Value], sale: &Sale) -> Vec<Value> {
    licenses
        .iter()
        .filter(|l| l["source"]["subscriptionId"] == sale.subscription.as_deref().unwrap())
        .cloned()
        .collect()
}

#[tokio::test]
async fn new_key_subscriptions_issue_a_key_per_paid_cycle() {
    for shape in Shape::ALL {
        let w = World::open().await;
        let product = w
            .stack
            .product(&w.tenant, json!({"renewalMode": "new_key", "graceDays": 3}))
            .await;
        for seed in 1..=2 {
            let (sale, p1) = subscribe(&w, &product, shape, seed).await;
            let first = of(&w.licenses().await, &sale);
            assert_eq!(first.len(), 1, "{shape:?} seed {seed}");
            assert_eq!(expiry(&first[0]), Some(p1 + 3 * DAY), "{shape:?}");
            assert_eq!(w.emails(&sale.email).await, 1);

            // A renewal: a new key for the new period, emailed. The invoice carries no
            // metadata in the legacy shape here: it is fetched from the subscription.
            let p2 = p1 + 30 * DAY;
            w.stripe
                .subscription(fake::subscription(&sale, "active", p2, false, shape))
                .await;
            let renewal = fake::invoice(
                &sale,
                &fake::id("in"),
                "subscription_cycle",
                p2,
                shape,
                shape == Shape::Basil,
            );
            let updated = fake::event(
                "customer.subscription.updated",
                fake::subscription(&sale, "active", p2, false, shape),
                shape,
                now() + 100,
            );
            w.deliver_shuffled(
                &[
                    fake::event("invoice.paid", renewal, shape, now() + 99),
                    updated,
                ],
                seed,
            )
            .await;
            let all = of(&w.licenses().await, &sale);
            assert_eq!(all.len(), 2, "{shape:?} seed {seed}");
            let newest = all.iter().find(|l| l["id"] != first[0]["id"]).unwrap();
            assert_eq!(expiry(newest), Some(p2 + 3 * DAY));
            let old = all.iter().find(|l| l["id"] == first[0]["id"]).unwrap();
            assert_eq!(
                expiry(old),
                Some(p1 + 3 * DAY),
                "the old key keeps its own period"
            );
            assert_eq!(w.emails(&sale.email).await, 2);
        }
    }
}

#[tokio::test]
async fn extend_subscriptions_keep_one_key_whose_expiry_follows_the_paid_period() {
    for shape in Shape::ALL {
        let w = World::open().await;
        let product = w
            .stack
            .product(&w.tenant, json!({"renewalMode": "extend"}))
            .await;
        let (sale, p1) = subscribe(&w, &product, shape, 3).await;
        let mut p = p1;
        for cycle in 0..2 {
            p += 30 * DAY;
            let renewal = fake::event(
                "invoice.paid",
                fake::invoice(&sale, &fake::id("in"), "subscription_cycle", p, shape, true),
                shape,
                now() + 10 * cycle,
            );
            w.deliver_shuffled(&[renewal], cycle as u64).await;
        }
        let licenses = of(&w.licenses().await, &sale);
        assert_eq!(licenses.len(), 1, "{shape:?}");
        assert_eq!(
            expiry(&licenses[0]),
            Some(p + 3 * DAY),
            "{shape:?}: the default grace is 3 days"
        );
        // An older invoice delivered late never shortens it.
        let late = fake::event(
            "invoice.paid",
            fake::invoice(
                &sale,
                &fake::id("in"),
                "subscription_cycle",
                p1,
                shape,
                true,
            ),
            shape,
            now(),
        );
        w.deliver(&late).await;
        assert_eq!(
            expiry(&of(&w.licenses().await, &sale)[0]),
            Some(p + 3 * DAY)
        );
        assert_eq!(
            w.emails(&sale.email).await,
            1,
            "renewals of extend products send no new key"
        );
    }
}

#[tokio::test]
async fn subscription_states_suspend_reinstate_cancel_and_expire_whatever_the_order() {
    for shape in Shape::ALL {
        let w = World::open().await;
        let product = w
            .stack
            .product(&w.tenant, json!({"renewalMode": "extend", "graceDays": 2}))
            .await;
        let (sale, p1) = subscribe(&w, &product, shape, 5).await;
        let t = now();
        let license = || async { of(&w.licenses().await, &sale).remove(0) };

        // A past-due period that began just now is still within its grace.
        let other = subscribe(&w, &product, shape, 6).await.0;
        w.deliver(&fake::event(
            "customer.subscription.updated",
            fake::subscription(&other, "past_due", t + 30 * DAY, false, shape),
            shape,
            t + 10,
        ))
        .await;
        assert_eq!(
            of(&w.licenses().await, &other)[0]["status"],
            "active",
            "{shape:?}: within the grace"
        );
        // Renewal failed: past due, in a period that began 10 days ago (the fixtures' periods
        // are 30 days long), so the 2-day grace is over: suspended.
        w.deliver(&fake::event(
            "customer.subscription.updated",
            fake::subscription(&sale, "past_due", t + 20 * DAY, false, shape),
            shape,
            t + 10,
        ))
        .await;
        assert_eq!(license().await["status"], "suspended", "{shape:?}");
        // An older "active" state arriving late changes nothing.
        w.deliver(&fake::event(
            "customer.subscription.updated",
            fake::subscription(&sale, "active", p1, false, shape),
            shape,
            t + 5,
        ))
        .await;
        assert_eq!(
            license().await["status"],
            "suspended",
            "{shape:?}: older events never overwrite newer state"
        );
        // The payment comes through.
        w.deliver(&fake::event(
            "customer.subscription.updated",
            fake::subscription(&sale, "active", p1, false, shape),
            shape,
            t + 20,
        ))
        .await;
        assert_eq!(license().await["status"], "active");
        assert_eq!(expiry(&license().await), Some(p1 + 2 * DAY));
        // Cancelled at period end: runs to the period end exactly.
        w.deliver(&fake::event(
            "customer.subscription.updated",
            fake::subscription(&sale, "active", p1, true, shape),
            shape,
            t + 30,
        ))
        .await;
        assert_eq!(expiry(&license().await), Some(p1));
        // Deleted: expired.
        w.deliver(&fake::event(
            "customer.subscription.deleted",
            fake::subscription(&sale, "canceled", p1, true, shape),
            shape,
            t + 40,
        ))
        .await;
        let l = license().await;
        assert_eq!(l["status"], "expired", "{shape:?}");
        assert_eq!(expiry(&l), Some(p1 - 10 * DAY), "ended_at");
    }
}

#[tokio::test]
async fn refunds_revoke_and_disputes_suspend_by_default_as_products_say() {
    let w = World::open().await;
    let default = w.stack.product(&w.tenant, json!({})).await;
    let lenient = w
        .stack
        .product(
            &w.tenant,
            json!({"refundAction": "suspend", "disputeAction": "ignore"}),
        )
        .await;
    let mut sales = Vec::new();
    for product in [&default, &lenient, &default] {
        let sale = Sale::one_time(json!({"productId": product}));
        w.deliver(&fake::event(
            "checkout.session.completed",
            fake::session(&sale, "paid"),
            Shape::Basil,
            now(),
        ))
        .await;
        sales.push(sale);
    }
    let status_of = |sale: &Sale, licenses: &[Value]| {
        licenses
            .iter()
            .find(|l| l["source"]["paymentIntentId"] == sale.payment_intent.as_deref().unwrap())
            .unwrap()["status"]
            .clone()
    };
    let refund = |sale: &Sale, refunded: i64| {
        fake::event(
            "charge.refunded",
            fake::charge(sale.payment_intent.as_deref(), None, 2999, refunded),
            Shape::Basil,
            now(),
        )
    };

    w.deliver(&refund(&sales[0], 1000)).await;
    assert_eq!(
        status_of(&sales[0], &w.licenses().await),
        "active",
        "a partial refund changes nothing"
    );
    w.deliver_shuffled(&[refund(&sales[0], 2999)], 2).await;
    w.deliver(&refund(&sales[1], 2999)).await;
    let licenses = w.licenses().await;
    assert_eq!(status_of(&sales[0], &licenses), "revoked");
    assert_eq!(status_of(&sales[1], &licenses), "suspended");

    // A dispute names the charge; its payment intent is read from Stripe.
    let charge = fake::charge(sales[2].payment_intent.as_deref(), None, 2999, 0);
    w.stripe.charge(charge.clone()).await;
    w.deliver(&fake::event(
        "charge.dispute.created",
        fake::dispute(charge["id"].as_str().unwrap()),
        Shape::Basil,
        now(),
    ))
    .await;
    assert_eq!(status_of(&sales[2], &w.licenses().await), "suspended");
}
