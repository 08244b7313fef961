//! Reconciliation with Stripe, end to end: purchases whose webhooks never reached Keyhook are
//! listed from a fake Stripe API (at the HTTP level, events shaped like Stripe's) and issued
//! through the same processing as a webhook — exactly once, however often it runs.

use keyhook_shared::consumers::reconcile::{self, Options};
use keyhook_tests::fake_stripe::FakeStripe;
use keyhook_tests::{checkout_event, Stack, WEBHOOK};
use serde_json::{json, Value};
use time::Duration;

/// A Stripe event created `ago` before now.
fn aged(mut event: Value, ago: Duration) -> Value {
    event["created"] = json!((time::OffsetDateTime::now_utc() - ago).unix_timestamp());
    event
}

#[tokio::test]
async fn a_purchase_whose_webhook_never_arrived_is_issued_once_by_reconcile() {
    let stripe = FakeStripe::start().await;
    let stack = Stack::start_with_stripe(&stripe.uri()).await;
    let tenant = stack.tenant("Acme").await;
    let app = stack.app(&tenant).await;
    let product = stack.product(&tenant, json!({})).await;

    // One purchase Stripe delivered; one whose webhook never arrived (a mistyped secret);
    // one too recent to judge (its webhook may be on its way); one of an unhandled type.
    let (delivered, _) = checkout_event(&product, None);
    let delivered = aged(delivered, Duration::hours(2));
    let (status, _) = stack
        .post_event(WEBHOOK, &delivered, &app.webhook_secret)
        .await;
    assert_eq!(status, 200);
    let (missed, buyer) = checkout_event(&product, Some(2));
    let missed = aged(missed, Duration::hours(1));
    let (recent, _) = checkout_event(&product, None);
    let mut other = aged(checkout_event(&product, None).0, Duration::hours(1));
    other["type"] = json!("customer.created");
    for e in [&delivered, &missed, &recent, &other] {
        stripe.event(e);
    }
    assert_eq!(stack.licenses(&tenant, "").await.len(), 1);

    let runs = reconcile::run(&stack.services, &Options::default())
        .await
        .unwrap();
    let run = runs
        .iter()
        .find(|r| r.app_id == app.id)
        .expect("the app was reconciled");
    assert!(run.error.is_none(), "{run:?}");
    assert_eq!(
        run.recovered,
        vec![missed["id"].as_str().unwrap().to_string()]
    );
    assert_eq!(
        run.listed, 2,
        "the delivered and the missed purchase (handled types, settled)"
    );

    // Issued once, through the same path: licenses, log entry marked `reconcile`, email.
    let licenses = stack.licenses(&tenant, "").await;
    assert_eq!(licenses.len(), 3);
    let recovered: Vec<&Value> = licenses
        .iter()
        .filter(|l| l["source"]["eventId"] == missed["id"])
        .collect();
    assert_eq!(recovered.len(), 2);
    assert_eq!(recovered[0]["customerEmail"], buyer.as_str());
    let (status, entry) = stack
        .event_log(&tenant, missed["id"].as_str().unwrap())
        .await;
    assert_eq!(status, 200);
    assert_eq!(entry["status"], "verified");
    assert_eq!(entry["source"], "reconcile");
    let (_, entry) = stack
        .event_log(&tenant, delivered["id"].as_str().unwrap())
        .await;
    assert_eq!(entry["source"], "webhook");
    let (_, list) = stack
        .api(
            &tenant.token,
            "GET",
            "/api/stripe/events?source=reconcile",
            None,
        )
        .await;
    let ids: Vec<&Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["eventId"])
        .collect();
    assert_eq!(ids, vec![&missed["id"]]);
    let (status, _) = stack
        .api(
            &tenant.token,
            "GET",
            "/api/stripe/events?source=carrier-pigeon",
            None,
        )
        .await;
    assert_eq!(status, 422);
    stack.drain_mail().await;
    assert_eq!(stack.emails_to(&buyer).await.len(), 1);

    // Stripe was asked the right question, with the app's own secret key.
    let requests = stripe.event_list_requests().await;
    assert_eq!(requests.len(), 1, "one page");
    let r = &requests[0];
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {}", app.secret_key).as_str())
    );
    let query: Vec<(String, String)> = r.query.clone();
    let types: Vec<&str> = query
        .iter()
        .filter(|(k, _)| k == "types[]")
        .map(|(_, v)| v.as_str())
        .collect();
    assert!(types.contains(&"checkout.session.completed") && types.contains(&"invoice.paid"));
    assert!(query.iter().any(|(k, _)| k == "created[gte]"));
    assert!(query.iter().any(|(k, _)| k == "created[lte]"));

    // A second run (from the same time, past the watermark) changes nothing.
    let since = time::OffsetDateTime::now_utc() - Duration::days(1);
    let runs = reconcile::run(
        &stack.services,
        &Options {
            app_id: Some(app.id.clone()),
            since: Some(since),
        },
    )
    .await
    .unwrap();
    assert!(runs[0].recovered.is_empty(), "{:?}", runs[0]);
    assert_eq!(stack.licenses(&tenant, "").await.len(), 3);
    assert_eq!(stack.queued_mail().await, 0);

    // Later, the event that was too recent has settled; the webhook did deliver it meanwhile?
    // No: it never came. The next run (from the watermark) picks it up, and only it.
    stack.services.clock.advance(Duration::minutes(10));
    let runs = reconcile::run(&stack.services, &Options::default())
        .await
        .unwrap();
    let run = runs.iter().find(|r| r.app_id == app.id).unwrap();
    assert_eq!(
        run.recovered,
        vec![recent["id"].as_str().unwrap().to_string()]
    );
    assert_eq!(stack.licenses(&tenant, "").await.len(), 4);
}

#[tokio::test]
async fn reconcile_pages_through_stripes_list_and_stripe_outages_keep_the_watermark() {
    let stripe = FakeStripe::start().await;
    let stack = Stack::start_with_stripe(&stripe.uri()).await;
    let tenant = stack.tenant("Acme").await;
    let app = stack.app(&tenant).await;
    let product = stack.product(&tenant, json!({"autoEmail": false})).await;
    let mut ids = Vec::new();
    for i in 0..105 {
        let (e, _) = checkout_event(&product, None);
        let e = aged(e, Duration::minutes(60 + i));
        ids.push(e["id"].as_str().unwrap().to_string());
        stripe.event(&e);
    }
    let runs = reconcile::run(
        &stack.services,
        &Options {
            app_id: Some(app.id.clone()),
            since: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(runs[0].pages, 2, "100 + 5, paginated with starting_after");
    assert_eq!(runs[0].recovered.len(), 105);
    assert_eq!(stack.licenses(&tenant, "").await.len(), 105);
    let second_page = &stripe.event_list_requests().await[1];
    assert!(second_page
        .query
        .iter()
        .any(|(k, v)| k == "starting_after" && ids.contains(v)));

    // Stripe down: the run reports it and the watermark stays where it was.
    let mark = stack
        .services
        .store
        .reconcile_mark(&tenant.id, &app.id)
        .await
        .unwrap()
        .unwrap();
    stripe.server.reset().await;
    stack.services.clock.advance(Duration::hours(1));
    let runs = reconcile::run(
        &stack.services,
        &Options {
            app_id: Some(app.id.clone()),
            since: None,
        },
    )
    .await
    .unwrap();
    assert!(runs[0].error.is_some());
    let after = stack
        .services
        .store
        .reconcile_mark(&tenant.id, &app.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.through, mark.through);
}
