//! `checkout.session.completed`: a paid Checkout Session (or Payment Link) issues the
//! licenses its metadata asks for.

use super::issue::{self, IssueRequest};
use super::Outcome;
use crate::domain::purchase::Customer;
use crate::domain::{LicenseSource, StripeApp};
use crate::stripe::event::CheckoutSession;
use crate::stripe::metadata;
use crate::stripe::Event;
use crate::{Result, Services};

pub(super) async fn completed(s: &Services, app: &StripeApp, event: &Event) -> Result<Outcome> {
    let session = CheckoutSession(event.object());
    let Some(session_id) = session.id() else {
        return Ok(Outcome::Refused("the checkout session has no id".into()));
    };
    match session.payment_status() {
        Some("paid") | Some("no_payment_required") => {}
        other => {
            // Delayed payment methods: keys are issued when the payment succeeds.
            tracing::info!(payment_status = ?other, "checkout session not paid yet");
            return Ok(Outcome::Done {
                purchase_ref: None,
                license_ids: Vec::new(),
                logged: false,
            });
        }
    }
    let request = match metadata::product_request(session.metadata()) {
        Ok(r) => r,
        Err(e) => return Ok(Outcome::Refused(e.to_string())),
    };
    let customer = Customer {
        email: session.customer_email().map(str::to_string),
        name: session.customer_name().map(str::to_string),
    };
    let source = LicenseSource {
        stripe_app_id: Some(app.id.clone()),
        event_id: Some(event.id.clone()),
        checkout_session_id: Some(session_id.to_string()),
        payment_intent_id: session.payment_intent().map(str::to_string),
        invoice_id: session.invoice().map(str::to_string),
        subscription_id: session.subscription().map(str::to_string),
    };
    issue::issue(
        s,
        app,
        event,
        IssueRequest {
            purchase_ref: session_id.to_string(),
            request,
            customer,
            source,
        },
    )
    .await
}
