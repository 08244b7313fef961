//! The mailer: at most one email per purchase, partial batch failures, templates.

use keyhook_shared::aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use keyhook_shared::handlers::mailer;
use keyhook_shared::mail::MailJob;
use keyhook_shared::Services;
use keyhook_tests::{checkout_event, Stack};
use serde_json::{json, Value};

const WEBHOOK: &str = "/api/stripe/webhook";

fn batch(bodies: &[String]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let mut m = SqsMessage::default();
            m.message_id = Some(format!("msg-{i}"));
            m.body = Some(b.clone());
            m.attributes
                .insert("ApproximateReceiveCount".into(), "1".into());
            m
        })
        .collect();
    event
}

async fn purchase(stack: &Stack, product_extra: Value) -> (String, String, String) {
    let tenant = stack.tenant("Acme").await;
    let app = stack.app(&tenant).await;
    let product = stack.product(&tenant, product_extra).await;
    let (event, email) = checkout_event(&product, None);
    let (status, _) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!(status, 200);
    // A one-time purchase is named by its payment intent.
    let purchase = event["data"]["object"]["payment_intent"]
        .as_str()
        .unwrap()
        .to_string();
    (tenant.id, purchase, email)
}

#[tokio::test]
async fn a_redelivered_job_for_a_sent_email_sends_nothing() {
    let stack = Stack::start().await;
    let (tenant_id, session, email) = purchase(&stack, json!({})).await;
    assert_eq!(stack.drain_mail().await, 1);
    assert_eq!(stack.emails_to(&email).await.len(), 1);

    let job = serde_json::to_string(&MailJob {
        tenant_id,
        purchase_ref: session,
    })
    .unwrap();
    let response = mailer::handle_batch(&stack.services, batch(&[job.clone(), job])).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(stack.emails_to(&email).await.len(), 1, "still one email");
}

#[tokio::test]
async fn a_failed_send_is_reported_for_retry_and_then_succeeds() {
    let stack = Stack::start().await;
    let (tenant_id, session, email) = purchase(&stack, json!({})).await;
    let job = serde_json::to_string(&MailJob {
        tenant_id: tenant_id.clone(),
        purchase_ref: session.clone(),
    })
    .unwrap();
    let poison = "not json".to_string();

    // SES refuses a sender that is not a verified identity.
    let mut config = stack.config();
    config.mail_from = "nobody@unverified.example".into();
    let failing = Services::new(config, &stack.sdk);
    let response = mailer::handle_batch(&failing, batch(&[poison.clone(), job.clone()])).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        vec!["msg-1"],
        "only the send that failed is retried; poison is dropped"
    );
    assert!(stack.emails_to(&email).await.is_empty());
    let licenses = stack
        .services
        .store
        .get_purchase(&tenant_id, &session)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(licenses.email_status.as_str(), "pending");
    assert!(
        licenses.email_claim_until.is_none(),
        "the claim was released"
    );

    let response = mailer::handle_batch(&stack.services, batch(&[job])).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(stack.emails_to(&email).await.len(), 1);
}

#[tokio::test]
async fn after_the_last_attempt_the_email_is_marked_failed() {
    let stack = Stack::start().await;
    let (tenant_id, session, email) = purchase(&stack, json!({})).await;
    let job = serde_json::to_string(&MailJob {
        tenant_id: tenant_id.clone(),
        purchase_ref: session.clone(),
    })
    .unwrap();
    let mut config = stack.config();
    config.mail_from = "nobody@unverified.example".into();
    let failing = Services::new(config, &stack.sdk);
    let mut event = batch(&[job]);
    event.records[0]
        .attributes
        .insert("ApproximateReceiveCount".into(), "5".into());
    let response = mailer::handle_batch(&failing, event).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "given up, not retried"
    );
    let p = stack
        .services
        .store
        .get_purchase(&tenant_id, &session)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.email_status.as_str(), "failed");
    assert!(stack.emails_to(&email).await.is_empty());
}

#[tokio::test]
async fn the_products_template_is_used_with_values_escaped_in_html() {
    let stack = Stack::start().await;
    let tenant = stack.tenant("Acme").await;
    let app = stack.app(&tenant).await;
    let product = stack
        .product(
            &tenant,
            json!({"name": "Acme <Studio>", "emailTemplate": {
                "subject": "{{ProductName}} for {{PaymentProcessorCustomerName}}",
                "html": "<p>Dear {{PaymentProcessorCustomerName}}, key: <b>{{ActivationKey}}</b> ({{CustomerEmail}})</p>",
                "text": "Key: {{ActivationKey}}"
            }}),
        )
        .await;
    let (mut event, email) = checkout_event(&product, None);
    event["data"]["object"]["customer_details"]["name"] = json!("<script>alert(1)</script>");
    let (status, _) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!(status, 200);
    stack.drain_mail().await;
    let emails = stack.emails_to(&email).await;
    assert_eq!(emails.len(), 1);
    let key = stack.licenses(&tenant, "").await[0]["key"]
        .as_str()
        .unwrap()
        .to_string();
    let body = emails[0]["body"].as_str().unwrap();
    assert_eq!(
        body,
        format!("<p>Dear &lt;script&gt;alert(1)&lt;/script&gt;, key: <b>{key}</b> ({email})</p>")
    );
    assert_eq!(
        emails[0]["subject"],
        "Acme <Studio> for <script>alert(1)</script>"
    );
}
