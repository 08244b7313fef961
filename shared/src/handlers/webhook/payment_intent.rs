//! `payment_intent.succeeded`: the backup path for one-time payments. It issues only when the
//! intent carries Keyhook's metadata (`productId`, as `POST /api/stripe/checkout/session` sets
//! on `payment_intent_data`), under the same purchase as its session (the intent id), so
//! whichever of the two events comes first issues and the other changes nothing.

use super::purchase::{self, Lines, PurchaseInput};
use super::{stripe_reads, Outcome};
use crate::domain::purchase::Customer;
use crate::domain::{LicenseSource, StripeApp};
use crate::stripe::event::{CheckoutSession, StripeObject};
use crate::stripe::metadata;
use crate::stripe::objects::PaymentIntent;
use crate::stripe::Event;
use crate::{Result, Services};

pub(super) async fn succeeded(s: &Services, app: &StripeApp, event: &Event) -> Result<Outcome> {
    let intent = PaymentIntent(event.object());
    let Some(intent_id) = intent.id() else {
        return Ok(Outcome::Refused("the payment intent has no id".into()));
    };
    if intent.invoice().is_some() || !metadata::has_product_id(intent.metadata()) {
        // An invoice's payment (invoice.paid issues), or a payment that is not Keyhook's.
        return Ok(Outcome::Done {
            purchase_ref: None,
            license_ids: Vec::new(),
            logged: false,
        });
    }
    // The buyer: the receipt email, else what the buyer typed into the session that created
    // the intent.
    let mut customer = Customer {
        email: intent.receipt_email().map(str::to_string),
        name: None,
    };
    let mut session_id = None;
    if customer.email.is_none() {
        if let Some(secret) = stripe_reads::secret_key(s, app).await? {
            if let Some(session) = stripe_reads::session_of_intent(s, &secret, intent_id).await? {
                let session = CheckoutSession(StripeObject(&session));
                customer.email = session.customer_email().map(str::to_string);
                customer.name = session.customer_name().map(str::to_string);
                session_id = session.id().map(str::to_string);
            }
        }
    }
    purchase::issue(
        s,
        app,
        event,
        PurchaseInput {
            purchase_ref: intent_id.to_string(),
            metadata: intent.metadata(),
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
