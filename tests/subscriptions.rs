//! Subscription events whose order Stripe does not guarantee: two states of one subscription
//! in the same second, and a subscription's Checkout Session that does not name its invoice
//! (on an app Keyhook cannot ask Stripe with) racing the invoice itself.

use keyhook_tests::stripe::{self as fake, Sale, Shape};
use keyhook_tests::{now, World, DAY, WEBHOOK};
use serde_json::{json, Value};

#[tokio::test]
async fn two_states_in_one_second_end_the_same_whatever_the_order() {
    for (shape, cancellation_first) in [(Shape::Basil, true), (Shape::Legacy, false)] {
        let w = World::open().await;
        let product = w.product(json!({})).await;
        let sale = Sale::subscription(json!({"productId": product}));
        let period_end = now() + 20 * DAY;
        let invoice = fake::invoice(
            &sale,
            sale.invoice.as_deref().unwrap(),
            "subscription_create",
            period_end,
            shape,
            true,
        );
        w.deliver_verified(&fake::event("invoice.paid", invoice, shape, now()))
            .await;
        // The cancellation and an update of the same second (Stripe's `created` has one-second
        // resolution), delivered in either order: the subscription ended.
        let t = now();
        let updated = fake::event(
            "customer.subscription.updated",
            fake::subscription(&sale, "active", period_end, true, shape),
            shape,
            t,
        );
        let deleted = fake::event(
            "customer.subscription.deleted",
            fake::subscription(&sale, "canceled", period_end, false, shape),
            shape,
            t,
        );
        let order = if cancellation_first {
            [deleted, updated]
        } else {
            [updated, deleted]
        };
        for event in &order {
            w.deliver_verified(event).await;
        }
        let licenses = w.stack.licenses(&w.tenant, "").await;
        assert_eq!(licenses.len(), 1);
        assert_eq!(
            licenses[0]["status"], "expired",
            "cancellation first: {cancellation_first}: {}",
            licenses[0]
        );
    }
}

#[tokio::test]
async fn a_session_without_its_invoice_and_the_invoice_issue_one_purchase_in_either_order() {
    for session_first in [true, false] {
        // No secret key: Keyhook cannot ask Stripe for the session's invoice.
        let w = World::with_app(json!({"secretKey": ""})).await;
        let product = w.product(json!({})).await;
        let sale = Sale::subscription(json!({"productId": product}));
        let mut session = fake::session(&sale, "paid");
        session["invoice"] = Value::Null;
        let session = fake::event("checkout.session.completed", session, Shape::Basil, now());
        let invoice = fake::event(
            "invoice.paid",
            fake::invoice(
                &sale,
                sale.invoice.as_deref().unwrap(),
                "subscription_create",
                now() + 30 * DAY,
                Shape::Basil,
                true,
            ),
            Shape::Basil,
            now(),
        );
        let (first, second) = if session_first {
            (&session, &invoice)
        } else {
            (&invoice, &session)
        };
        let issued = w.deliver_verified(first).await;
        let again = w.deliver_verified(second).await;
        assert_eq!(
            again["licenseIds"], issued["licenseIds"],
            "session first: {session_first}"
        );
        // A renewal is a new purchase as before.
        let renewal = fake::event(
            "invoice.paid",
            fake::invoice(
                &sale,
                &fake::id("in"),
                "subscription_cycle",
                now() + 60 * DAY,
                Shape::Basil,
                true,
            ),
            Shape::Basil,
            now(),
        );
        w.deliver_verified(&renewal).await;
        assert_eq!(
            w.stack.licenses(&w.tenant, "").await.len(),
            2,
            "one license for the first purchase, one for the renewal (session first: {session_first})"
        );
        w.stack.drain_mail().await;
        assert_eq!(w.stack.emails_to(&sale.email).await.len(), 2);
    }
}

#[tokio::test]
async fn the_two_events_of_a_first_purchase_racing_issue_once() {
    let w = World::with_app(json!({"secretKey": ""})).await;
    let product = w.product(json!({})).await;
    let sale = Sale::subscription(json!({"productId": product}));
    let mut session = fake::session(&sale, "paid");
    session["invoice"] = Value::Null;
    let events = [
        fake::event("checkout.session.completed", session, Shape::Legacy, now()),
        fake::event(
            "invoice.paid",
            fake::invoice(
                &sale,
                sale.invoice.as_deref().unwrap(),
                "subscription_create",
                now() + 30 * DAY,
                Shape::Legacy,
                true,
            ),
            Shape::Legacy,
            now(),
        ),
    ];
    let receipts = futures::future::join_all(
        events
            .iter()
            .chain(events.iter())
            .map(|e| w.stack.post_event(WEBHOOK, e, &w.app.webhook_secret)),
    )
    .await;
    for (status, receipt) in &receipts {
        assert_eq!(*status, 200, "{receipt}");
    }
    assert_eq!(w.stack.licenses(&w.tenant, "").await.len(), 1);
}
