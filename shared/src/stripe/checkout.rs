//! Stripe Checkout on the wire: the form of `POST /v1/checkout/sessions` exactly as Stripe
//! documents it (bracket notation), and the few fields Keyhook reads back from a created
//! session and from a price (`GET /v1/prices/{id}`).
//!
//! The ExisOne metadata (`productId`, `quantity`, `planId`) goes on the session (read by
//! `checkout.session.completed`) and on the object that outlives it: the PaymentIntent for
//! one-time payments (the `payment_intent.succeeded` backup path) or the subscription (read on
//! every renewal's `invoice.paid`).

use serde_json::Value;

use super::client::{Form, StripeError};
use crate::domain::checkout::CheckoutMode;

/// What a session charges for.
#[derive(Debug, Clone, Copy)]
pub enum LineItem<'a> {
    /// An ad-hoc price (`line_items[0][price_data]`): the product's name and price.
    PriceData {
        currency: &'a str,
        unit_amount: i64,
        product_name: &'a str,
    },
    /// An existing Stripe price (`line_items[0][price]`).
    Price(&'a str),
}

/// The session metadata key (and value) that marks a session Keyhook created
/// (`POST /api/stripe/checkout/session`): its webhook then links the session's record to the
/// purchase. Sessions without it (Payment Links, merchants' own) have no record to link.
pub const CREATED_BY_KEYHOOK: (&str, &str) = ("keyhookCheckout", "true");

/// Whether a session's metadata says Keyhook created it.
pub fn created_by_keyhook(metadata: Option<&serde_json::Map<String, Value>>) -> bool {
    metadata
        .and_then(|m| m.get(CREATED_BY_KEYHOOK.0))
        .and_then(Value::as_str)
        == Some(CREATED_BY_KEYHOOK.1)
}

/// The metadata that tells Keyhook's webhook what to issue.
#[derive(Debug, Clone, Copy)]
pub struct IssueMetadata<'a> {
    pub product_id: &'a str,
    pub quantity: u32,
    pub plan_id: Option<&'a str>,
}

/// Everything a session is created with.
#[derive(Debug, Clone, Copy)]
pub struct SessionParams<'a> {
    pub mode: CheckoutMode,
    pub line_item: LineItem<'a>,
    /// Units of the line item: the number of licenses bought (per cycle for subscriptions).
    pub quantity: u32,
    pub metadata: IssueMetadata<'a>,
    pub customer_email: Option<&'a str>,
    pub success_url: &'a str,
    pub cancel_url: &'a str,
}

/// The form body of `POST /v1/checkout/sessions`.
pub fn session_form(p: &SessionParams<'_>) -> Form {
    let mut form = Form::new()
        .set("mode", p.mode.as_str())
        .set("success_url", p.success_url)
        .set("cancel_url", p.cancel_url);
    form = match p.line_item {
        LineItem::PriceData {
            currency,
            unit_amount,
            product_name,
        } => form
            .set("line_items[0][price_data][currency]", currency)
            .set("line_items[0][price_data][unit_amount]", unit_amount)
            .set(
                "line_items[0][price_data][product_data][name]",
                product_name,
            ),
        LineItem::Price(price) => form.set("line_items[0][price]", price),
    };
    form = form
        .set("line_items[0][quantity]", p.quantity)
        .set_opt("customer_email", p.customer_email);
    let carrier = match p.mode {
        CheckoutMode::Payment => "payment_intent_data[metadata]",
        CheckoutMode::Subscription => "subscription_data[metadata]",
    };
    for prefix in ["metadata", carrier] {
        form = form
            .set(format!("{prefix}[productId]"), p.metadata.product_id)
            .set(format!("{prefix}[quantity]"), p.metadata.quantity)
            .set_opt(format!("{prefix}[planId]"), p.metadata.plan_id);
    }
    form.set(
        format!("metadata[{}]", CREATED_BY_KEYHOOK.0),
        CREATED_BY_KEYHOOK.1,
    )
}

fn unexpected(what: &str) -> StripeError {
    StripeError::Unreachable(format!("Stripe answered without {what}"))
}

/// The fields of a created `checkout.session` that Keyhook uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedSession {
    pub id: String,
    /// Where to send the buyer.
    pub url: String,
    pub livemode: bool,
    /// Stripe's own figures, when it computed them at creation.
    pub currency: Option<String>,
    pub amount_total: Option<i64>,
}

impl CreatedSession {
    pub fn from_json(v: &Value) -> Result<Self, StripeError> {
        let id = v["id"]
            .as_str()
            .filter(|id| id.starts_with("cs_"))
            .ok_or_else(|| unexpected("a checkout session id"))?;
        let url = v["url"]
            .as_str()
            .ok_or_else(|| unexpected("a checkout URL"))?;
        Ok(CreatedSession {
            id: id.to_string(),
            url: url.to_string(),
            livemode: v["livemode"].as_bool().unwrap_or(false),
            currency: v["currency"].as_str().map(str::to_string),
            amount_total: v["amount_total"].as_i64(),
        })
    }
}

/// What never changes about a Stripe price (Stripe does not let a price's currency, amount or
/// type be edited), so it may be cached for as long as the process lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceFacts {
    pub id: String,
    pub currency: String,
    /// `None` for tiered prices.
    pub unit_amount: Option<i64>,
    pub recurring: bool,
}

impl PriceFacts {
    pub fn from_json(v: &Value) -> Result<Self, StripeError> {
        let id = v["id"].as_str().ok_or_else(|| unexpected("a price id"))?;
        let currency = v["currency"]
            .as_str()
            .ok_or_else(|| unexpected("the price's currency"))?;
        Ok(PriceFacts {
            id: id.to_string(),
            currency: currency.to_ascii_lowercase(),
            unit_amount: v["unit_amount"].as_i64(),
            recurring: v["type"].as_str() == Some("recurring") || v["recurring"].is_object(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn fields(form: &Form) -> BTreeMap<&str, &str> {
        form.pairs()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn one_time_sessions_carry_price_data_and_metadata_on_the_payment_intent() {
        let form = session_form(&SessionParams {
            mode: CheckoutMode::Payment,
            line_item: LineItem::PriceData {
                currency: "usd",
                unit_amount: 2999,
                product_name: "Pro License",
            },
            quantity: 2,
            metadata: IssueMetadata {
                product_id: "42",
                quantity: 2,
                plan_id: Some("pln_1"),
            },
            customer_email: Some("a@b.co"),
            success_url: "https://s.example/ok?session_id={CHECKOUT_SESSION_ID}",
            cancel_url: "https://s.example/no",
        });
        let expected: BTreeMap<&str, &str> = [
            ("mode", "payment"),
            (
                "success_url",
                "https://s.example/ok?session_id={CHECKOUT_SESSION_ID}",
            ),
            ("cancel_url", "https://s.example/no"),
            ("line_items[0][price_data][currency]", "usd"),
            ("line_items[0][price_data][unit_amount]", "2999"),
            (
                "line_items[0][price_data][product_data][name]",
                "Pro License",
            ),
            ("line_items[0][quantity]", "2"),
            ("customer_email", "a@b.co"),
            ("metadata[productId]", "42"),
            ("metadata[quantity]", "2"),
            ("metadata[planId]", "pln_1"),
            ("payment_intent_data[metadata][productId]", "42"),
            ("payment_intent_data[metadata][quantity]", "2"),
            ("payment_intent_data[metadata][planId]", "pln_1"),
            ("metadata[keyhookCheckout]", "true"),
        ]
        .into();
        assert_eq!(fields(&form), expected);
        assert_eq!(form.pairs().len(), expected.len(), "no field twice");
    }

    #[test]
    fn subscriptions_use_the_price_and_put_metadata_on_the_subscription() {
        let form = session_form(&SessionParams {
            mode: CheckoutMode::Subscription,
            line_item: LineItem::Price("price_123"),
            quantity: 1,
            metadata: IssueMetadata {
                product_id: "42",
                quantity: 1,
                plan_id: None,
            },
            customer_email: None,
            success_url: "https://s.example/ok",
            cancel_url: "https://s.example/no",
        });
        let f = fields(&form);
        assert_eq!(f["mode"], "subscription");
        assert_eq!(f["line_items[0][price]"], "price_123");
        assert_eq!(f["subscription_data[metadata][productId]"], "42");
        assert_eq!(f["subscription_data[metadata][quantity]"], "1");
        assert_eq!(f["metadata[productId]"], "42");
        assert!(!f.keys().any(|k| k.contains("price_data")
            || k.contains("payment_intent_data")
            || k.contains("planId")
            || *k == "customer_email"));
    }

    #[test]
    fn created_sessions_and_prices_are_read_from_stripes_shapes() {
        let s = CreatedSession::from_json(&serde_json::json!({
            "id": "cs_test_1", "object": "checkout.session", "url": "https://checkout.stripe.com/c/pay/cs_test_1",
            "livemode": false, "currency": "usd", "amount_total": 2999
        }))
        .unwrap();
        assert_eq!((s.id.as_str(), s.amount_total), ("cs_test_1", Some(2999)));
        assert!(CreatedSession::from_json(&serde_json::json!({"id": "cs_1"})).is_err());
        let p = PriceFacts::from_json(&serde_json::json!({
            "id": "price_1", "object": "price", "currency": "eur", "unit_amount": 900,
            "type": "recurring", "recurring": {"interval": "month"}
        }))
        .unwrap();
        assert!(p.recurring);
        assert_eq!((p.currency.as_str(), p.unit_amount), ("eur", Some(900)));
    }
}
