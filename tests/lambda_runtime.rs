//! The sample events of `events/` through the real function binaries: each binary runs as Lambda
//! runs it, polling a local Lambda Runtime API (`keyhook_tests::runtime_api`), against the AWS
//! emulator. API Gateway HTTP API (payload 2.0) requests for every route (`events/apigw/`), the
//! Stripe payload (`events/stripe/`) signed into the webhook requests, and an SQS batch for the
//! mailer (`events/sqs/`) built from the messages the webhook binary actually enqueued; for
//! outgoing webhooks, a DynamoDB stream batch (`events/dynamodb/`), a delivery batch built from
//! the job the deliveries binary enqueued, and the schedules (`events/schedule/`).
//!
//! Event files hold `{{name}}` placeholders (camelCase) for what only exists at run time:
//! the tenant's token, ids, the signed Stripe body. Everything else is as AWS sends it.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use keyhook_shared::app::routes::{find, Gateway};
use keyhook_shared::app::ROUTES;
use keyhook_shared::aws_lambda_events::event::sqs::SqsEvent;
use keyhook_tests::runtime_api::{
    events_dir, function_binary, FunctionProcess, Outcome, RuntimeApi, BASE_URL,
};
use keyhook_tests::{unique, CheckoutOptions, Stack};
use serde_json::{json, Value};

const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

/// Values for an event's placeholders.
#[derive(Default, Clone)]
struct Vars(BTreeMap<&'static str, String>);

impl Vars {
    fn set(&mut self, k: &'static str, v: impl Into<String>) -> &mut Self {
        self.0.insert(k, v.into());
        self
    }
    fn with(&self, k: &'static str, v: impl Into<String>) -> Vars {
        let mut other = self.clone();
        other.set(k, v);
        other
    }
}

/// Reads `events/<path>`, fills its placeholders, and fails on any left unfilled (ours are
/// camelCase; the email template's `{{ProductName}}` and such are content, left alone).
fn load(path: &str, vars: &Vars) -> Value {
    let mut text = std::fs::read_to_string(events_dir().join(path))
        .unwrap_or_else(|e| panic!("events/{path}: {e}"));
    for (k, v) in &vars.0 {
        text = text.replace(&format!("{{{{{k}}}}}"), v);
    }
    // Filled by webhook_request once the body is known.
    const LATER: [&str; 2] = ["stripeEvent", "stripeSignature"];
    for piece in text.split("{{").skip(1) {
        let name = piece.split("}}").next().unwrap_or_default();
        if name.starts_with(|c: char| c.is_ascii_lowercase()) && !LATER.contains(&name) {
            panic!("events/{path}: placeholder {{{{{name}}}}} has no value");
        }
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("events/{path} is JSON: {e}"))
}

/// A webhook request: the file, with the Stripe event as its body (base64 when the file says
/// API Gateway encoded it) and a valid `Stripe-Signature` for exactly those bytes.
fn webhook_request(path: &str, vars: &Vars, event: &Value, secret: &str) -> Value {
    let mut request = load(path, vars);
    assert_eq!(
        request["body"], "{{stripeEvent}}",
        "{path} carries the Stripe event"
    );
    let (body, signature) = keyhook_cli::trigger::sign_event(event, secret);
    request["body"] = if request["isBase64Encoded"] == true {
        json!(base64::engine::general_purpose::STANDARD.encode(&body))
    } else {
        json!(body)
    };
    request["headers"]["stripe-signature"] = json!(signature);
    request
}

/// A function binary running on its own Runtime API, configured for a stack.
struct Lambda {
    api: RuntimeApi,
    process: FunctionProcess,
}

fn function_env(stack: &Stack, mail_from: &str) -> Vec<(String, String)> {
    let r = &stack.resources;
    [
        ("KEYHOOK_TABLE", r.table.as_str()),
        ("KEYHOOK_KMS_KEY_ID", stack.kms_alias.as_str()),
        ("KEYHOOK_MAIL_QUEUE_URL", r.queue_url.as_str()),
        ("KEYHOOK_DELIVERY_QUEUE_URL", r.delivery_queue_url.as_str()),
        ("KEYHOOK_MAIL_FROM", mail_from),
        ("KEYHOOK_PUBLIC_BASE_URL", BASE_URL),
        ("KEYHOOK_STRIPE_API_BASE", "http://127.0.0.1:9"),
        ("AWS_ENDPOINT_URL", stack.endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("RUST_LOG", "info"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

impl Lambda {
    async fn start(stack: &Stack, binary: &str) -> Lambda {
        let from = stack.resources.mail_from.clone();
        Self::start_with(stack, binary, &from).await
    }

    async fn start_with(stack: &Stack, binary: &str, mail_from: &str) -> Lambda {
        let api = RuntimeApi::start().await;
        let process = FunctionProcess::spawn(
            &function_binary(binary),
            &api,
            &function_env(stack, mail_from),
        );
        let lambda = Lambda { api, process };
        if lambda
            .api
            .wait_ready(Duration::from_secs(30))
            .await
            .is_none()
        {
            panic!(
                "{binary} never asked for an invocation; init error {:?}; output:\n{}",
                lambda.api.init_error(),
                lambda.process.output()
            );
        }
        lambda
    }

    async fn invoke(&self, event: &Value) -> Value {
        match self.api.invoke(event, INVOKE_TIMEOUT).await {
            Outcome::Response(v) => v,
            Outcome::Error(e) => panic!(
                "the function failed: {e}\noutput:\n{}",
                self.process.output()
            ),
        }
    }

    /// An API Gateway request; (status, JSON body or Null).
    async fn http(&self, event: &Value) -> (u16, Value) {
        let response = self.invoke(event).await;
        let status = response["statusCode"]
            .as_u64()
            .unwrap_or_else(|| panic!("an API Gateway v2 response: {response}"))
            as u16;
        let body = match response["body"].as_str() {
            Some(b) if response["isBase64Encoded"] == true => serde_json::from_slice(
                &base64::engine::general_purpose::STANDARD.decode(b).unwrap(),
            )
            .unwrap_or(Value::Null),
            Some(b) => serde_json::from_str(b).unwrap_or(Value::Null),
            None => Value::Null,
        };
        if !body.is_null() {
            let content_type = response["headers"]["content-type"].as_str().unwrap_or("");
            assert!(
                content_type.starts_with("application/json"),
                "JSON answers say so: {response}"
            );
        }
        (status, body)
    }
}

fn ids(items: &Value, field: &str) -> Vec<String> {
    items["items"]
        .as_array()
        .unwrap_or_else(|| panic!("a list: {items}"))
        .iter()
        .map(|i| i[field].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn admin_webhook_and_mailer_events_run_through_their_binaries() {
    let stack = Stack::start().await;
    let tenant = stack.tenant("Acme").await;
    let webhook_secret = format!("whsec_{}", unique("s").replace('-', ""));
    let mut vars = Vars::default();
    vars.set("token", &tenant.token)
        .set("tenantId", &tenant.id)
        .set("webhookSecret", &webhook_secret)
        .set(
            "stripeSecretKey",
            format!("sk_test_{}", unique("k").replace('-', "")),
        );

    let admin = Lambda::start(&stack, "keyhook-admin").await;

    let (status, body) = admin.http(&load("apigw/health.get.json", &vars)).await;
    assert_eq!((status, &body["status"]), (200, &json!("ok")));

    let (status, body) = admin.http(&load("apigw/tenant.get.json", &vars)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], tenant.id.as_str());

    // Stripe app: create, list, get, update, diagnostics.
    let (status, app) = admin
        .http(&load("apigw/stripe-apps.create.json", &vars))
        .await;
    assert_eq!(status, 201, "{app}");
    let app_id = app["id"].as_str().unwrap().to_string();
    vars.set("appId", &app_id);
    assert_eq!(
        app["webhookUrl"],
        format!("{BASE_URL}/api/stripe/webhook/{app_id}"),
        "webhook URLs are built from KEYHOOK_PUBLIC_BASE_URL"
    );
    assert!(app.get("secretKey").is_none() && app.get("webhookSigningSecret").is_none());
    assert_eq!(app["hasWebhookSigningSecret"], true);

    let (status, list) = admin
        .http(&load("apigw/stripe-apps.list.json", &vars))
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(ids(&list, "id"), vec![app_id.clone()]);

    let (status, got) = admin.http(&load("apigw/stripe-app.get.json", &vars)).await;
    assert_eq!(
        (status, &got["name"]),
        (200, &json!("Acme Stripe (test mode)"))
    );

    let (status, updated) = admin
        .http(&load("apigw/stripe-app.update.json", &vars))
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["name"], "Acme Stripe");
    assert_eq!(updated["defaultCurrency"], "eur");

    let (status, diagnostics) = admin
        .http(&load("apigw/stripe-diagnostics.get.json", &vars))
        .await;
    assert_eq!(status, 200, "{diagnostics}");
    assert_eq!(diagnostics["items"][0]["appId"], app_id.as_str());
    assert_eq!(
        (
            &diagnostics["items"][0]["hasSecret"],
            &diagnostics["items"][0]["hasWebhookSigningSecret"]
        ),
        (&json!(true), &json!(true)),
        "both secrets decrypt"
    );
    assert_eq!(
        diagnostics["items"][0]["status"], "partial",
        "Stripe (out of reach here) never said the key works"
    );
    // Repair goes through Stripe, out of reach here: said so, nothing changed.
    let (status, repair) = admin
        .http(&load("apigw/stripe-app-repair.post.json", &vars))
        .await;
    assert_eq!(
        (status, &repair["error"]["code"]),
        (502, &json!("upstream_unavailable")),
        "{repair}"
    );

    // Product and plan.
    let (status, product) = admin.http(&load("apigw/products.create.json", &vars)).await;
    assert_eq!(status, 201, "{product}");
    let product_id = product["id"].as_str().unwrap().to_string();
    vars.set("productId", &product_id);
    assert_eq!(product["maxDevices"], 3);

    let (status, list) = admin.http(&load("apigw/products.list.json", &vars)).await;
    assert_eq!(status, 200, "{list}");
    assert!(ids(&list, "id").contains(&product_id));

    let (status, got) = admin.http(&load("apigw/product.get.json", &vars)).await;
    assert_eq!((status, &got["price"]), (200, &json!("29.99")));

    let (status, updated) = admin.http(&load("apigw/product.update.json", &vars)).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        (&updated["price"], &updated["trialDays"]),
        (&json!("39.99"), &json!(14))
    );

    let (status, plan) = admin.http(&load("apigw/plans.create.json", &vars)).await;
    assert_eq!(status, 201, "{plan}");
    let plan_id = plan["id"].as_str().unwrap().to_string();
    vars.set("planId", &plan_id);
    assert_eq!(
        (&plan["productId"], &plan["days"]),
        (&json!(product_id), &json!(365))
    );

    let (status, list) = admin.http(&load("apigw/plans.list.json", &vars)).await;
    assert_eq!(status, 200, "{list}");
    assert!(ids(&list, "id").contains(&plan_id));

    let (status, got) = admin.http(&load("apigw/plan.get.json", &vars)).await;
    assert_eq!((status, &got["name"]), (200, &json!("Yearly")));

    let (status, updated) = admin.http(&load("apigw/plan.update.json", &vars)).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        (&updated["name"], &updated["days"]),
        (&json!("Annual"), &json!(366))
    );

    // Two purchases through the webhook binary: the shared URL (plain body, ?tenantId=) and
    // the app's own URL (body base64-encoded by API Gateway); then a Stripe retry.
    let webhook = Lambda::start(&stack, "keyhook-webhook").await;
    let buyer1 = format!("{}@example.com", unique("buyer"));
    let buyer2 = format!("{}@example.com", unique("buyer"));
    let purchase = |email: &str, quantity: Option<u32>, plan: Option<&str>| {
        keyhook_cli::trigger::checkout_completed(&CheckoutOptions {
            product_id: product_id.clone(),
            quantity,
            plan_id: plan.map(str::to_string),
            email: Some(email.to_string()),
            name: Some("Ada Lovelace".into()),
            livemode: false,
        })
    };
    let event1 = purchase(&buyer1, None, Some(&plan_id));
    let event2 = purchase(&buyer2, Some(2), None);

    let request1 = webhook_request(
        "apigw/stripe-webhook.post.json",
        &vars,
        &event1,
        &webhook_secret,
    );
    let (status, receipt1) = webhook.http(&request1).await;
    assert_eq!(status, 200, "{receipt1}");
    assert_eq!(receipt1["status"], "verified", "{receipt1}");
    assert_eq!(receipt1["eventId"], event1["id"]);
    assert_eq!(receipt1["duplicate"], false);
    let licenses1: Vec<String> = serde_json::from_value(receipt1["licenseIds"].clone()).unwrap();
    assert_eq!(licenses1.len(), 1);

    let (status, receipt2) = webhook
        .http(&webhook_request(
            "apigw/stripe-webhook-app.post.json",
            &vars,
            &event2,
            &webhook_secret,
        ))
        .await;
    assert_eq!(status, 200, "{receipt2}");
    assert_eq!(receipt2["status"], "verified", "{receipt2}");
    assert_eq!(receipt2["appId"], app_id.as_str());
    assert_eq!(receipt2["licenseIds"].as_array().unwrap().len(), 2);

    let (status, retry) = webhook.http(&request1).await;
    assert_eq!(status, 200, "{retry}");
    assert_eq!(
        retry["duplicate"], true,
        "a retried delivery changes nothing"
    );
    assert_eq!(retry["licenseIds"], receipt1["licenseIds"]);

    let mut tampered = request1.clone();
    tampered["body"] = json!(request1["body"].as_str().unwrap().replace("Ada", "Eve"));
    let (status, refused) = webhook.http(&tampered).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["code"], "no_app_matched_signature");

    // The event log and the licenses, through the admin binary.
    vars.set("eventId", event1["id"].as_str().unwrap());
    let (status, list) = admin
        .http(&load("apigw/stripe-events.list.json", &vars))
        .await;
    assert_eq!(status, 200, "{list}");
    let logged = ids(&list, "eventId");
    for e in [&event1, &event2] {
        assert!(
            logged.contains(&e["id"].as_str().unwrap().to_string()),
            "{list}"
        );
    }
    let (status, entry) = admin
        .http(&load("apigw/stripe-event.get.json", &vars))
        .await;
    assert_eq!(status, 200, "{entry}");
    assert_eq!(entry["status"], "verified");
    assert_eq!(entry["licenseIds"], receipt1["licenseIds"]);

    let (status, list) = admin.http(&load("apigw/licenses.list.json", &vars)).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 3, "{list}");

    vars.set("licenseId", &licenses1[0]);
    let (status, license) = admin.http(&load("apigw/license.get.json", &vars)).await;
    assert_eq!(status, 200, "{license}");
    assert_eq!(license["status"], "active");
    assert_eq!(license["customerEmail"], buyer1.as_str());
    assert_eq!(license["emailStatus"], "pending");
    let key1 = license["key"].as_str().unwrap().to_string();
    assert!(key1.len() >= 16, "{license}");

    // The mail jobs the webhook binary enqueued, as the SQS event source delivers them.
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    let mut messages = Vec::new();
    for _ in 0..5 {
        let out = sqs
            .receive_message()
            .queue_url(&stack.resources.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        let got = out.messages.unwrap_or_default();
        if got.is_empty() && messages.len() >= 2 {
            break;
        }
        messages.extend(got);
    }
    // One job per purchase, plus one more for purchase 1: a pending email is enqueued again
    // when Stripe retries the event (in case the first enqueue was lost); the mailer's claim
    // makes the second one a no-op.
    assert_eq!(messages.len(), 3, "mail jobs: {messages:?}");
    // A one-time purchase is named by its payment intent (the session's and the intent's events
    // are one purchase), and the mail job names the purchase.
    let job_for = |event: &Value| {
        let purchase = event["data"]["object"]["payment_intent"].as_str().unwrap();
        messages
            .iter()
            .find(|m| m.body().unwrap().contains(purchase))
            .unwrap_or_else(|| panic!("a mail job for {purchase}"))
    };
    let (job1, job2) = (job_for(&event1), job_for(&event2));
    let batch_vars = vars
        .with("messageId1", job1.message_id().unwrap())
        .with("md5OfBody1", job1.md5_of_body().unwrap())
        .with("messageId2", job2.message_id().unwrap())
        .with("md5OfBody2", job2.md5_of_body().unwrap());
    // Bodies are JSON inside a JSON string: fill them after parsing.
    let mut batch = load(
        "sqs/mail-batch.json",
        &batch_vars.with("mailJob1", "").with("mailJob2", ""),
    );
    batch["Records"][0]["body"] = json!(job1.body().unwrap());
    batch["Records"][1]["body"] = json!(job2.body().unwrap());
    serde_json::from_value::<SqsEvent>(batch.clone()).expect("a valid SQS event");

    // A mailer whose sender SES refuses: the failed message, and only it, is reported for retry.
    let refused_sender = format!("{}@unverified.example.net", unique("nobody"));
    let broken_mailer = Lambda::start_with(&stack, "keyhook-mailer", &refused_sender).await;
    let mut only_job2 = batch.clone();
    only_job2["Records"] = json!([batch["Records"][1].clone()]);
    let response = broken_mailer.invoke(&only_job2).await;
    assert_eq!(
        response,
        json!({"batchItemFailures": [{"itemIdentifier": job2.message_id().unwrap()}]}),
        "partial batch response naming the failed message"
    );
    assert!(stack.emails_to(&buyer2).await.is_empty());

    // The real mailer: both jobs sent, the malformed record dropped, nothing to retry.
    let mailer = Lambda::start(&stack, "keyhook-mailer").await;
    let response = mailer.invoke(&batch).await;
    assert_eq!(
        response,
        json!({"batchItemFailures": []}),
        "{}",
        mailer.process.output()
    );
    let emails1 = stack.emails_to(&buyer1).await;
    assert_eq!(emails1.len(), 1, "{emails1:?}");
    let email1 = emails1[0].to_string();
    assert!(email1.contains("Your Acme Pro license"), "{email1}");
    assert!(
        email1.contains(&key1),
        "the email carries the key: {email1}"
    );
    assert_eq!(
        stack.emails_to(&buyer2).await.len(),
        1,
        "one email, two keys"
    );
    let (_, license) = admin.http(&load("apigw/license.get.json", &vars)).await;
    assert_eq!(license["emailStatus"], "sent");

    // Deletes: the plan; a product with licenses is refused, an unused one deleted; the app.
    let (status, _) = admin.http(&load("apigw/plan.delete.json", &vars)).await;
    assert_eq!(status, 204);
    let (status, _) = admin.http(&load("apigw/plan.get.json", &vars)).await;
    assert_eq!(status, 404);
    let (status, refused) = admin.http(&load("apigw/product.delete.json", &vars)).await;
    assert_eq!(status, 409, "{refused}");
    let spare = stack.product(&tenant, json!({"name": "Spare"})).await;
    let (status, _) = admin
        .http(&load(
            "apigw/product.delete.json",
            &vars.with("productId", &spare),
        ))
        .await;
    assert_eq!(status, 204);
    let (status, _) = admin
        .http(&load("apigw/stripe-app.delete.json", &vars))
        .await;
    assert_eq!(status, 204);
    let (status, _) = admin.http(&load("apigw/stripe-app.get.json", &vars)).await;
    assert_eq!(status, 404);

    // Each Lambda serves only its own rows of the route table.
    let checkout = Lambda::start(&stack, "keyhook-checkout").await;
    let (status, body) = checkout.http(&load("apigw/health.get.json", &vars)).await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));
    let (status, _) = webhook.http(&load("apigw/tenant.get.json", &vars)).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn validation_events_run_through_the_validate_binary() {
    let stack = Stack::start().await;
    let tenant = stack.tenant("Acme").await;
    let app = stack.live_app(&tenant).await;
    let product = stack.product(&tenant, json!({"maxDevices": 2})).await;
    let (event, _) = keyhook_tests::live_checkout_event(&product, None);
    let (status, receipt) = stack
        .post_event("/api/stripe/webhook", &event, &app.webhook_secret)
        .await;
    assert_eq!(status, 200, "{receipt}");
    let license_id = receipt["licenseIds"][0].as_str().unwrap();
    let (_, license) = stack
        .api(
            &tenant.token,
            "GET",
            &format!("/api/licenses/{license_id}"),
            None,
        )
        .await;
    let mut vars = Vars::default();
    vars.set("tenantId", &tenant.id)
        .set("productId", &product)
        .set("licenseKey", license["key"].as_str().unwrap());

    let validate = Lambda::start(&stack, "keyhook-validate").await;
    let signed = |body: &Value| {
        assert!(
            body["signature"].as_str().is_some_and(|s| !s.is_empty()),
            "answers are signed: {body}"
        );
        assert!(body["signedAt"].is_string(), "{body}");
    };

    let (status, activated) = validate
        .http(&load("apigw/licenses-activate.post.json", &vars))
        .await;
    assert_eq!(status, 200, "{activated}");
    assert_eq!(activated["valid"], true, "{activated}");
    signed(&activated);

    let (status, validated) = validate
        .http(&load("apigw/licenses-validate.post.json", &vars))
        .await;
    assert_eq!(status, 200, "{validated}");
    assert_eq!(
        (&validated["valid"], &validated["code"]),
        (&json!(true), &json!("VALID")),
        "{validated}"
    );
    assert_eq!(validated["nonce"], "n-5b1d0c", "the nonce is echoed");
    assert_eq!(validated["license"]["id"], license_id);
    signed(&validated);

    // The same request through a Lambda Function URL (ValidationEndpoint=FunctionUrl in the
    // template): its event shape goes through the same binary to the same answer.
    let (status, via_url) = validate
        .http(&load("function-url/licenses-validate.post.json", &vars))
        .await;
    assert_eq!(status, 200, "{via_url}");
    assert_eq!(
        (&via_url["valid"], &via_url["code"]),
        (&json!(true), &json!("VALID"))
    );
    assert_eq!(via_url["license"]["id"], license_id);
    signed(&via_url);

    let (status, deactivated) = validate
        .http(&load("apigw/licenses-deactivate.post.json", &vars))
        .await;
    assert_eq!(status, 200, "{deactivated}");
    signed(&deactivated);

    let (status, key) = validate
        .http(&load("apigw/signing-key.get.json", &vars))
        .await;
    assert_eq!(status, 200, "{key}");
    assert!(key.is_object(), "{key}");

    let (status, other) = validate
        .http(&load(
            "apigw/licenses-validate.post.json",
            &vars.with("licenseKey", "AAAAA-BBBBB-CCCCC-DDDDD"),
        ))
        .await;
    assert_eq!(status, 200, "{other}");
    assert_eq!(other["valid"], false, "{other}");
    signed(&other);
}

/// `{appId}` in a route template matches `{{appId}}` (or any value) in a path.
fn path_matches(template: &str, path: &str) -> bool {
    let (t, p): (Vec<_>, Vec<_>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| t == p || (t.starts_with('{') && !p.is_empty()))
}

#[test]
fn every_route_has_a_sample_event_and_every_event_a_route() {
    let mut by_route: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in std::fs::read_dir(events_dir().join("apigw")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        // The shape API Gateway sends (payload format 2.0, `$default` stage).
        assert_eq!(event["version"], "2.0", "{name}");
        let route_key = event["routeKey"].as_str().unwrap().to_string();
        let ctx = &event["requestContext"];
        assert_eq!(ctx["routeKey"], route_key.as_str(), "{name}");
        assert_eq!(ctx["stage"], "$default", "{name}");
        let method = ctx["http"]["method"].as_str().unwrap().to_string();
        let raw_path = event["rawPath"].as_str().unwrap();
        assert_eq!(ctx["http"]["path"], raw_path, "{name}");
        // The route API Gateway matched: the route's own for the webhook, checkout, validate
        // and docs functions; a greedy `ANY /<segment>/{proxy+}` (the rest of the path as
        // `proxy`) or `ANY /<segment>` for the pages; `$default` (and no path parameters) for
        // the admin function's.
        let is_prefix = ROUTES
            .iter()
            .any(|r| r.gateway == Gateway::Prefix && r.prefix_route_key() == route_key);
        let template = if is_prefix {
            let (route, _) = find(&method.parse().unwrap(), raw_path)
                .unwrap_or_else(|e| panic!("{name}: {method} {raw_path} is a route: {e}"));
            assert_eq!(route.gateway, Gateway::Prefix, "{name}: {route_key}");
            assert_eq!(route.prefix_route_key(), route_key, "{name}");
            match route_key["ANY ".len()..].strip_suffix("/{proxy+}") {
                Some(segment) => assert_eq!(
                    event["pathParameters"]["proxy"].as_str(),
                    raw_path.strip_prefix(&format!("{segment}/")),
                    "{name}: proxy is the rest of the path"
                ),
                None => assert!(event["pathParameters"].is_null(), "{name}"),
            }
            route.path
        } else if route_key == "$default" {
            assert!(
                event["pathParameters"].is_null(),
                "{name}: $default has none"
            );
            let (route, _) = find(&method.parse().unwrap(), raw_path)
                .unwrap_or_else(|e| panic!("{name}: {method} {raw_path} is a route: {e}"));
            assert_eq!(
                route.gateway,
                Gateway::Default,
                "{name}: {} {} has its own route in the template",
                route.method,
                route.path
            );
            route.path
        } else {
            let (m, template) = route_key.split_once(' ').unwrap();
            assert_eq!(m, method, "{name}");
            let route = ROUTES
                .iter()
                .find(|r| r.method == m && r.path == template)
                .unwrap_or_else(|| panic!("{name}: {route_key} is a route"));
            assert_eq!(
                route.gateway,
                Gateway::OwnRoute,
                "{name}: {route_key} reaches its function through $default"
            );
            route.path
        };
        assert!(
            path_matches(template, raw_path),
            "{name}: {raw_path} is {template}"
        );
        assert!(event["isBase64Encoded"].is_boolean(), "{name}");
        for field in ["requestId", "accountId", "apiId", "domainName", "timeEpoch"] {
            assert!(!ctx[field].is_null(), "{name}: requestContext.{field}");
        }
        // lambda_http (what the functions use) reads it as that request.
        let mut event = event.clone();
        if event["body"] == "{{stripeEvent}}" {
            event["body"] = json!(if event["isBase64Encoded"] == true {
                "e30="
            } else {
                "{}"
            });
        }
        let request = lambda_http::request::from_str(&event.to_string())
            .unwrap_or_else(|e| panic!("{name} is an API Gateway event: {e}"));
        assert_eq!(request.method().as_str(), method, "{name}");
        by_route
            .entry(format!("{method} {template}"))
            .or_default()
            .push(name);
    }
    let in_code: BTreeMap<String, ()> = ROUTES
        .iter()
        .map(|r| (format!("{} {}", r.method, r.path), ()))
        .collect();
    let without_event: Vec<_> = in_code
        .keys()
        .filter(|k| !by_route.contains_key(*k))
        .collect();
    let without_route: Vec<_> = by_route
        .iter()
        .filter(|(k, _)| !in_code.contains_key(*k))
        .collect();
    assert!(
        without_event.is_empty() && without_route.is_empty(),
        "routes without a sample event in events/apigw: {without_event:?}\n\
         sample events for routes the code does not have: {without_route:?}"
    );

    let deliveries: SqsEvent = serde_json::from_str(
        &std::fs::read_to_string(events_dir().join("sqs/delivery-batch.json")).unwrap(),
    )
    .expect("events/sqs/delivery-batch.json is an SQS event");
    assert!(!deliveries.records.is_empty());
    let stream: keyhook_shared::consumers::deliveries::stream::StreamEvent = serde_json::from_str(
        &std::fs::read_to_string(events_dir().join("dynamodb/stream-batch.json")).unwrap(),
    )
    .expect("events/dynamodb/stream-batch.json is a DynamoDB stream event");
    assert!(stream
        .records
        .iter()
        .all(|r| r.event_source.as_deref() == Some("aws:dynamodb")));

    let batch: SqsEvent = serde_json::from_str(
        &std::fs::read_to_string(events_dir().join("sqs/mail-batch.json")).unwrap(),
    )
    .expect("events/sqs/mail-batch.json is an SQS event");
    assert!(batch.records.len() >= 2);
    for r in &batch.records {
        assert_eq!(r.event_source.as_deref(), Some("aws:sqs"));
        assert!(r.attributes.contains_key("ApproximateReceiveCount"));
    }
}

/// The dashboard through the pages binary: pages with their headers and cookies as API Gateway
/// (payload 2.0) carries them, a sign-in link used once, and the session it starts.
#[tokio::test]
async fn dashboard_events_run_through_the_pages_binary() {
    let stack = Stack::start().await;
    let tenant = stack.tenant("Acme").await;
    let owner = format!("{}@example.com", unique("owner"));
    stack
        .member(&tenant, &owner, keyhook_shared::domain::member::Role::Owner)
        .await;
    let pages = Lambda::start(&stack, "keyhook-pages").await;
    let vars = Vars::default();

    let page = pages
        .invoke(&load("apigw/dashboard-sign-in.get.json", &vars))
        .await;
    assert_eq!(page["statusCode"], 200, "{page}");
    let headers = &page["headers"];
    assert!(headers["content-type"]
        .as_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(headers["content-security-policy"]
        .as_str()
        .unwrap()
        .contains("script-src 'self'"));
    let cookies = page["cookies"].to_string();
    assert!(
        cookies.contains("__Host-kh_pre=") && cookies.contains("Secure"),
        "an https base URL gets __Host- Secure cookies: {page}"
    );

    let home = pages.invoke(&load("apigw/dashboard.get.json", &vars)).await;
    assert_eq!(home["statusCode"], 303, "{home}");
    assert_eq!(
        home["headers"]["location"],
        "/dashboard/sign-in?next=%2Fdashboard"
    );

    let token = stack.link_token(&owner).await;
    let mut event = load("apigw/dashboard-sign-in-link.get.json", &vars);
    event["rawQueryString"] = json!(format!("token={token}"));
    event["queryStringParameters"] = json!({ "token": token });
    let link_page = pages.invoke(&event).await;
    assert_eq!(
        link_page["statusCode"], 200,
        "opening a link uses nothing up: {link_page}"
    );
    assert!(link_page["body"]
        .as_str()
        .unwrap()
        .contains(">Sign in</button>"));
    let pre_cookie = link_page["cookies"][0]
        .as_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert!(pre_cookie.starts_with("__Host-kh_pre="), "{pre_cookie}");
    let pre = pre_cookie.split_once('=').unwrap().1.to_string();
    let mut press = load(
        "apigw/dashboard-sign-in-link.post.json",
        &vars.with("linkToken", &token).with("tenantId", &tenant.id),
    );
    press["cookies"] = json!([pre_cookie]);
    press["body"] = json!(format!("pre={pre}&token={token}&choice={}", tenant.id));
    let signed = pages.invoke(&press).await;
    assert_eq!(signed["statusCode"], 303, "{signed}");
    assert_eq!(signed["headers"]["location"], "/dashboard");
    let cookie = signed["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .find(|c| c.starts_with("__Host-kh_session="))
        .unwrap()
        .to_string();
    assert!(cookie.contains("HttpOnly"));
    let again = pages.invoke(&press).await;
    assert_eq!(again["statusCode"], 400, "a link works once");

    let mut overview = load("apigw/dashboard.get.json", &vars);
    overview["cookies"] = json!([cookie.split(';').next().unwrap()]);
    let page = pages.invoke(&overview).await;
    assert_eq!(page["statusCode"], 200, "{page}");
    assert!(page["body"].as_str().unwrap().contains("Setup checklist"));

    // The pages' code is in the pages binary only: in the admin binary it took the admin
    // function's zip over 4 MiB (docs/deploy.md, "Size"). The stylesheet stands for it.
    let css = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/src/dashboard/assets/dashboard.css"),
    )
    .unwrap();
    let needle = &css.as_bytes()[css.len() / 2..css.len() / 2 + 64];
    let carries = |binary: &str| {
        let bytes = std::fs::read(function_binary(binary)).unwrap();
        bytes.windows(needle.len()).any(|w| w == needle)
    };
    assert!(carries("keyhook-pages"), "the pages binary serves it");
    assert!(!carries("keyhook-admin"), "the admin binary links no pages");
    // And the admin function does not answer the pages' routes (API Gateway sends them to the
    // pages function; tests/template.rs): a clear 404, not a page.
    let admin = Lambda::start(&stack, "keyhook-admin").await;
    let mut to_admin = load("apigw/dashboard-sign-in.get.json", &vars);
    to_admin["routeKey"] = json!("$default");
    to_admin["requestContext"]["routeKey"] = json!("$default");
    let (status, body) = admin.http(&to_admin).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("not_found")),
        "{body}"
    );
}

#[tokio::test]
async fn outgoing_webhook_events_run_through_the_admin_deliveries_and_reconcile_binaries() {
    use keyhook_tests::merchant::MerchantEndpoint;
    let stack = Stack::start().await;
    let tenant = stack.tenant("Acme").await;
    let merchant = MerchantEndpoint::start(&stack.services.clock, &[], 200).await;
    let mut vars = Vars::default();
    vars.set("token", &tenant.token)
        .set("tenantId", &tenant.id)
        .set("merchantUrl", &merchant.url);

    // A function sends webhooks to public addresses only: the merchant's server on loopback
    // is refused at registration...
    let admin = Lambda::start(&stack, "keyhook-admin").await;
    let (status, refused) = admin
        .http(&load("apigw/webhook-endpoints.post.json", &vars))
        .await;
    assert_eq!(
        (status, &refused["error"]["field"]),
        (422, &json!("url")),
        "{refused}"
    );

    // Endpoint: create (secret shown once), list, get, update.
    vars.set("merchantUrl", "https://hooks.acme.example/keyhook");
    let (status, endpoint) = admin
        .http(&load("apigw/webhook-endpoints.post.json", &vars))
        .await;
    assert_eq!(status, 201, "{endpoint}");
    vars.set("endpointId", endpoint["id"].as_str().unwrap());
    let (status, list) = admin
        .http(&load("apigw/webhook-endpoints.get.json", &vars))
        .await;
    assert_eq!(status, 200);
    assert_eq!(ids(&list, "id"), vec![endpoint["id"].as_str().unwrap()]);
    let (status, got) = admin
        .http(&load("apigw/webhook-endpoint.get.json", &vars))
        .await;
    assert_eq!(
        (status, got["eventTypes"].as_array().unwrap().len()),
        (200, 3)
    );
    let (status, updated) = admin
        .http(&load("apigw/webhook-endpoint.put.json", &vars))
        .await;
    assert_eq!(
        (status, &updated["eventTypes"]),
        (200, &json!(["*"])),
        "{updated}"
    );

    // ... and at delivery, for an endpoint that points there (as one registered with `keyhook
    // dev`, which allows loopback, does).
    let (status, moved) = stack
        .api(
            &tenant.token,
            "PUT",
            &format!(
                "/api/webhook-endpoints/{}",
                endpoint["id"].as_str().unwrap()
            ),
            Some(json!({"url": merchant.url})),
        )
        .await;
    assert_eq!(status, 200, "{moved}");

    // A stream batch (a trial started, and an item no event is derived from) through the
    // deliveries binary: one delivery is queued.
    let deliveries = Lambda::start(&stack, "keyhook-deliveries").await;
    vars.set("streamEventId", unique("rec"))
        .set("productId", "42")
        .set("deviceHash", "9f86d081884c7d65");
    let response = deliveries
        .invoke(&load("dynamodb/stream-batch.json", &vars))
        .await;
    assert_eq!(
        response,
        json!({"batchItemFailures": []}),
        "{}",
        deliveries.process.output()
    );
    let sqs = aws_sdk_sqs::Client::new(&stack.sdk);
    let mut messages = Vec::new();
    for _ in 0..5 {
        let out = sqs
            .receive_message()
            .queue_url(&stack.resources.delivery_queue_url)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        messages.extend(out.messages.unwrap_or_default());
        if !messages.is_empty() {
            break;
        }
    }
    assert_eq!(messages.len(), 1, "one delivery job: {messages:?}");
    let job = &messages[0];
    let mut batch = load(
        "sqs/delivery-batch.json",
        &vars
            .with("messageId1", job.message_id().unwrap())
            .with("md5OfBody1", job.md5_of_body().unwrap())
            .with("deliveryJob1", ""),
    );
    batch["Records"][0]["body"] = json!(job.body().unwrap());
    let response = deliveries.invoke(&batch).await;
    assert_eq!(
        response,
        json!({"batchItemFailures": []}),
        "{}",
        deliveries.process.output()
    );
    assert!(merchant.received().is_empty(), "nothing reached loopback");

    // The delivery log, a manual retry, a test event and a secret roll.
    let (status, log) = admin
        .http(&load("apigw/webhook-endpoint-deliveries.get.json", &vars))
        .await;
    assert_eq!(status, 200, "{log}");
    let delivery = &log["items"][0];
    assert_eq!(delivery["eventType"], "trial.started");
    assert_eq!(
        (&delivery["status"], &delivery["lastAttempt"]["error"]),
        (&json!("pending"), &json!("refused: not a public address")),
        "{delivery}"
    );
    vars.set("deliveryId", log["items"][0]["id"].as_str().unwrap());
    let (status, retried) = admin
        .http(&load(
            "apigw/webhook-endpoint-delivery-retry.post.json",
            &vars,
        ))
        .await;
    assert_eq!(
        (status, &retried["status"]),
        (202, &json!("pending")),
        "{retried}"
    );
    let (status, test) = admin
        .http(&load("apigw/webhook-endpoint-test.post.json", &vars))
        .await;
    assert_eq!(
        (status, &test["eventType"]),
        (202, &json!("webhook.test")),
        "{test}"
    );
    let (status, rolled) = admin
        .http(&load("apigw/webhook-endpoint-roll-secret.post.json", &vars))
        .await;
    assert_eq!(status, 200, "{rolled}");
    assert!(rolled["secret"].as_str().unwrap().starts_with("whsec_"));

    // The schedules: the sweep through the deliveries binary, reconciliation through its own.
    let sweep = deliveries.invoke(&load("schedule/sweep.json", &vars)).await;
    assert!(sweep["timers"].is_u64(), "{sweep}");
    let reconcile = Lambda::start(&stack, "keyhook-reconcile").await;
    let runs = reconcile
        .invoke(&load("schedule/reconcile.json", &vars))
        .await;
    assert_eq!(runs, json!([]), "no app to reconcile in this stack");

    let (status, _) = admin
        .http(&load("apigw/webhook-endpoint.delete.json", &vars))
        .await;
    assert_eq!(status, 204);
    let (status, _) = admin
        .http(&load("apigw/webhook-endpoint.get.json", &vars))
        .await;
    assert_eq!(status, 404);
}

/// The API reference through its own binary, and the renderer's bytes in that binary only: in
/// the admin binary they took the admin function's zip over 4 MB (docs/deploy.md, "Size").
#[tokio::test]
async fn docs_events_run_through_the_docs_binary_which_alone_carries_the_renderer() {
    let stack = Stack::start().await;
    let docs = Lambda::start(&stack, "keyhook-docs").await;
    let vars = Vars::default();

    let page = docs.invoke(&load("apigw/docs.get.json", &vars)).await;
    assert_eq!(page["statusCode"], 200, "{page}");
    let html = page["body"].as_str().unwrap();
    assert!(
        html.contains("<rapi-doc") && html.contains("spec-url=\"/openapi.json\""),
        "{html}"
    );
    let csp = page["headers"]["content-security-policy"].as_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");

    let vendored = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/vendor/rapidoc/rapidoc-min.js.gz"),
    )
    .unwrap();
    let asset = docs
        .invoke(&load("apigw/docs-assets-asset.get.json", &vars))
        .await;
    assert_eq!(asset["statusCode"], 200, "{}", asset["headers"]);
    assert_eq!(asset["headers"]["content-encoding"], "gzip");
    assert_eq!(asset["isBase64Encoded"], true, "gzip bytes go as binary");
    let sent = base64::engine::general_purpose::STANDARD
        .decode(asset["body"].as_str().unwrap())
        .unwrap();
    assert!(sent == vendored, "the vendored gzip, byte for byte");

    // 64 bytes from the middle of the gzip: compressed data, found only where it is embedded.
    let middle = vendored.len() / 2;
    let needle = &vendored[middle..middle + 64];
    let carries = |binary: &str| {
        let bytes = std::fs::read(function_binary(binary)).unwrap();
        bytes.windows(needle.len()).any(|w| w == needle)
    };
    assert!(carries("keyhook-docs"), "the docs binary serves it");
    assert!(
        !carries("keyhook-admin"),
        "the admin binary links no renderer"
    );
    // And the admin function no longer answers the docs' routes (API Gateway sends them to
    // the docs function; tests/template.rs).
    let admin = Lambda::start(&stack, "keyhook-admin").await;
    let mut to_admin = load("apigw/docs.get.json", &vars);
    to_admin["routeKey"] = json!("$default");
    to_admin["requestContext"]["routeKey"] = json!("$default");
    let (status, _) = admin.http(&to_admin).await;
    assert_eq!(status, 404);
}
