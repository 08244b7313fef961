//! The mailer: one email per purchase (at least once: sent again only when its record could
//! not be written), partial batch failures, templates, and resends that carry only the keys
//! of the address they go to.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use keyhook_shared::aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use keyhook_shared::consumers::mailer;
use keyhook_shared::domain::member::{LinkReason, Role, SignInRequest};
use keyhook_shared::mail::{MailJob, MailMessage, SignInMail};
use keyhook_shared::store::Store;
use keyhook_shared::Services;
use keyhook_tests::{checkout_event, Stack, WEBHOOK};
use serde_json::{json, Value};

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

    let job = serde_json::to_string(&MailJob::purchase(tenant_id, session)).unwrap();
    let response = mailer::handle_batch(&stack.services, batch(&[job.clone(), job])).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(stack.emails_to(&email).await.len(), 1, "still one email");
}

#[tokio::test]
async fn a_redelivered_sign_in_job_sends_one_email() {
    let stack = Stack::start().await;
    let tenant = stack.tenant("Acme").await;
    // Unique per run: the emulator's SES keeps what earlier runs sent.
    let email = format!("owner-{}@acme.example", tenant.id.to_ascii_lowercase());
    let email = email.as_str();
    stack.member(&tenant, email, Role::Owner).await;
    let now = keyhook_shared::time::now();
    let request = SignInRequest {
        id: format!("sir_{}", tenant.id),
        email: email.into(),
        reason: LinkReason::SignIn,
        tenant_id: None,
        invited_by: None,
        created_at: now,
        sent_at: None,
        ttl: now.unix_timestamp() + 3_600,
    };
    stack
        .services
        .store
        .put_sign_in_request(&request)
        .await
        .unwrap();
    let job = serde_json::to_string(&MailMessage::SignIn(SignInMail {
        sign_in_request: request.id.clone(),
    }))
    .unwrap();
    for _ in 0..2 {
        let response =
            mailer::handle_batch(&stack.services, batch(std::slice::from_ref(&job))).await;
        assert!(response.batch_item_failures.is_empty());
    }
    assert_eq!(
        stack.emails_to(email).await.len(),
        1,
        "the second delivery sends nothing"
    );
}

#[tokio::test]
async fn a_failed_send_is_reported_for_retry_and_then_succeeds() {
    let stack = Stack::start().await;
    let (tenant_id, session, email) = purchase(&stack, json!({})).await;
    let job = serde_json::to_string(&MailJob::purchase(&tenant_id, &session)).unwrap();
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
    let job = serde_json::to_string(&MailJob::purchase(&tenant_id, &session)).unwrap();
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

#[tokio::test]
async fn the_default_email_links_to_the_merchants_customer_portal() {
    let stack = Stack::start().await;
    let (tenant_id, _, email) = purchase(&stack, json!({})).await;
    stack.drain_mail().await;
    let emails = stack.emails_to(&email).await;
    assert_eq!(emails.len(), 1);
    let portal = format!(
        "{}/portal/{tenant_id}",
        stack.services.config.public_base_url
    );
    let body = emails[0]["body"].as_str().unwrap();
    assert!(
        body.contains(&format!(
            "Manage your devices and keys: <a href=\"{portal}\">{portal}</a>"
        )),
        "{body}"
    );
}

/// Fails the first `TransactWriteItems` call made through the client it is set on: the write
/// that records an email as sent, once SES has accepted it.
#[derive(Debug, Clone, Default)]
struct FailFirstTransaction(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Intercept for FailFirstTransaction {
    fn name(&self) -> &'static str {
        "FailFirstTransaction"
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let is_transaction = cfg
            .load::<Metadata>()
            .is_some_and(|m| m.name() == "TransactWriteItems");
        if is_transaction && !self.0.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err("injected failure of the status write".into());
        }
        Ok(())
    }
}

#[tokio::test]
async fn an_email_sent_but_not_recorded_is_sent_again() {
    let stack = Stack::start().await;
    let (tenant_id, purchase_ref, email) = purchase(&stack, json!({})).await;
    let job = serde_json::to_string(&MailJob::purchase(&tenant_id, &purchase_ref)).unwrap();
    let ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&stack.sdk)
            .interceptor(FailFirstTransaction::default())
            .build(),
    );
    let config = stack.config();
    let flaky = Services::with_clients(
        config.clone(),
        Store::new(ddb, &config.table_name),
        aws_sdk_kms::Client::new(&stack.sdk),
        aws_sdk_sqs::Client::new(&stack.sdk),
        aws_sdk_sesv2::Client::new(&stack.sdk),
    );

    // SES accepts the email; recording it fails: the job is retried, the claim released.
    let response = mailer::handle_batch(&flaky, batch(std::slice::from_ref(&job))).await;
    assert_eq!(response.batch_item_failures.len(), 1, "retried");
    assert_eq!(stack.emails_to(&email).await.len(), 1);
    let p = stack
        .services
        .store
        .get_purchase(&tenant_id, &purchase_ref)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.email_status.as_str(), "pending");
    assert!(p.email_claim_until.is_none(), "the claim was released");

    // The retry sends it again (at least once), then records it; later deliveries send
    // nothing.
    let response = mailer::handle_batch(&flaky, batch(std::slice::from_ref(&job))).await;
    assert!(response.batch_item_failures.is_empty());
    let emails = stack.emails_to(&email).await;
    assert_eq!(emails.len(), 2, "sent again: at least once");
    assert_eq!(emails[0]["body"], emails[1]["body"], "the same keys");
    let response = mailer::handle_batch(&flaky, batch(&[job])).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(stack.emails_to(&email).await.len(), 2);
    let p = stack
        .services
        .store
        .get_purchase(&tenant_id, &purchase_ref)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.email_status.as_str(), "sent");
}

#[tokio::test]
async fn a_resend_carries_only_the_keys_of_the_address_it_goes_to() {
    let stack = Stack::start().await;
    let tenant = stack.tenant("Acme").await;
    let app = stack.app(&tenant).await;
    let product = stack.product(&tenant, json!({})).await;
    let (event, buyer) = checkout_event(&product, Some(3));
    let (status, receipt) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(stack.drain_mail().await, 1);
    let ids: Vec<String> = receipt["licenseIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let mut keys = Vec::new();
    for id in &ids {
        let (_, l) = stack
            .api(&tenant.token, "GET", &format!("/api/licenses/{id}"), None)
            .await;
        keys.push(l["key"].as_str().unwrap().to_string());
    }
    let first = &stack.emails_to(&buyer).await[0];
    for key in &keys {
        assert!(first["body"].as_str().unwrap().contains(key.as_str()));
    }

    // License 2 goes to someone else, and is resent: they get that key alone.
    let other = format!("{}@example.com", keyhook_tests::unique("colleague"));
    let (status, _) = stack
        .api(
            &tenant.token,
            "PATCH",
            &format!("/api/licenses/{}", ids[1]),
            Some(json!({"customerEmail": other})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, resend) = stack
        .api(
            &tenant.token,
            "POST",
            &format!("/api/licenses/{}/resend-email", ids[1]),
            None,
        )
        .await;
    assert_eq!((status, resend["to"].as_str()), (202, Some(other.as_str())));
    assert_eq!(stack.drain_mail().await, 1);
    let received = stack.emails_to(&other).await;
    assert_eq!(received.len(), 1);
    let body = received[0]["body"].as_str().unwrap();
    assert!(body.contains(keys[1].as_str()), "{body}");
    assert!(
        !body.contains(keys[0].as_str()) && !body.contains(keys[2].as_str()),
        "never the other keys of the purchase: {body}"
    );
    let (_, l) = stack
        .api(
            &tenant.token,
            "GET",
            &format!("/api/licenses/{}", ids[1]),
            None,
        )
        .await;
    assert_eq!(l["emailStatus"], "sent");

    // A resend of license 1 goes to the buyer with the keys the buyer still owns.
    let (status, _) = stack
        .api(
            &tenant.token,
            "POST",
            &format!("/api/licenses/{}/resend-email", ids[0]),
            None,
        )
        .await;
    assert_eq!(status, 202);
    stack.drain_mail().await;
    let to_buyer = stack.emails_to(&buyer).await;
    assert_eq!(to_buyer.len(), 2);
    let body = to_buyer
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .find(|b| *b != first["body"].as_str().unwrap())
        .unwrap_or_else(|| to_buyer[1]["body"].as_str().unwrap());
    assert!(body.contains(keys[0].as_str()) && body.contains(keys[2].as_str()));
    assert!(!body.contains(keys[1].as_str()), "{body}");
    assert_eq!(
        stack.emails_to(&other).await.len(),
        1,
        "nothing more to them"
    );
}

/// Issue 17: a purchase's email is three DynamoDB calls (the claim, which returns the
/// purchase; one batch read of its licenses and products; the record of `sent`) and one SES
/// call, once the tenant key is cached.
#[tokio::test]
async fn a_purchase_email_is_three_dynamodb_calls_and_one_ses_call() {
    use keyhook_tests::calls::{counted_services, CallCounter};
    let stack = Stack::start().await;
    let tenant = stack.tenant("Acme").await;
    let app = stack.app(&tenant).await;
    let product = stack.product(&tenant, json!({})).await;
    let counter = CallCounter::default();
    let counted = counted_services(stack.config(), &stack.sdk, &counter);
    let mut jobs = Vec::new();
    for _ in 0..2 {
        let (event, email) = checkout_event(&product, Some(2));
        let (status, _) = stack.post_event(WEBHOOK, &event, &app.webhook_secret).await;
        assert_eq!(status, 200);
        let purchase_ref = event["data"]["object"]["payment_intent"].as_str().unwrap();
        jobs.push((
            serde_json::to_string(&MailJob::purchase(&tenant.id, purchase_ref)).unwrap(),
            email,
        ));
    }
    // The first email of the process opens the tenant key.
    let response = mailer::handle_batch(&counted, batch(&[jobs[0].0.clone()])).await;
    assert!(response.batch_item_failures.is_empty());
    counter.reset();
    let response = mailer::handle_batch(&counted, batch(&[jobs[1].0.clone()])).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        counter.take(),
        std::collections::BTreeMap::from([
            ("DynamoDB.BatchGetItem".to_string(), 1),
            ("DynamoDB.TransactWriteItems".to_string(), 1),
            ("DynamoDB.UpdateItem".to_string(), 1),
            ("SESv2.SendEmail".to_string(), 1),
        ])
    );
    let emails = stack.emails_to(&jobs[1].1).await;
    assert_eq!(emails.len(), 1);
    let keys = stack
        .licenses(&tenant, &format!("&customerEmail={}", jobs[1].1))
        .await;
    assert_eq!(keys.len(), 2);
    for l in &keys {
        assert!(emails[0]["body"]
            .as_str()
            .unwrap()
            .contains(l["key"].as_str().unwrap()));
        assert_eq!(l["emailStatus"], "sent");
    }
}
