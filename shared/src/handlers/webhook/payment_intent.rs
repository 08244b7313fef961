//! `payment_intent.succeeded`: the backup path for one-time payments, under the same purchase
//! as its session (the intent id), so whichever of the two events comes first issues and the
//! other changes nothing. What was sold: the intent's metadata (`productId`, as
//! `POST /api/stripe/checkout/session` sets on `payment_intent_data`), else the metadata of the
//! Checkout Session that created the intent (ExisOne's documented setup puts it on the session
//! only), found with Stripe's list of sessions by `payment_intent`. Neither: not Keyhook's
//! payment, nothing to do.

use super::purchase::{self, Lines, PurchaseInput};
use super::{stripe_reads, Outcome};
use crate::domain::purchase::Customer;
use crate::domain::{EventLogEntry, LicenseSource, StripeApp};
use crate::stripe::event::{CheckoutSession, StripeObject};
use crate::stripe::metadata;
use crate::stripe::objects::PaymentIntent;
use crate::stripe::{Event, EventObject};
use crate::{Result, Services};

/// `log`: the event's log entry, recorded verified by the issuing transaction.
pub(super) async fn succeeded(
    s: &Services,
    app: &StripeApp,
    event: &Event,
    log: &EventLogEntry,
) -> Result<Outcome> {
    let intent = PaymentIntent(event.object());
    let Some(intent_id) = intent.id() else {
        return Ok(Outcome::Refused("the payment intent has no id".into()));
    };
    let nothing = Outcome::nothing();
    if intent.invoice().is_some() {
        // An invoice's payment: invoice.paid issues.
        return Ok(nothing);
    }
    let on_intent = metadata::has_product_id(intent.metadata());
    // The session that created the intent: for the metadata when the intent has none, and
    // for the buyer when the intent has no receipt email.
    let mut session = None;
    if !on_intent || intent.receipt_email().is_none() {
        if let Some(secret) = stripe_reads::secret_key(s, app).await? {
            session = stripe_reads::session_of_intent(s, &secret, intent_id).await?;
        }
    }
    let session = session.as_ref().map(|v| CheckoutSession(StripeObject(v)));
    let sold = if on_intent {
        intent.metadata()
    } else {
        match session {
            Some(cs) if metadata::has_product_id(cs.metadata()) => cs.metadata(),
            // A payment that is not Keyhook's (or a session its own event decides).
            _ => return Ok(nothing),
        }
    };
    // The buyer: the receipt email, else what the buyer typed into the session.
    let customer = Customer {
        email: intent
            .receipt_email()
            .or_else(|| session.and_then(|cs| cs.customer_email()))
            .map(str::to_string),
        name: session
            .and_then(|cs| cs.customer_name())
            .map(str::to_string),
    };
    let session_id = session.and_then(|cs| cs.id()).map(str::to_string);
    purchase::issue(
        s,
        app,
        log,
        PurchaseInput {
            purchase_ref: intent_id.to_string(),
            metadata: sold,
            lines: Lines::None,
            customer,
            source: LicenseSource {
                stripe_app_id: Some(app.id.clone()),
                event_id: Some(event.id.clone()),
                checkout_session_id: session_id,
                payment_intent_id: Some(intent_id.to_string()),
                ..Default::default()
            },
            period: None,
        },
    )
    .await
}
