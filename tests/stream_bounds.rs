//! One tenant cannot stall everyone's outgoing webhooks: the table's stream is shared by all
//! tenants and read in order, so a record whose events cannot be delivered must not hold the
//! records behind it. On the local stack (the stream worker Lambda's event source stands in for
//! locally, the real handlers, the emulator's 400 KB item limit):
//!
//! - a license with 1,000 long device ids (an import) gets its events with the devices
//!   summarised, and another tenant's purchase behind it is delivered in the same pass;
//! - an event that can never be prepared (its license's key no longer opens) is recorded as a
//!   failed delivery the tenant sees, and the stream (and the expiry sweep) moves on;
//! - a record failing for a transient reason is read again (nothing skipped) until it is older
//!   than Lambda's record age limit; then its position goes to the dead-letter queue, as
//!   Lambda's on-failure destination does, and the stream moves on.

use aws_sdk_dynamodb::types::AttributeValue;
use keyhook_cli::stream_worker::StreamReader;
use keyhook_shared::consumers::deliveries::payload::{MAX_BODY_BYTES, MAX_PAYLOAD_DEVICES};
use keyhook_shared::consumers::deliveries::stream::MAX_RECORD_AGE;
use keyhook_shared::domain::validation::rules::{device_bytes, MAX_DEVICE_LIST_BYTES};
use keyhook_shared::services::delivery_queue::DeliveryQueue;
use keyhook_tests::merchant::MerchantEndpoint;
use keyhook_tests::{checkout_event, unique, Stack, TestTenant, WEBHOOK};
use serde_json::{json, Value};

/// A device id unique per `i`, of the longest length 1,000 devices of one license may each
/// have: together they fill the license's device list to its bound (`MAX_DEVICE_LIST_BYTES`,
/// which imports and activations both keep).
fn long_device_id(i: usize) -> String {
    let chars = MAX_DEVICE_LIST_BYTES / 1000 - device_bytes("", None);
    let head = format!("render-node-{i:04}-");
    format!("{head}{}", "f".repeat(chars - head.len()))
}

/// Imports licenses for `tenant`; the created licenses' ids.
async fn import_all(stack: &Stack, tenant: &TestTenant, licenses: Value) -> Vec<String> {
    let report = stack
        .imported(tenant, json!({ "licenses": licenses }))
        .await;
    let results = report["results"].as_array().unwrap();
    assert!(results.iter().all(|r| r["status"] == "created"), "{report}");
    results
        .iter()
        .map(|r| r["licenseId"].as_str().unwrap().to_string())
        .collect()
}

/// Overwrites a license's sealed key with one that does not open (a corrupted item), and sets
/// its status in the same write.
async fn break_key(stack: &Stack, license_id: &str, status: Option<&str>) {
    let mut update = stack
        .services
        .store
        .client()
        .update_item()
        .table_name(&stack.resources.table)
        .key("pk", AttributeValue::S(format!("LICENSE#{license_id}")))
        .key("sk", AttributeValue::S("LICENSE".into()))
        .expression_attribute_values(":garbage", AttributeValue::S("v1.tk_x.not-a-seal".into()));
    update = match status {
        Some(status) => update
            .update_expression("SET keySealed = :garbage, #s = :status")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":status", AttributeValue::S(status.into())),
        None => update.update_expression("SET keySealed = :garbage"),
    };
    update.send().await.unwrap();
}

/// A second tenant with a Stripe app, a product and an endpoint for `license.created`.
async fn other_shop(stack: &Stack) -> (keyhook_tests::TestApp, String, MerchantEndpoint) {
    let tenant = stack.tenant("Corner shop").await;
    let app = stack.app(&tenant).await;
    let product = stack.product(&tenant, json!({"autoEmail": false})).await;
    let merchant = MerchantEndpoint::start(&stack.services.clock, &[], 200).await;
    stack
        .endpoint(
            &tenant,
            json!({"url": merchant.url, "eventTypes": ["license.created"]}),
        )
        .await;
    (app, product, merchant)
}

#[tokio::test]
async fn a_license_with_a_thousand_long_device_ids_does_not_delay_another_tenants_license_created()
{
    let stack = Stack::start().await;
    // Tenant A: every event, and a license imported with 1,000 devices of the longest ids its device list holds,
    // all activated at the import (the later in the list counts as the more recent).
    let farm = stack.tenant("Render farm").await;
    let product = stack
        .product(&farm, json!({"autoEmail": false, "maxDevices": 1000}))
        .await;
    let farm_merchant = MerchantEndpoint::start(&stack.services.clock, &[], 200).await;
    stack
        .endpoint(
            &farm,
            json!({"url": farm_merchant.url, "eventTypes": ["*"]}),
        )
        .await;
    let devices: Vec<Value> = (0..1000)
        .map(|i| json!({ "deviceId": long_device_id(i) }))
        .collect();
    let license_id = import_all(
        &stack,
        &farm,
        json!([{
            "key": unique("FARM").to_uppercase(),
            "productId": product,
            "externalId": "farm-1",
            "maxDevices": 1000,
            "devices": devices,
        }]),
    )
    .await
    .remove(0);

    // Tenant B buys after that, so its records are behind A's in the stream.
    let (app, product_b, shop_merchant) = other_shop(&stack).await;
    let (event, _) = checkout_event(&product_b, None);
    let (status, receipt) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!(status, 200, "{receipt}");

    // One pass of the stream worker and the sender.
    stack.deliver().await;
    let received = shop_merchant.received();
    assert_eq!(
        received.len(),
        1,
        "the other tenant's license.created is delivered in the same pass"
    );
    assert_eq!(received[0].json()["type"], "license.created");

    // A's own license.created is delivered too, bounded: the device count, the most recent
    // devices, and a flag saying the list is cut.
    let farm_received = farm_merchant.received();
    let created: Vec<_> = farm_received
        .iter()
        .filter(|r| r.json()["type"] == "license.created")
        .collect();
    assert_eq!(created.len(), 1, "one license.created for the farm");
    assert!(
        created[0].body.len() <= MAX_BODY_BYTES,
        "{} bytes",
        created[0].body.len()
    );
    let license = &created[0].json()["data"]["license"];
    assert_eq!(license["id"], license_id.as_str());
    assert_eq!(license["deviceCount"], 1000);
    assert_eq!(license["devicesTruncated"], true);
    let sent: Vec<&str> = license["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["deviceId"].as_str().unwrap())
        .collect();
    let newest: Vec<String> = (1000 - MAX_PAYLOAD_DEVICES..1000)
        .map(long_device_id)
        .collect();
    assert_eq!(
        sent, newest,
        "the most recently activated, in the license's order"
    );
    assert!(
        license["key"].is_string(),
        "the rest of the license is whole"
    );

    // The admin API still has every device.
    let (status, full) = stack
        .api(
            &farm.token,
            "GET",
            &format!("/api/licenses/{license_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(full["devices"].as_array().unwrap().len(), 1000);
}

#[tokio::test]
async fn an_event_that_can_never_be_prepared_is_a_failed_delivery_and_the_stream_moves_on() {
    let stack = Stack::start().await;
    let tenant = stack.tenant("Broken records").await;
    let product = stack.product(&tenant, json!({"autoEmail": false})).await;
    let merchant = MerchantEndpoint::start(&stack.services.clock, &[], 200).await;
    let endpoint = stack
        .endpoint(
            &tenant,
            json!({"url": merchant.url, "eventTypes": ["license.suspended"]}),
        )
        .await;
    let endpoint_id = endpoint["id"].as_str().unwrap();
    let license_id = import_all(
        &stack,
        &tenant,
        json!([{"key": unique("OLD").to_uppercase(), "productId": product, "externalId": "old-1"}]),
    )
    .await
    .remove(0);
    stack.deliver().await;

    // The license is suspended by a write that also leaves its sealed key unreadable (a
    // corrupted item): the event's payload, which carries the key, can never be built.
    break_key(&stack, &license_id, Some("suspended")).await;

    // Another tenant's purchase behind it in the stream.
    let (app, product_b, shop_merchant) = other_shop(&stack).await;
    let (event, _) = checkout_event(&product_b, None);
    let (status, _) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!(status, 200);

    stack.deliver().await;
    assert_eq!(
        shop_merchant.received().len(),
        1,
        "the other tenant's event is not held"
    );
    assert!(
        merchant.received().is_empty(),
        "nothing is sent for the broken event"
    );
    // The tenant sees it: a failed delivery, never attempted, with the reason.
    let deliveries = stack.deliveries(&tenant, endpoint_id).await;
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    let d = &deliveries[0];
    assert_eq!(d["eventType"], "license.suspended");
    assert_eq!(d["status"], "failed");
    assert_eq!(d["attempts"], 0);
    let reason = d["closedReason"].as_str().unwrap();
    assert!(reason.contains("could not be prepared"), "{reason}");

    // A manual retry sends what it can: the ids, marked truncated.
    let (status, _) = stack
        .api(
            &tenant.token,
            "POST",
            &format!(
                "/api/webhook-endpoints/{endpoint_id}/deliveries/{}/retry",
                d["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(status, 202);
    stack.deliver().await;
    let sent = merchant.received();
    assert_eq!(sent.len(), 1);
    let body = sent[0].json();
    assert_eq!(body["type"], "license.suspended");
    assert_eq!(body["data"]["truncated"], true);
    assert_eq!(body["data"]["license"]["id"], license_id.as_str());
    assert_eq!(body["data"]["license"]["status"], "suspended");
    assert!(body["data"]["license"].get("key").is_none());
}

/// The messages waiting on a queue (received, so they are read once).
async fn messages(stack: &Stack, queue_url: &str) -> Vec<Value> {
    let out = aws_sdk_sqs::Client::new(&stack.sdk)
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    out.messages
        .unwrap_or_default()
        .into_iter()
        .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn the_local_stream_worker_retries_a_transient_failure_then_dead_letters_a_record_too_old() {
    let stack = Stack::start().await;
    let tenant = stack.tenant("Queue outage").await;
    let product = stack.product(&tenant, json!({"autoEmail": false})).await;
    let merchant = MerchantEndpoint::start(&stack.services.clock, &[], 200).await;
    stack
        .endpoint(
            &tenant,
            json!({"url": merchant.url, "eventTypes": ["license.created"]}),
        )
        .await;
    // The same services, but the delivery queue is unreachable (SQS answers that it does not
    // exist): a failure of an AWS service, which may pass.
    let mut outage = stack.services.clone();
    outage.deliveries = DeliveryQueue::new(
        aws_sdk_sqs::Client::new(&stack.sdk),
        format!("{}-gone", stack.resources.delivery_queue_url),
    );
    let dlq = stack.resources.delivery_dlq_url.clone();
    let mut reader = StreamReader::new(
        aws_sdk_dynamodbstreams::Client::new(&stack.sdk),
        stack.resources.stream_arn.clone(),
    )
    .with_dead_letter_queue(aws_sdk_sqs::Client::new(&stack.sdk), dlq.clone());

    import_all(
        &stack,
        &tenant,
        json!([{"key": unique("ONE").to_uppercase(), "productId": product, "externalId": "one"}]),
    )
    .await;
    // During the outage the record fails and is read again: not skipped, nothing given up.
    for _ in 0..3 {
        assert!(reader.drain(&outage).await.is_err());
    }
    assert!(messages(&stack, &dlq).await.is_empty());
    // The queue is back: the same record goes through, and the event is delivered.
    reader.drain(&stack.services).await.unwrap();
    stack.drain_deliveries().await;
    assert_eq!(merchant.received().len(), 1);

    // Another record fails through a longer outage, until it is older than the age Lambda
    // gives up at: then its position goes to the dead-letter queue and the stream moves on.
    let second = import_all(
        &stack,
        &tenant,
        json!([{"key": unique("TWO").to_uppercase(), "productId": product, "externalId": "two"}]),
    )
    .await
    .remove(0);
    assert!(reader.drain(&outage).await.is_err());
    stack
        .services
        .clock
        .advance(time::Duration::try_from(MAX_RECORD_AGE).unwrap() + time::Duration::minutes(1));
    reader
        .drain(&outage)
        .await
        .expect("given up, not read again");
    let dead = messages(&stack, &dlq).await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    let info = &dead[0]["DDBStreamBatchInfo"];
    assert_eq!(info["streamArn"], stack.resources.stream_arn.as_str());
    assert_eq!(info["batchSize"], 1);
    assert_eq!(info["startSequenceNumber"], info["endSequenceNumber"]);
    assert_eq!(dead[0]["requestContext"]["condition"], "RecordAgeExceeded");
    // The next record is read as usual; the given-up one is not read again.
    import_all(
        &stack,
        &tenant,
        json!([{"key": unique("THREE").to_uppercase(), "productId": product, "externalId": "three"}]),
    )
    .await;
    reader.drain(&stack.services).await.unwrap();
    stack.drain_deliveries().await;
    let sent: Vec<Value> = merchant.received().iter().map(|r| r.json()).collect();
    assert_eq!(sent.len(), 2, "the first and the third license");
    assert!(sent
        .iter()
        .all(|b| b["data"]["license"]["id"] != second.as_str()));
}

#[tokio::test]
async fn a_license_whose_expiry_can_never_be_sent_does_not_stop_the_sweep() {
    let stack = Stack::start().await;
    let expires = stack.services.clock.now() + time::Duration::days(1);
    // Two tenants, each a license expiring tomorrow and an endpoint for `license.expired`; the
    // first tenant's expires a minute earlier, and its key no longer opens.
    let mut tenants = Vec::new();
    for (name, at) in [
        ("Broken", expires),
        ("Fine", expires + time::Duration::minutes(1)),
    ] {
        let tenant = stack.tenant(name).await;
        let product = stack.product(&tenant, json!({"autoEmail": false})).await;
        let merchant = MerchantEndpoint::start(&stack.services.clock, &[], 200).await;
        let endpoint = stack
            .endpoint(
                &tenant,
                json!({"url": merchant.url, "eventTypes": ["license.expired"]}),
            )
            .await;
        let license = import_all(
            &stack,
            &tenant,
            json!([{
                "key": unique(name).to_uppercase(),
                "productId": product,
                "externalId": name,
                "expiresAt": keyhook_shared::time::format(at),
            }]),
        )
        .await
        .remove(0);
        tenants.push((tenant, merchant, endpoint, license));
    }
    stack.deliver().await;
    break_key(&stack, &tenants[0].3, None).await;
    stack.deliver().await;

    stack.services.clock.advance(time::Duration::days(2));
    let report = keyhook_shared::consumers::deliveries::sweep::run(&stack.services)
        .await
        .expect("the sweep runs past the broken license");
    assert_eq!(report.timers, 2);
    stack.deliver().await;

    let (broken, fine) = (&tenants[0], &tenants[1]);
    let sent = fine.1.received();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].json()["type"], "license.expired");
    assert_eq!(sent[0].json()["data"]["license"]["id"], fine.3.as_str());
    assert!(broken.1.received().is_empty());
    let deliveries = stack
        .deliveries(&broken.0, broken.2["id"].as_str().unwrap())
        .await;
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(deliveries[0]["eventType"], "license.expired");
    assert_eq!(deliveries[0]["status"], "failed");
    // The next sweep starts after this one: nothing is sent twice, nothing is stuck.
    let again = keyhook_shared::consumers::deliveries::sweep::run(&stack.services)
        .await
        .unwrap();
    assert_eq!(again.events, 0);
}
