//! Version-tolerant readers of the Stripe objects Keyhook acts on. Each accessor knows every
//! place a field has lived across API versions, notably the 2025-03-31 ("basil") changes:
//! `invoice.subscription` → `invoice.parent.subscription_details.subscription`, subscription
//! metadata on the invoice's parent or its lines, `subscription.current_period_end` →
//! `subscription.items.data[].current_period_end`, and a line's `price` →
//! `pricing.price_details.price`.

use serde_json::{Map, Value};

use super::event::StripeObject;

/// An invoice (`invoice.*` events).
#[derive(Debug, Clone, Copy)]
pub struct Invoice<'a>(pub StripeObject<'a>);

impl<'a> Invoice<'a> {
    pub fn id(&self) -> Option<&'a str> {
        self.0.str("id")
    }

    /// `subscription_create`, `subscription_cycle`, `subscription_update`, `manual`, …
    pub fn billing_reason(&self) -> Option<&'a str> {
        self.0.str("billing_reason")
    }

    pub fn subscription(&self) -> Option<&'a str> {
        self.0
            .id("subscription")
            .or_else(|| self.0.id("parent.subscription_details.subscription"))
            .or_else(|| {
                self.lines().iter().find_map(|l| {
                    let l = StripeObject(l);
                    l.id("subscription")
                        .or_else(|| l.id("parent.subscription_item_details.subscription"))
                })
            })
    }

    /// The subscription's metadata as the invoice carries it (basil: on the parent; before:
    /// on the subscription line items), if it does.
    pub fn subscription_metadata(&self) -> Option<&'a Map<String, Value>> {
        self.0
            .metadata("parent.subscription_details.metadata")
            .or_else(|| self.0.metadata("subscription_details.metadata"))
            .filter(|m| !m.is_empty())
            .or_else(|| {
                self.lines()
                    .iter()
                    .filter_map(|l| StripeObject(l).metadata("metadata"))
                    .find(|m| m.contains_key("productId"))
            })
    }

    pub fn lines(&self) -> &'a [Value] {
        self.0
            .at("lines.data")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The end of the period this invoice paid for: the latest subscription line period end.
    pub fn period_end(&self) -> Option<i64> {
        self.lines()
            .iter()
            .filter_map(|l| StripeObject(l).at("period.end").and_then(Value::as_i64))
            .max()
            .or_else(|| self.0.at("period_end").and_then(Value::as_i64))
    }

    pub fn customer_email(&self) -> Option<&'a str> {
        self.0.str("customer_email")
    }

    pub fn customer_name(&self) -> Option<&'a str> {
        self.0.str("customer_name")
    }

    pub fn payment_intent(&self) -> Option<&'a str> {
        self.0
            .id("payment_intent")
            .or_else(|| self.0.id("payments.data.0.payment.payment_intent"))
    }
}

/// A subscription (`customer.subscription.*` events, or fetched).
#[derive(Debug, Clone, Copy)]
pub struct Subscription<'a>(pub StripeObject<'a>);

impl<'a> Subscription<'a> {
    pub fn id(&self) -> Option<&'a str> {
        self.0.str("id")
    }

    /// `active`, `trialing`, `past_due`, `unpaid`, `canceled`, `incomplete`, …
    pub fn status(&self) -> Option<&'a str> {
        self.0.str("status")
    }

    pub fn metadata(&self) -> Option<&'a Map<String, Value>> {
        self.0.metadata("metadata")
    }

    fn items(&self) -> &'a [Value] {
        self.0
            .at("items.data")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Before basil on the subscription; since, on each item (the latest one counts).
    pub fn current_period_end(&self) -> Option<i64> {
        self.0
            .at("current_period_end")
            .and_then(Value::as_i64)
            .or_else(|| {
                self.items()
                    .iter()
                    .filter_map(|i| i.get("current_period_end").and_then(Value::as_i64))
                    .max()
            })
    }

    pub fn current_period_start(&self) -> Option<i64> {
        self.0
            .at("current_period_start")
            .and_then(Value::as_i64)
            .or_else(|| {
                self.items()
                    .iter()
                    .filter_map(|i| i.get("current_period_start").and_then(Value::as_i64))
                    .max()
            })
    }

    pub fn cancel_at_period_end(&self) -> bool {
        self.0
            .at("cancel_at_period_end")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    pub fn ended_at(&self) -> Option<i64> {
        self.0.at("ended_at").and_then(Value::as_i64)
    }

    pub fn latest_invoice(&self) -> Option<&'a str> {
        self.0.id("latest_invoice")
    }
}

/// A PaymentIntent (`payment_intent.succeeded`).
#[derive(Debug, Clone, Copy)]
pub struct PaymentIntent<'a>(pub StripeObject<'a>);

impl<'a> PaymentIntent<'a> {
    pub fn id(&self) -> Option<&'a str> {
        self.0.str("id")
    }

    pub fn metadata(&self) -> Option<&'a Map<String, Value>> {
        self.0.metadata("metadata")
    }

    pub fn receipt_email(&self) -> Option<&'a str> {
        self.0.str("receipt_email")
    }

    /// Set when the intent pays an invoice (older API versions): then the invoice is the
    /// purchase, not the intent.
    pub fn invoice(&self) -> Option<&'a str> {
        self.0.id("invoice")
    }
}

/// A Charge (`charge.refunded`).
#[derive(Debug, Clone, Copy)]
pub struct Charge<'a>(pub StripeObject<'a>);

impl<'a> Charge<'a> {
    pub fn id(&self) -> Option<&'a str> {
        self.0.str("id")
    }

    pub fn payment_intent(&self) -> Option<&'a str> {
        self.0.id("payment_intent")
    }

    pub fn invoice(&self) -> Option<&'a str> {
        self.0.id("invoice")
    }

    /// Refunded in full.
    pub fn fully_refunded(&self) -> bool {
        let refunded = self
            .0
            .at("refunded")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let amount = self.0.at("amount").and_then(Value::as_i64);
        let amount_refunded = self.0.at("amount_refunded").and_then(Value::as_i64);
        refunded || matches!((amount, amount_refunded), (Some(a), Some(r)) if a > 0 && r >= a)
    }
}

/// A Dispute (`charge.dispute.created`).
#[derive(Debug, Clone, Copy)]
pub struct Dispute<'a>(pub StripeObject<'a>);

impl<'a> Dispute<'a> {
    pub fn charge(&self) -> Option<&'a str> {
        self.0.id("charge")
    }

    pub fn payment_intent(&self) -> Option<&'a str> {
        self.0.id("payment_intent")
    }
}

/// A line's `quantity` (1 when absent), capped just above what one purchase may issue: a
/// larger one is refused all the same ("at most 98 licenses"), and the cap keeps sums of line
/// quantities far from overflowing, whatever an event says.
pub fn line_quantity(value: Option<&Value>) -> u32 {
    const CAP: u64 = crate::domain::purchase::MAX_LICENSES_PER_PURCHASE as u64 + 1;
    match value {
        None | Some(Value::Null) => 1,
        Some(v) => match v.as_u64() {
            Some(q) => q.min(CAP) as u32,
            // Negative, fractional or not a number: more than can be issued, so refused.
            None => CAP as u32,
        },
    }
}

/// A Checkout line item (from `GET /v1/checkout/sessions/{id}/line_items`, or expanded on
/// the session).
#[derive(Debug, Clone, Copy)]
pub struct LineItem<'a>(pub StripeObject<'a>);

impl<'a> LineItem<'a> {
    pub fn quantity(&self) -> u32 {
        line_quantity(self.0.at("quantity"))
    }

    /// The price: `price` (classic) or `pricing.price_details.price` (basil invoice lines).
    fn price(&self) -> Option<StripeObject<'a>> {
        self.0
            .at("price")
            .or_else(|| self.0.at("pricing.price_details.price"))
            .map(StripeObject)
    }

    /// The Stripe Product's metadata, when the product is expanded.
    pub fn product_metadata(&self) -> Option<&'a Map<String, Value>> {
        self.price()?.metadata("product.metadata")
    }

    /// Whether the product is expanded (else its metadata must be fetched).
    pub fn product_expanded(&self) -> bool {
        self.price()
            .and_then(|p| p.at("product"))
            .is_some_and(Value::is_object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn invoice_subscription_before_and_after_basil() {
        let old = json!({"id": "in_1", "subscription": "sub_1", "lines": {"data": [
            {"period": {"end": 200}, "metadata": {"productId": "42"}}]}});
        let new = json!({"id": "in_1", "parent": {"type": "subscription_details", "subscription_details": {
            "subscription": "sub_1", "metadata": {"productId": "42"}}}, "lines": {"data": [{"period": {"end": 200}}]}});
        for v in [&old, &new] {
            let i = Invoice(StripeObject(v));
            assert_eq!(i.subscription(), Some("sub_1"));
            assert_eq!(i.subscription_metadata().unwrap()["productId"], "42");
            assert_eq!(i.period_end(), Some(200));
        }
    }

    #[test]
    fn subscription_period_before_and_after_basil() {
        let old = json!({"id": "sub_1", "current_period_end": 300, "items": {"data": []}});
        let new = json!({"id": "sub_1", "items": {"data": [{"current_period_end": 250}, {"current_period_end": 300}]}});
        for v in [&old, &new] {
            assert_eq!(
                Subscription(StripeObject(v)).current_period_end(),
                Some(300)
            );
        }
    }

    #[test]
    fn line_item_price_and_product_metadata() {
        let classic = json!({"quantity": 2, "price": {"product": {"id": "prod_1", "metadata": {"product_id": "42"}}}});
        let basil = json!({"quantity": 2, "pricing": {"price_details": {"price": {"product": {"metadata": {"product_id": "42"}}}}}});
        for v in [&classic, &basil] {
            let l = LineItem(StripeObject(v));
            assert_eq!(l.quantity(), 2);
            assert!(l.product_expanded());
            assert_eq!(l.product_metadata().unwrap()["product_id"], "42");
        }
        for (q, expected) in [
            (json!(3), 3),
            (json!(u64::MAX), 99),
            (json!(-5), 99),
            (json!(1.5), 99),
            (json!("2"), 99),
            (Value::Null, 1),
        ] {
            assert_eq!(line_quantity(Some(&q)), expected, "{q}");
        }
        assert_eq!(line_quantity(None), 1);
        let unexpanded = json!({"quantity": 1, "price": {"product": "prod_1"}});
        assert!(!LineItem(StripeObject(&unexpanded)).product_expanded());
    }

    #[test]
    fn full_refunds() {
        assert!(Charge(StripeObject(&json!({"refunded": true}))).fully_refunded());
        assert!(Charge(StripeObject(
            &json!({"amount": 100, "amount_refunded": 100})
        ))
        .fully_refunded());
        assert!(!Charge(StripeObject(
            &json!({"amount": 100, "amount_refunded": 50, "refunded": false})
        ))
        .fully_refunded());
    }
}
