//! Test support: a whole Keyhook stack per test, on the AWS emulator (moto) that `make test`
//! starts. Each stack provisions its own uniquely named table, KMS key, queues and sender
//! identity, and serves every route on its own loopback port through the real dispatcher, so
//! tests run in parallel without seeing each other.

pub mod calls;
pub mod cost;
pub mod dashboard;
pub mod dates;
pub mod dynamo_responder;
pub mod fake_stripe;
pub mod fake_stripe_connect;
pub mod figures;
pub mod merchant;
pub mod portal;
pub mod shop;
pub mod stripe;

use std::net::SocketAddr;
use std::time::Duration;

use aws_config::SdkConfig;
use keyhook_cli::stream_worker::StreamReader;
use keyhook_cli::{delivery_worker, mail_worker, provision, server, trigger};
use keyhook_shared::handlers::admin::tenant;
use keyhook_shared::stripe::{RetryPolicy, StripeClient};
use keyhook_shared::{Config, Services};
use serde_json::{json, Value};

pub use dates::{expiry, now, DAY};
pub use keyhook_cli::trigger::CheckoutOptions;
pub use shop::{Shop, World};

/// The shared Stripe webhook URL (an app's own is this followed by `/{appId}`).
pub const WEBHOOK: &str = "/api/stripe/webhook";

pub mod runtime_api;

/// A running stack.
pub struct Stack {
    pub services: Services,
    pub sdk: SdkConfig,
    pub base_url: String,
    pub resources: provision::Resources,
    pub kms_alias: String,
    pub endpoint: String,
    pub http: reqwest::Client,
    /// The Stripe API the stack calls (a fake), when started with one.
    pub stripe_api_base: Option<String>,
    /// The table's stream, read as Lambda's event source would (see [`Stack::deliver`]).
    stream: tokio::sync::Mutex<StreamReader>,
}

/// A tenant created for a test, with its API token.
#[derive(Debug, Clone)]
pub struct TestTenant {
    pub id: String,
    pub token: String,
}

/// A Stripe app registered for a test, with its plaintext signing secret.
#[derive(Debug, Clone)]
pub struct TestApp {
    pub id: String,
    pub webhook_secret: String,
    pub secret_key: String,
}

/// A unique suffix for resource names and email addresses.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        keyhook_shared::ids::random_symbols(12).to_ascii_lowercase()
    )
}

/// The emulator's endpoint; tests need `make test` (or AWS_ENDPOINT_URL set by hand).
pub fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").expect(
        "AWS_ENDPOINT_URL is not set: run the tests with `make test`, which starts the AWS emulator",
    )
}

pub async fn sdk_config() -> SdkConfig {
    // Dummy credentials and region unless the environment has them (the emulator takes any).
    for (k, v) in [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ] {
        if std::env::var(k).is_err() {
            std::env::set_var(k, v);
        }
    }
    // The functions' own configuration (`sdk::config_from_env`: their HTTPS client, the
    // environment's credentials and region), pointed at the emulator.
    keyhook_shared::sdk::config_from_env()
        .expect("the SDK configuration from the environment")
        .into_builder()
        .endpoint_url(endpoint())
        .build()
}

/// A config for resources of this stack.
pub fn config_for(r: &provision::Resources, kms_alias: &str, base_url: &str) -> Config {
    Config {
        table_name: r.table.clone(),
        kms_key_id: kms_alias.to_string(),
        mail_queue_url: r.queue_url.clone(),
        delivery_queue_url: r.delivery_queue_url.clone(),
        mail_from: r.mail_from.clone(),
        public_base_url: base_url.to_string(),
        stripe_api_base: "http://127.0.0.1:9".into(),
        key_cache_ttl: Duration::from_secs(300),
        token_cache_ttl: keyhook_shared::store::read_cache::TOKEN_TTL,
        product_cache_ttl: keyhook_shared::store::read_cache::PRODUCT_TTL,
        webhook_tolerance: Duration::from_secs(300),
        mail_max_receives: provision::MAIL_MAX_RECEIVE_COUNT,
        dashboard_signup: false,
        // The merchants' endpoints of the tests (`merchant::MerchantEndpoint`) listen on
        // loopback; a test of what a deployment refuses turns this off.
        allow_loopback_webhooks: true,
        // Tests post from loopback; the shared URL's address check has its own tests.
        stripe_source_ips: keyhook_shared::config::StripeSourceIps::Off,
    }
}

/// Stripe calls in tests fail fast: an outage or a retry costs milliseconds, not seconds.
pub fn fast_stripe_policy() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        connect_timeout: Duration::from_millis(500),
        timeout: Duration::from_millis(500),
        first_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
    }
}

/// Points services at a (fake) Stripe API with the fast retry policy.
pub fn with_stripe(mut services: Services, stripe_api_base: &str) -> Services {
    services.stripe = StripeClient::with_policy(stripe_api_base, fast_stripe_policy());
    services
}

impl Stack {
    /// Provisions fresh resources and starts a server with the normal services (Stripe's API
    /// unreachable: tests that need it use [`Stack::with_stripe`]).
    pub async fn start() -> Stack {
        Self::start_inner(None).await
    }

    /// Like [`Stack::start`], with Stripe's API at `stripe_api_base` (a fake Stripe) and fast
    /// retries.
    pub async fn start_with_stripe(stripe_api_base: &str) -> Stack {
        Self::start_inner(Some(stripe_api_base)).await
    }

    async fn start_inner(stripe_api_base: Option<&str>) -> Stack {
        let sdk = sdk_config().await;
        let name = unique("kh");
        let kms_alias = format!("alias/{name}");
        let resources = provision::provision(
            &sdk,
            &provision::ResourceNames {
                table: name.clone(),
                kms_alias: kms_alias.clone(),
                queue: name.clone(),
                delivery_queue: format!("{name}-deliveries"),
                mail_from: format!("licenses@{name}.example.com"),
            },
        )
        .await
        .expect("provisioning on the emulator");
        // The base URL is only known after binding; webhook URLs shown by the admin API use
        // it, so bind first on a free port, then build the services for that port.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        drop(listener);
        let base_url = format!("http://{addr}");
        let mut config = config_for(&resources, &kms_alias, &base_url);
        if let Some(base) = stripe_api_base {
            config.stripe_api_base = base.to_string();
        }
        let mut services = Services::new(config, &sdk);
        if let Some(base) = stripe_api_base {
            services = with_stripe(services, base);
        }
        // Retries wait on `services.clock` (which tests move forward), not on SQS's delay.
        services.deliveries = services.deliveries.clone().with_max_delay(Duration::ZERO);
        server::spawn(services.clone(), addr)
            .await
            .expect("local server binds");
        Stack {
            services,
            base_url,
            kms_alias,
            endpoint: endpoint(),
            http: reqwest::Client::new(),
            stripe_api_base: stripe_api_base.map(str::to_string),
            stream: tokio::sync::Mutex::new(StreamReader::new(
                aws_sdk_dynamodbstreams::Client::new(&sdk),
                resources.stream_arn.clone(),
            )),
            sdk,
            resources,
        }
    }

    /// Another server over the same resources, with other services (e.g. a broken client);
    /// returns its base URL.
    pub async fn serve_with(&self, services: Services) -> String {
        let addr = server::spawn(services, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        format!("http://{addr}")
    }

    /// The stack's clock (which tests move forward), in Unix seconds.
    pub fn now(&self) -> i64 {
        self.services.clock.now().unix_timestamp()
    }

    pub fn config(&self) -> Config {
        let mut config = config_for(&self.resources, &self.kms_alias, &self.base_url);
        if let Some(base) = &self.stripe_api_base {
            config.stripe_api_base = base.clone();
        }
        config
    }

    pub async fn tenant(&self, name: &str) -> TestTenant {
        let (t, token) = tenant::create_tenant(&self.services, name)
            .await
            .expect("tenant created");
        TestTenant { id: t.id, token }
    }

    /// An admin API call; (status, JSON body or Null).
    pub async fn api(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base_url))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("server answers");
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A tenant's published signing keys as served (`GET /api/tenants/{id}/signing-keys`, which
    /// must answer 200): what a client app verifies answers with.
    pub async fn published_keys(&self, tenant_id: &str) -> Vec<u8> {
        let res = self
            .http
            .get(format!(
                "{}/api/tenants/{tenant_id}/signing-keys",
                self.base_url
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        res.bytes().await.unwrap().to_vec()
    }

    /// The admin API's view of a Stripe app (`GET /api/stripe/apps/{id}`), which must exist.
    pub async fn app_view(&self, tenant: &TestTenant, app_id: &str) -> Value {
        let (status, app) = self
            .api(
                &tenant.token,
                "GET",
                &format!("/api/stripe/apps/{app_id}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{app}");
        app
    }

    /// Registers a test-mode Stripe app with fresh secrets.
    pub async fn app(&self, tenant: &TestTenant) -> TestApp {
        self.app_with(tenant, json!({})).await
    }

    /// Registers a live-mode Stripe app with fresh secrets (its events issue live licenses).
    pub async fn live_app(&self, tenant: &TestTenant) -> TestApp {
        let secret_key = format!("sk_live_{}", unique("key").replace('-', ""));
        self.app_with(
            tenant,
            json!({"isLive": true, "secretKey": secret_key, "publishableKey": "pk_live_0000000000000000"}),
        )
        .await
    }

    /// Registers a Stripe app; `extra` overrides fields of the default body.
    pub async fn app_with(&self, tenant: &TestTenant, extra: Value) -> TestApp {
        let webhook_secret = format!("whsec_{}", unique("sig").replace('-', ""));
        let secret_key = format!("sk_test_{}", unique("key").replace('-', ""));
        let mut body = json!({
            "name": "Test app",
            "publishableKey": "pk_test_0000000000000000",
            "secretKey": secret_key,
            "webhookSigningSecret": webhook_secret,
            "defaultCurrency": "usd",
            "isLive": false,
            "active": true,
            "isDefault": true
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, app) = self
            .api(
                &tenant.token,
                "POST",
                "/api/stripe/apps",
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, 201, "app created: {app}");
        TestApp {
            id: app["id"].as_str().unwrap().to_string(),
            webhook_secret: body["webhookSigningSecret"].as_str().unwrap().to_string(),
            secret_key: body["secretKey"].as_str().unwrap_or_default().to_string(),
        }
    }

    /// Creates a product; `extra` overrides fields of the default body. Returns its id.
    pub async fn product(&self, tenant: &TestTenant, extra: Value) -> String {
        let mut body = json!({
            "name": "Pro", "price": "29.99", "autoEmail": true, "defaultLicenseDays": 365
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, p) = self
            .api(&tenant.token, "POST", "/api/products", Some(body))
            .await;
        assert_eq!(status, 201, "product created: {p}");
        p["id"].as_str().unwrap().to_string()
    }

    /// Posts an event signed with `secret` to `path` (default: the shared webhook URL).
    pub async fn post_event(&self, path: &str, event: &Value, secret: &str) -> (u16, Value) {
        let (body, header) = trigger::sign_event(event, secret);
        self.post_raw(path, body, &header).await
    }

    /// Posts an event signed with `secret` to `path` on another server over the same
    /// resources (its own process caches: [`Stack::serve_with`]'s `base`).
    pub async fn post_event_to(
        &self,
        base: &str,
        path: &str,
        event: &Value,
        secret: &str,
    ) -> (u16, Value) {
        let (body, header) = trigger::sign_event(event, secret);
        self.post_raw_to(base, path, body, &header).await
    }

    /// Posts a body with a given Stripe-Signature header.
    pub async fn post_raw(&self, path: &str, body: String, signature: &str) -> (u16, Value) {
        self.post_raw_to(&self.base_url, path, body, signature)
            .await
    }

    /// Posts a body with a given Stripe-Signature header to `path` on the server at `base`.
    async fn post_raw_to(
        &self,
        base: &str,
        path: &str,
        body: String,
        signature: &str,
    ) -> (u16, Value) {
        let res = keyhook_shared::stripe::test_events::delivery(
            &self.http,
            &format!("{base}{path}"),
            body,
            signature,
        )
        .send()
        .await
        .expect("server answers");
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Reads the table's stream until it has nothing new (events derived, deliveries queued);
    /// records handled.
    pub async fn drain_stream(&self) -> usize {
        self.stream
            .lock()
            .await
            .drain(&self.services)
            .await
            .expect("stream worker runs")
    }

    /// Reads the stream until it has nothing new, or a record fails (it is read again next
    /// time, as Lambda retries it): records handled, or the failure.
    pub async fn try_drain_stream(&self) -> Result<usize, String> {
        self.stream
            .lock()
            .await
            .drain(&self.services)
            .await
            .map_err(|e| e.to_string())
    }

    /// Runs the sender until a round makes no attempt (what is left waits for the clock);
    /// attempts made.
    pub async fn drain_deliveries(&self) -> usize {
        delivery_worker::drain(&self.services, &aws_sdk_sqs::Client::new(&self.sdk))
            .await
            .expect("delivery worker runs")
    }

    /// The stream, then the deliveries due now, until nothing moves; attempts made.
    pub async fn deliver(&self) -> usize {
        let mut attempts = 0;
        loop {
            let records = self.drain_stream().await;
            let made = self.drain_deliveries().await;
            attempts += made;
            if records == 0 && made == 0 {
                return attempts;
            }
        }
    }

    /// Imports licenses for `tenant` through the admin API; (status, report).
    pub async fn import(&self, tenant: &TestTenant, body: Value) -> (u16, Value) {
        self.api(&tenant.token, "POST", "/api/licenses/import", Some(body))
            .await
    }

    /// The report of an import that must be answered 200.
    pub async fn imported(&self, tenant: &TestTenant, body: Value) -> Value {
        let (status, report) = self.import(tenant, body).await;
        assert_eq!(status, 200, "{report}");
        report
    }

    /// Registers a webhook endpoint; its view (with the secret).
    pub async fn endpoint(&self, tenant: &TestTenant, body: Value) -> Value {
        let (status, e) = self
            .api(&tenant.token, "POST", "/api/webhook-endpoints", Some(body))
            .await;
        assert_eq!(status, 201, "endpoint created: {e}");
        e
    }

    /// An endpoint's deliveries, newest first.
    pub async fn deliveries(&self, tenant: &TestTenant, endpoint_id: &str) -> Vec<Value> {
        let (status, body) = self
            .api(
                &tenant.token,
                "GET",
                &format!("/api/webhook-endpoints/{endpoint_id}/deliveries?limit=200"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["items"].as_array().cloned().unwrap_or_default()
    }

    /// Runs the mailer over the queue until it is empty; messages handled.
    pub async fn drain_mail(&self) -> usize {
        mail_worker::drain(
            &self.services,
            &aws_sdk_sqs::Client::new(&self.sdk),
            &self.resources.queue_url,
        )
        .await
        .expect("mail worker runs")
    }

    /// Messages waiting on the mail queue (visible ones).
    pub async fn queued_mail(&self) -> usize {
        let out = aws_sdk_sqs::Client::new(&self.sdk)
            .get_queue_attributes()
            .queue_url(&self.resources.queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .unwrap();
        out.attributes
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                    .cloned()
            })
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// The emails SES recorded for a recipient.
    pub async fn emails_to(&self, address: &str) -> Vec<Value> {
        // Only SES's models (`service=ses`, scripts/moto_server.py): moto's own page serialises
        // every item of every test's table, which grew to seconds a read late in a run. While
        // other tests write, a read can still fail half-way: read again until a whole document
        // comes back.
        let mut data = Value::Null;
        for attempt in 0..20 {
            let res = self
                .http
                .get(format!("{}/moto-api/data.json?service=ses", self.endpoint))
                .send()
                .await
                .unwrap();
            match res.json::<Value>().await {
                Ok(v) => {
                    data = v;
                    break;
                }
                Err(e) if attempt == 19 => panic!("moto's data.json never answered JSON: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        data["ses"]["Message"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|m| {
                m["destinations"]["ToAddresses"]
                    .as_array()
                    .is_some_and(|to| to.iter().any(|t| t == address))
            })
            .collect()
    }

    /// Licenses of a tenant as the admin API lists them.
    pub async fn licenses(&self, tenant: &TestTenant, query: &str) -> Vec<Value> {
        let (status, body) = self
            .api(
                &tenant.token,
                "GET",
                &format!("/api/licenses?limit=200{query}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["items"].as_array().cloned().unwrap_or_default()
    }

    pub async fn event_log(&self, tenant: &TestTenant, event_id: &str) -> (u16, Value) {
        self.api(
            &tenant.token,
            "GET",
            &format!("/api/stripe/events/{event_id}"),
            None,
        )
        .await
    }
}

/// Asserts a refusal: a malformed field is `422 validation_failed`, a well-formed one the
/// tenant's state cannot serve `409 conflict`, both naming the field; a reference to nothing
/// is `404 not_found`, its message naming the field.
pub fn assert_refused(status: u16, body: &Value, field: &str) {
    match status {
        422 | 409 => {
            let code = if status == 422 {
                "validation_failed"
            } else {
                "conflict"
            };
            assert_eq!(body["error"]["code"], code, "{body}");
            assert_eq!(body["error"]["field"], field, "{body}");
        }
        404 => {
            assert_eq!(body["error"]["code"], "not_found", "{body}");
            let message = body["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains(&format!("({field})")), "{body}");
        }
        _ => panic!("{status}: {body}"),
    }
}

/// Asserts fields of a JSON answer from a table of (JSON pointer, expected value); a missing
/// field reads as null, as indexing does.
pub fn assert_fields(value: &Value, expected: &[(&str, Value)]) {
    for (pointer, want) in expected {
        let got = value.pointer(pointer).unwrap_or(&Value::Null);
        assert_eq!(got, want, "{pointer} of {value}");
    }
}

/// A paid one-time checkout event for a product, to a unique buyer (Stripe test mode).
pub fn checkout_event(product_id: &str, quantity: Option<u32>) -> (Value, String) {
    checkout_event_in_mode(product_id, quantity, false)
}

/// A paid one-time live-mode checkout event (for a [`Stack::live_app`]).
pub fn live_checkout_event(product_id: &str, quantity: Option<u32>) -> (Value, String) {
    checkout_event_in_mode(product_id, quantity, true)
}

fn checkout_event_in_mode(
    product_id: &str,
    quantity: Option<u32>,
    livemode: bool,
) -> (Value, String) {
    let email = format!("{}@example.com", unique("buyer"));
    let event = trigger::checkout_completed(&CheckoutOptions {
        product_id: product_id.to_string(),
        quantity,
        plan_id: None,
        email: Some(email.clone()),
        name: Some("Ada Lovelace".into()),
        livemode,
    });
    (event, email)
}
