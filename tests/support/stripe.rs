//! Stripe, for tests: events built from Stripe's own example objects (`events/stripe/objects/`,
//! copied from Stripe's OpenAPI fixtures) in either API shape, and a fake Stripe API at the
//! HTTP level (wiremock) answering the reads Keyhook makes.

use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::unique;

/// Which side of Stripe's 2025-03-31 ("basil") changes a payload is shaped for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `invoice.subscription`, metadata on invoice lines, `subscription.current_period_end`.
    Legacy,
    /// `invoice.parent.subscription_details`, `items.data[].current_period_end`.
    Basil,
}

impl Shape {
    pub const ALL: [Shape; 2] = [Shape::Legacy, Shape::Basil];

    pub fn api_version(self) -> &'static str {
        match self {
            Shape::Legacy => "2024-06-20",
            Shape::Basil => "2025-03-31.basil",
        }
    }
}

fn object(name: &str) -> Value {
    let text = match name {
        "invoice" => include_str!("../../events/stripe/objects/invoice.json"),
        "subscription" => include_str!("../../events/stripe/objects/subscription.json"),
        "payment_intent" => include_str!("../../events/stripe/objects/payment_intent.json"),
        "charge" => include_str!("../../events/stripe/objects/charge.json"),
        "dispute" => include_str!("../../events/stripe/objects/dispute.json"),
        "product" => include_str!("../../events/stripe/objects/product.json"),
        "item" => include_str!("../../events/stripe/objects/item.json"),
        "checkout.session" => include_str!("../../events/stripe/objects/checkout.session.json"),
        other => panic!("no fixture {other}"),
    };
    serde_json::from_str(text).unwrap()
}

/// A Stripe-style id.
pub fn id(prefix: &str) -> String {
    format!("{prefix}_{}", unique("x").replace('-', ""))
}

/// Wraps an object in an event envelope.
pub fn event(event_type: &str, object: Value, shape: Shape, created: i64) -> Value {
    json!({
        "id": id("evt"), "object": "event", "api_version": shape.api_version(),
        "created": created, "livemode": false, "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": event_type, "data": {"object": object}
    })
}

/// What a test purchase is.
#[derive(Debug, Clone)]
pub struct Sale {
    pub email: String,
    pub metadata: Value,
    pub subscription: Option<String>,
    pub invoice: Option<String>,
    pub payment_intent: Option<String>,
}

impl Sale {
    pub fn one_time(metadata: Value) -> Self {
        Sale {
            email: format!("{}@example.com", unique("buyer")),
            metadata,
            subscription: None,
            invoice: None,
            payment_intent: Some(id("pi")),
        }
    }

    pub fn subscription(metadata: Value) -> Self {
        Sale {
            email: format!("{}@example.com", unique("subscriber")),
            metadata,
            subscription: Some(id("sub")),
            invoice: Some(id("in")),
            payment_intent: None,
        }
    }
}

/// A completed Checkout Session of a sale.
pub fn session(sale: &Sale, payment_status: &str) -> Value {
    let mut s = object("checkout.session");
    s["id"] = json!(id("cs_test"));
    s["mode"] = json!(if sale.subscription.is_some() {
        "subscription"
    } else {
        "payment"
    });
    s["status"] = json!("complete");
    s["payment_status"] = json!(payment_status);
    s["payment_intent"] = json!(sale.payment_intent);
    s["subscription"] = json!(sale.subscription);
    s["invoice"] = json!(sale.invoice);
    s["metadata"] = sale.metadata.clone();
    s["customer_details"]["email"] = json!(sale.email);
    s["customer_details"]["name"] = json!("Grace Hopper");
    s
}

/// A paid invoice of a subscription for the period ending `period_end`.
pub fn invoice(
    sale: &Sale,
    invoice_id: &str,
    reason: &str,
    period_end: i64,
    shape: Shape,
    with_metadata: bool,
) -> Value {
    let sub = sale.subscription.clone().unwrap();
    let mut i = object("invoice");
    i["id"] = json!(invoice_id);
    i["billing_reason"] = json!(reason);
    i["status"] = json!("paid");
    i["paid"] = json!(true);
    i["customer_email"] = json!(sale.email);
    i["customer_name"] = json!("Grace Hopper");
    let metadata = if with_metadata {
        sale.metadata.clone()
    } else {
        json!({})
    };
    let mut line = i["lines"]["data"][0].clone();
    line["period"] = json!({"start": period_end - 30 * 86_400, "end": period_end});
    line["invoice"] = json!(invoice_id);
    match shape {
        Shape::Legacy => {
            i["subscription"] = json!(sub);
            i.as_object_mut().unwrap().remove("parent");
            line["subscription"] = json!(sub);
            line["metadata"] = metadata;
            line.as_object_mut().unwrap().remove("parent");
            line["price"] = json!({"id": "price_1", "object": "price", "product": "prod_keyhook"});
        }
        Shape::Basil => {
            i.as_object_mut().unwrap().remove("subscription");
            i["parent"] = json!({"type": "subscription_details", "quote_details": null,
                "subscription_details": {"subscription": sub, "metadata": if with_metadata { sale.metadata.clone() } else { Value::Null }}});
            line["parent"] = json!({"type": "subscription_item_details", "invoice_item_details": null,
                "subscription_item_details": {"subscription": sub, "subscription_item": "si_1", "proration": false, "invoice_item": null, "proration_details": null}});
            line["pricing"] = json!({"type": "price_details", "price_details": {"price": "price_1", "product": "prod_keyhook"}, "unit_amount_decimal": "999"});
        }
    }
    i["lines"]["data"] = json!([line]);
    i
}

/// A subscription in `status` for the period ending `period_end`.
pub fn subscription(
    sale: &Sale,
    status: &str,
    period_end: i64,
    cancel_at_period_end: bool,
    shape: Shape,
) -> Value {
    let mut s = object("subscription");
    s["id"] = json!(sale.subscription.clone().unwrap());
    s["status"] = json!(status);
    s["metadata"] = sale.metadata.clone();
    s["cancel_at_period_end"] = json!(cancel_at_period_end);
    s["latest_invoice"] = json!(sale.invoice);
    s["ended_at"] = if status == "canceled" {
        json!(period_end - 10 * 86_400)
    } else {
        Value::Null
    };
    let start = period_end - 30 * 86_400;
    match shape {
        Shape::Legacy => {
            s["current_period_end"] = json!(period_end);
            s["current_period_start"] = json!(start);
            for item in s["items"]["data"].as_array_mut().unwrap() {
                item.as_object_mut().unwrap().remove("current_period_end");
                item.as_object_mut().unwrap().remove("current_period_start");
            }
        }
        Shape::Basil => {
            s.as_object_mut().unwrap().remove("current_period_end");
            s.as_object_mut().unwrap().remove("current_period_start");
            for item in s["items"]["data"].as_array_mut().unwrap() {
                item["current_period_end"] = json!(period_end);
                item["current_period_start"] = json!(start);
            }
        }
    }
    s
}

pub fn payment_intent(sale: &Sale, metadata: Value, receipt_email: Option<&str>) -> Value {
    let mut p = object("payment_intent");
    p["id"] = json!(sale.payment_intent.clone().unwrap());
    p["status"] = json!("succeeded");
    p["metadata"] = metadata;
    p["receipt_email"] = json!(receipt_email);
    p
}

pub fn charge(
    payment_intent: Option<&str>,
    invoice: Option<&str>,
    amount: i64,
    refunded: i64,
) -> Value {
    let mut c = object("charge");
    c["id"] = json!(id("ch"));
    c["payment_intent"] = json!(payment_intent);
    c["invoice"] = json!(invoice);
    c["amount"] = json!(amount);
    c["amount_refunded"] = json!(refunded);
    c["refunded"] = json!(refunded >= amount);
    c
}

pub fn dispute(charge_id: &str) -> Value {
    let mut d = object("dispute");
    d["id"] = json!(id("dp"));
    d["charge"] = json!(charge_id);
    d["payment_intent"] = Value::Null;
    d
}

/// A Checkout line item whose (expanded) Stripe Product has `product_metadata`.
pub fn line_item(quantity: u32, product_metadata: Value) -> Value {
    let mut item = object("item");
    let mut product = object("product");
    product["metadata"] = product_metadata;
    item["quantity"] = json!(quantity);
    item["price"]["product"] = product;
    item
}

pub use crate::fake_stripe::FakeStripe;

fn list_of(data: Vec<Value>, url: &str) -> Value {
    json!({"object": "list", "data": data, "has_more": false, "url": url})
}

/// The reads the webhook makes, mounted on the shared fake Stripe.
impl FakeStripe {
    /// `GET /v1/checkout/sessions/{id}/line_items` (products must be expanded).
    pub async fn line_items(&self, session_id: &str, items: Vec<Value>) {
        let url = format!("/v1/checkout/sessions/{session_id}/line_items");
        Mock::given(method("GET"))
            .and(path(url.clone()))
            .and(query_param("expand[]", "data.price.product"))
            .respond_with(ResponseTemplate::new(200).set_body_json(list_of(items, &url)))
            .mount(&self.server)
            .await;
    }

    pub async fn subscription(&self, sub: Value) {
        let url = format!("/v1/subscriptions/{}", sub["id"].as_str().unwrap());
        Mock::given(method("GET"))
            .and(path(url))
            .respond_with(ResponseTemplate::new(200).set_body_json(sub))
            .mount(&self.server)
            .await;
    }

    pub async fn product(&self, product_id: &str, metadata: Value) {
        let mut product = object("product");
        product["id"] = json!(product_id);
        product["metadata"] = metadata;
        Mock::given(method("GET"))
            .and(path(format!("/v1/products/{product_id}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(product))
            .mount(&self.server)
            .await;
    }

    pub async fn sessions_of_intent(&self, payment_intent: &str, sessions: Vec<Value>) {
        Mock::given(method("GET"))
            .and(path("/v1/checkout/sessions"))
            .and(query_param("payment_intent", payment_intent))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(list_of(sessions, "/v1/checkout/sessions")),
            )
            .mount(&self.server)
            .await;
    }

    pub async fn charge(&self, charge: Value) {
        Mock::given(method("GET"))
            .and(path(format!(
                "/v1/charges/{}",
                charge["id"].as_str().unwrap()
            )))
            .respond_with(ResponseTemplate::new(200).set_body_json(charge))
            .mount(&self.server)
            .await;
    }

    /// Every request answers 500 (Stripe down), in front of every other answer, until `reset`.
    pub async fn fail_everything(&self) {
        Mock::given(wiremock::matchers::any())
            .respond_with(
                ResponseTemplate::new(500)
                    .set_body_json(json!({"error": {"type": "api_error", "message": "down"}})),
            )
            .with_priority(1)
            .mount(&self.server)
            .await;
    }

    /// Forgets every mock (the default answers included) and every recorded request.
    pub async fn reset(&self) {
        self.server.reset().await;
    }

    /// `GET /v1/invoices/{id}`.
    pub async fn invoice(&self, invoice: Value) {
        Mock::given(method("GET"))
            .and(path(format!(
                "/v1/invoices/{}",
                invoice["id"].as_str().unwrap()
            )))
            .respond_with(ResponseTemplate::new(200).set_body_json(invoice))
            .mount(&self.server)
            .await;
    }
}
