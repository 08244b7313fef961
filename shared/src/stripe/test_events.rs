//! Realistic Stripe events for testing an integration end to end, built from Stripe's own
//! example objects (in `events/stripe/`) and signed exactly as Stripe signs: what
//! `keyhook trigger` posts and what the dashboard's Test Purchase sends through the webhook.

use serde_json::{json, Value};

use crate::ids::random_symbols;
use crate::stripe::signature;

/// Stripe's `checkout.session.completed` example, as shipped in `events/stripe/`.
pub const CHECKOUT_COMPLETED: &str =
    include_str!("../../../events/stripe/checkout.session.completed.json");

/// What a test purchase buys.
#[derive(Debug, Clone)]
pub struct CheckoutOptions {
    pub product_id: String,
    pub quantity: Option<u32>,
    pub plan_id: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub livemode: bool,
}

/// The start of the id of an event Keyhook makes and signs itself (the dashboard's test
/// purchase). Stripe's event ids are `evt_` and base-62 characters, never a second underscore,
/// so an event verified with an app's signing secret whose id starts so was made by Keyhook: it
/// does not show that Stripe reaches the app ([`made_by_keyhook`]).
pub const KEYHOOK_EVENT_ID_PREFIX: &str = "evt_keyhook_";

/// Whether Keyhook made this event ([`KEYHOOK_EVENT_ID_PREFIX`]), not Stripe.
pub fn made_by_keyhook(event_id: &str) -> bool {
    event_id.starts_with(KEYHOOK_EVENT_ID_PREFIX)
}

/// A new id for an event Keyhook makes.
pub fn keyhook_event_id() -> String {
    format!("{KEYHOOK_EVENT_ID_PREFIX}{}", random_symbols(24))
}

fn stripe_id(prefix: &str, len: usize) -> String {
    // Stripe ids are base62; our Crockford symbols are a subset, which is all a parser sees.
    format!("{prefix}_{}", random_symbols(len))
}

/// A `checkout.session.completed` event for a new, paid one-time purchase.
pub fn checkout_completed(opts: &CheckoutOptions) -> Value {
    let mut event: Value = serde_json::from_str(CHECKOUT_COMPLETED).expect("bundled event is JSON");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mode = if opts.livemode { "live" } else { "test" };
    event["id"] = json!(stripe_id("evt", 24));
    event["created"] = json!(now);
    event["livemode"] = json!(opts.livemode);
    let session = &mut event["data"]["object"];
    session["id"] = json!(stripe_id(&format!("cs_{mode}"), 58));
    session["created"] = json!(now - 60);
    session["livemode"] = json!(opts.livemode);
    session["payment_intent"] = json!(stripe_id("pi", 24));
    let mut metadata = json!({ "productId": opts.product_id });
    if let Some(q) = opts.quantity {
        metadata["quantity"] = json!(q.to_string());
    }
    if let Some(p) = &opts.plan_id {
        metadata["planId"] = json!(p);
    }
    session["metadata"] = metadata;
    session["customer_details"]["email"] = json!(opts.email);
    session["customer_details"]["name"] = json!(opts.name);
    event
}

/// The request Stripe sends a webhook endpoint: a `POST` of the event's JSON with its
/// `Stripe-Signature` header ([`sign_event`]'s pair). What `keyhook trigger`, the dashboard's
/// test purchase and the tests send.
pub fn delivery(
    client: &reqwest::Client,
    url: &str,
    body: String,
    signature: &str,
) -> reqwest::RequestBuilder {
    client
        .post(url)
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .body(body)
}

/// Serialises an event and signs it: (body, `Stripe-Signature` header).
pub fn sign_event(event: &Value, secret: &str) -> (String, String) {
    let body = serde_json::to_string(event).expect("event serialises");
    let header = signature::sign(
        secret,
        time::OffsetDateTime::now_utc().unix_timestamp(),
        body.as_bytes(),
    );
    (body, header)
}
