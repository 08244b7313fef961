//! `checkout.session.*`: a paid Checkout Session (or Payment Link) issues what it sold.
//!
//! The purchase is named by the Stripe object every event about it shares: a one-time
//! session's payment intent (so `payment_intent.succeeded` is the same purchase), a
//! subscription session's first invoice (so the first `invoice.paid` is), and the session itself
//! when there is neither (a free checkout).
//!
//! What a subscription session sold may be only in the subscription's metadata (ExisOne's
//! example sets `productId` in `subscription_data.metadata` alone): then it is read from the
//! first invoice (already read for its period; it carries the subscription's metadata), else
//! from the subscription (one Stripe call), and the session issues the same purchase its first
//! invoice would.

use super::purchase::{self, Lines, PaidPeriod, PurchaseInput};
use super::{stripe_reads, Outcome};
use crate::domain::purchase::Customer;
use crate::domain::{EventLogEntry, LicenseSource, StripeApp};
use crate::stripe::event::CheckoutSession;
use crate::stripe::event::StripeObject;
use crate::stripe::objects::{Invoice, Subscription};
use crate::stripe::{checkout, metadata};
use crate::stripe::{Event, EventObject};
use crate::{Result, Services};

/// `checkout.session.completed` (issues if paid) and `…async_payment_succeeded` (issues).
/// `log`: the event's log entry, recorded verified by the issuing transaction.
pub(super) async fn paid(
    s: &Services,
    app: &StripeApp,
    event: &Event,
    log: &EventLogEntry,
) -> Result<Outcome> {
    let session = CheckoutSession(event.object());
    let Some(session_id) = session.id() else {
        return Ok(Outcome::Refused("the checkout session has no id".into()));
    };
    let payment_status = session.payment_status();
    if event.event_type == "checkout.session.completed"
        && !matches!(payment_status, Some("paid") | Some("no_payment_required"))
    {
        // A delayed payment method: `async_payment_succeeded` will issue.
        tracing::info!(payment_status = ?payment_status, "checkout session not paid yet");
        return Ok(Outcome::nothing());
    }
    let subscription_id = session.subscription();
    let mut period_end = None;
    let mut invoice = session.invoice().map(str::to_string);
    // What was sold when the session does not say: the subscription's metadata, as the first
    // invoice carries it (read anyway, for its period), else read from the subscription.
    let mut subscription_metadata = None;
    if let Some(sub_id) = subscription_id {
        // The period the first invoice paid for (and the invoice itself, for API versions whose
        // sessions do not name it), when the app's key lets us ask.
        if let Some(secret) = stripe_reads::secret_key(s, app).await? {
            let mut sub = None;
            if invoice.is_none() {
                let fetched = stripe_reads::subscription(s, &secret, sub_id).await?;
                invoice = Subscription(StripeObject(&fetched))
                    .latest_invoice()
                    .map(str::to_string);
                sub = Some(fetched);
            }
            if let Some(invoice_id) = &invoice {
                let paid = stripe_reads::invoice(s, &secret, invoice_id).await?;
                let paid = Invoice(StripeObject(&paid));
                period_end = paid.period_end();
                subscription_metadata = paid
                    .subscription_metadata()
                    .filter(|m| metadata::has_product_id(Some(m)))
                    .cloned();
            }
            if !metadata::has_product_id(session.metadata()) && subscription_metadata.is_none() {
                let sub = match sub {
                    Some(sub) => sub,
                    None => stripe_reads::subscription(s, &secret, sub_id).await?,
                };
                subscription_metadata = Subscription(StripeObject(&sub)).metadata().cloned();
            }
        }
    }
    let purchase_ref = match (session.mode(), invoice.as_deref(), session.payment_intent()) {
        (Some("subscription"), Some(invoice), _) => invoice.to_string(),
        (_, _, Some(pi)) if session.mode() != Some("subscription") => pi.to_string(),
        _ => session_id.to_string(),
    };
    // ExisOne metadata: the session's, else the subscription's (`subscription_data.metadata`).
    let sold = if metadata::has_product_id(session.metadata()) {
        session.metadata()
    } else {
        subscription_metadata.as_ref().or(session.metadata())
    };
    let outcome = purchase::issue(
        s,
        app,
        log,
        PurchaseInput {
            purchase_ref,
            metadata: sold,
            lines: Lines::Session(session_id),
            customer: Customer {
                email: session.customer_email().map(str::to_string),
                name: session.customer_name().map(str::to_string),
            },
            source: LicenseSource {
                stripe_app_id: Some(app.id.clone()),
                event_id: Some(event.id.clone()),
                checkout_session_id: Some(session_id.to_string()),
                payment_intent_id: session.payment_intent().map(str::to_string),
                invoice_id: invoice,
                subscription_id: subscription_id.map(str::to_string),
            },
            period: subscription_id.map(|id| PaidPeriod {
                subscription_id: id,
                period_end,
                first: true,
            }),
        },
    )
    .await?;
    if let (
        Outcome::Done {
            purchase_ref: Some(purchase_ref),
            ..
        },
        true,
    ) = (&outcome, checkout::created_by_keyhook(session.metadata()))
    {
        // Keyhook created this session (POST /api/stripe/checkout/session, which marks it in
        // the metadata): say which purchase it became. Other sessions have no record to link.
        s.store
            .link_checkout_session(&app.tenant_id, session_id, purchase_ref)
            .await?;
    }
    Ok(outcome)
}

/// `checkout.session.async_payment_failed`: recorded; nothing is issued.
pub(super) async fn payment_failed(
    _s: &Services,
    _app: &StripeApp,
    event: &Event,
) -> Result<Outcome> {
    let session = CheckoutSession(event.object());
    tracing::info!(session = ?session.id(), "delayed payment failed; nothing issued");
    Ok(Outcome::nothing())
}
