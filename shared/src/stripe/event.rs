//! Stripe events, read tolerantly: we keep the object as JSON and read fields through
//! accessors that know where each field lives across API versions, instead of typed structs
//! that break when Stripe moves a field. The envelope and its parse are `keyhook-stripe-event`
//! (a crate built for speed).

use serde_json::{Map, Value};

pub use keyhook_stripe_event::{Event, EventData};

/// The event's object, for typed accessors (a trait: [`Event`] lives in its own crate).
pub trait EventObject {
    fn object(&self) -> StripeObject<'_>;
}

impl EventObject for Event {
    fn object(&self) -> StripeObject<'_> {
        StripeObject(&self.data.object)
    }
}

/// A Stripe object with path accessors that tolerate absent and `null` fields.
#[derive(Debug, Clone, Copy)]
pub struct StripeObject<'a>(pub &'a Value);

impl<'a> StripeObject<'a> {
    /// The value at a dotted path (`customer_details.email`), `None` when absent or null.
    pub fn at(&self, path: &str) -> Option<&'a Value> {
        let mut v = self.0;
        for part in path.split('.') {
            v = v.get(part)?;
        }
        (!v.is_null()).then_some(v)
    }

    /// A non-empty string at a path.
    pub fn str(&self, path: &str) -> Option<&'a str> {
        self.at(path)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
    }

    /// An id at a path, whether Stripe sent it as a string or expanded it into an object.
    pub fn id(&self, path: &str) -> Option<&'a str> {
        match self.at(path)? {
            Value::String(s) if !s.is_empty() => Some(s),
            Value::Object(o) => o.get("id").and_then(Value::as_str),
            _ => None,
        }
    }

    pub fn metadata(&self, path: &str) -> Option<&'a Map<String, Value>> {
        self.at(path).and_then(Value::as_object)
    }
}

/// A Checkout Session (`checkout.session.*` events).
#[derive(Debug, Clone, Copy)]
pub struct CheckoutSession<'a>(pub StripeObject<'a>);

impl<'a> CheckoutSession<'a> {
    pub fn id(&self) -> Option<&'a str> {
        self.0.str("id")
    }

    pub fn mode(&self) -> Option<&'a str> {
        self.0.str("mode")
    }

    pub fn payment_status(&self) -> Option<&'a str> {
        self.0.str("payment_status")
    }

    pub fn metadata(&self) -> Option<&'a Map<String, Value>> {
        self.0.metadata("metadata")
    }

    /// The buyer's email: `customer_details.email` (what Checkout and Payment Links collect),
    /// else `customer_email` (what the merchant pre-filled).
    pub fn customer_email(&self) -> Option<&'a str> {
        self.0
            .str("customer_details.email")
            .or_else(|| self.0.str("customer_email"))
    }

    pub fn customer_name(&self) -> Option<&'a str> {
        self.0
            .str("customer_details.name")
            .or_else(|| self.0.str("customer_details.individual_name"))
            .or_else(|| self.0.str("customer_details.business_name"))
    }

    pub fn payment_intent(&self) -> Option<&'a str> {
        self.0.id("payment_intent")
    }

    pub fn subscription(&self) -> Option<&'a str> {
        self.0.id("subscription")
    }

    pub fn invoice(&self) -> Option<&'a str> {
        self.0.id("invoice")
    }

    pub fn livemode(&self) -> Option<bool> {
        self.0.at("livemode").and_then(Value::as_bool)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_session_fields_tolerantly() {
        let v = json!({
            "id": "cs_test_1", "mode": "payment", "payment_status": "paid",
            "customer_details": {"email": "buyer@example.com", "name": null},
            "customer_email": "prefill@example.com",
            "payment_intent": {"id": "pi_1", "object": "payment_intent"},
            "metadata": {"productId": "42"}
        });
        let s = CheckoutSession(StripeObject(&v));
        assert_eq!(s.customer_email(), Some("buyer@example.com"));
        assert_eq!(s.customer_name(), None);
        assert_eq!(s.payment_intent(), Some("pi_1"));
        assert_eq!(s.subscription(), None);
        assert_eq!(s.metadata().unwrap()["productId"], "42");

        let v = json!({"id": "cs_2", "customer_details": {"email": null}, "customer_email": "p@example.com"});
        assert_eq!(
            CheckoutSession(StripeObject(&v)).customer_email(),
            Some("p@example.com")
        );
    }

    #[test]
    fn parses_an_event_envelope() {
        let body = br#"{"id":"evt_1","object":"event","type":"checkout.session.completed","api_version":"2025-03-31.basil","created":1,"livemode":false,"data":{"object":{"id":"cs_1"}}}"#;
        let e = Event::parse(body).unwrap();
        assert_eq!(e.event_type, "checkout.session.completed");
        assert_eq!(e.object().str("id"), Some("cs_1"));
        assert!(Event::parse(b"{}").is_err());
    }
}
