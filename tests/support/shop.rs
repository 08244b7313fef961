//! What most end-to-end tests start from: a stack with one tenant selling through one Stripe
//! app ([`Shop`]), or the same shop over a fake Stripe API ([`World`]), with the calls those
//! tests make of it.

use std::ops::Deref;

use serde_json::{json, Value};

use crate::stripe::FakeStripe;
use crate::{checkout_event, live_checkout_event, Stack, TestApp, TestTenant, WEBHOOK};

/// A stack with a tenant ("Acme") and its default Stripe app, ready to sell. The fields are
/// public so a test can take them apart (`let Shop { stack, tenant, app } = ...`).
pub struct Shop {
    pub stack: Stack,
    pub tenant: TestTenant,
    pub app: TestApp,
}

impl Shop {
    /// A shop whose app is in test mode (Stripe's API unreachable).
    pub async fn open() -> Shop {
        let stack = Stack::start().await;
        let tenant = stack.tenant("Acme").await;
        let app = stack.app(&tenant).await;
        Shop { stack, tenant, app }
    }

    /// A shop whose app is live: its purchases issue live licenses, which validate for every
    /// app (Stripe's API unreachable).
    pub async fn live() -> Shop {
        let stack = Stack::start().await;
        let tenant = stack.tenant("Acme").await;
        let app = stack.live_app(&tenant).await;
        Shop { stack, tenant, app }
    }

    fn is_live(&self) -> bool {
        self.app.secret_key.starts_with("sk_live_")
    }

    /// Creates a product of the tenant; `extra` overrides fields of the default body.
    pub async fn product(&self, extra: Value) -> String {
        self.stack.product(&self.tenant, extra).await
    }

    /// Delivers a Stripe event, signed with the app's secret, to `path`; the receipt, which
    /// must be a 200.
    pub async fn deliver_to(&self, path: &str, event: &Value) -> Value {
        let (status, receipt) = self
            .stack
            .post_event(path, event, &self.app.webhook_secret)
            .await;
        assert_eq!(status, 200, "{}: {receipt}", event["type"]);
        receipt
    }

    /// Delivers a Stripe event to the shared webhook URL; the receipt, which must be a 200.
    pub async fn deliver(&self, event: &Value) -> Value {
        self.deliver_to(WEBHOOK, event).await
    }

    /// Delivers a Stripe event that must be verified (handled, whatever it changed).
    pub async fn deliver_verified(&self, event: &Value) -> Value {
        let receipt = self.deliver(event).await;
        assert_eq!(receipt["status"], "verified", "{receipt}");
        receipt
    }

    /// Delivers every event, each twice, in an order shuffled by `seed`.
    pub async fn deliver_shuffled(&self, events: &[Value], seed: u64) {
        let mut order: Vec<&Value> = events.iter().chain(events.iter()).collect();
        // A small deterministic shuffle (xorshift), so a failure names its seed.
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        for i in (1..order.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            order.swap(i, (x % (i as u64 + 1)) as usize);
        }
        for e in order {
            self.deliver(e).await;
        }
    }

    /// Issues one license for the product through a signed checkout event (live or test, as
    /// the app is); (its id, its key).
    pub async fn license_with_id(&self, product: &str) -> (String, String) {
        let (event, _) = if self.is_live() {
            live_checkout_event(product, None)
        } else {
            checkout_event(product, None)
        };
        let (status, receipt) = self
            .stack
            .post_event(WEBHOOK, &event, &self.app.webhook_secret)
            .await;
        assert_eq!(status, 200, "{receipt}");
        let id = receipt["licenseIds"][0].as_str().unwrap().to_string();
        let key = self.admin_license(&id).await["key"]
            .as_str()
            .unwrap()
            .to_string();
        (id, key)
    }

    /// Issues one license for the product through a signed checkout event; its key.
    pub async fn license(&self, product: &str) -> String {
        self.license_with_id(product).await.1
    }

    /// A license as the admin API reads it.
    pub async fn admin_license(&self, id: &str) -> Value {
        let (status, l) = self
            .stack
            .api(
                &self.tenant.token,
                "GET",
                &format!("/api/licenses/{id}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{l}");
        l
    }

    /// The tenant's licenses as the admin API lists them.
    pub async fn licenses(&self) -> Vec<Value> {
        self.stack.licenses(&self.tenant, "").await
    }

    /// The emails sent to `to` once the mail queue is drained.
    pub async fn emails(&self, to: &str) -> usize {
        self.stack.drain_mail().await;
        self.stack.emails_to(to).await.len()
    }

    /// Imports licenses through the admin API; (status, report).
    pub async fn import(&self, body: Value) -> (u16, Value) {
        self.stack.import(&self.tenant, body).await
    }

    /// The tenant's published signing keys (`GET /api/tenants/{id}/signing-keys`), to verify
    /// its signed answers as a client app does.
    pub async fn signing_keys(&self) -> keyhook_format::PublicKeySet {
        keyhook_format::PublicKeySet::from_json(&self.stack.published_keys(&self.tenant.id).await)
            .unwrap()
    }

    /// A validation route's answer (`validate`, `activate`, ...) for a key and product, from a
    /// test build (which accepts test and live licenses); it must be a 200.
    pub async fn check(
        &self,
        route: &str,
        key: &str,
        product: &str,
        device: Option<&str>,
    ) -> Value {
        let mut body = json!({"licenseKey": key, "productId": product, "environment": "test"});
        if let Some(d) = device {
            body["deviceId"] = json!(d);
        }
        let res = self
            .stack
            .http
            .post(format!("{}/api/licenses/{route}", self.stack.base_url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        res.json().await.unwrap()
    }
}

/// A [`Shop`] whose stack calls a fake Stripe API ([`FakeStripe`]), with fast retries.
pub struct World {
    pub shop: Shop,
    pub stripe: FakeStripe,
}

impl World {
    /// The shop's app is a test-mode app with fresh secrets.
    pub async fn open() -> World {
        Self::with_app(json!({})).await
    }

    /// `app_extra` overrides fields of the app's default body.
    pub async fn with_app(app_extra: Value) -> World {
        let stripe = FakeStripe::start().await;
        let stack = Stack::start_with_stripe(&stripe.uri()).await;
        let tenant = stack.tenant("Acme").await;
        let app = stack.app_with(&tenant, app_extra).await;
        World {
            shop: Shop { stack, tenant, app },
            stripe,
        }
    }
}

impl Deref for World {
    type Target = Shop;

    fn deref(&self) -> &Shop {
        &self.shop
    }
}
