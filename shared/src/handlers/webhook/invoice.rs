//! `invoice.paid`: a subscription's first payment and each renewal (and an invoice sold with
//! Keyhook metadata). The first invoice is the same purchase as its Checkout Session. Renewals
//! of `new_key` products issue new keys (emailed); renewals of `extend` products push the
//! existing licenses' expiry to the new period's end.

use super::purchase::{self, Lines, PaidPeriod, PurchaseInput};
use super::{stripe_reads, subscription, Outcome};
use crate::domain::purchase::Customer;
use crate::domain::{EventLogEntry, LicenseSource, RenewalMode, StripeApp};
use crate::stripe::event::StripeObject;
use crate::stripe::objects::{Invoice, Subscription};
use crate::stripe::{Event, EventObject};
use crate::{Result, Services};

/// `log`: the event's log entry, recorded verified by the issuing transaction.
pub(super) async fn paid(
    s: &Services,
    app: &StripeApp,
    event: &Event,
    log: &EventLogEntry,
) -> Result<Outcome> {
    let invoice = Invoice(event.object());
    let Some(invoice_id) = invoice.id() else {
        return Ok(Outcome::Refused("the invoice has no id".into()));
    };
    let subscription_id = invoice.subscription();
    let period_end = invoice.period_end();

    // Metadata for renewals comes from the subscription: as the invoice carries it, or fetched.
    let mut metadata = invoice.subscription_metadata().cloned();
    let mut fetched = None;
    if let (Some(sub_id), None) = (subscription_id, &metadata) {
        if let Some(secret) = stripe_reads::secret_key(s, app).await? {
            fetched = Some(stripe_reads::subscription(s, &secret, sub_id).await?);
        }
    }
    if let Some(sub) = &fetched {
        let sub = Subscription(StripeObject(sub));
        metadata = sub.metadata().cloned().filter(|m| !m.is_empty());
        subscription::observe(s, &app.tenant_id, sub, event.created).await?;
    }
    if subscription_id.is_none()
        && !crate::stripe::metadata::has_product_id(invoice.0.metadata("metadata"))
    {
        // A one-off invoice that is not Keyhook's.
        return Ok(Outcome::nothing());
    }
    let metadata = metadata.or_else(|| invoice.0.metadata("metadata").cloned());

    // An `extend` renewal: the subscription already has its licenses.
    if let (Some(sub_id), Some(end)) = (subscription_id, period_end) {
        if invoice.billing_reason() != Some("subscription_create") {
            if let Some(record) = subscription::record(s, &app.tenant_id, sub_id).await? {
                if record.renewal_mode == Some(RenewalMode::Extend)
                    && !record.license_ids.is_empty()
                {
                    let ids = subscription::extend(s, &record, end).await?;
                    return Ok(Outcome::Done {
                        purchase_ref: Some(invoice_id.to_string()),
                        license_ids: ids,
                        logged: false,
                    });
                }
            }
        }
    }
    purchase::issue(
        s,
        app,
        log,
        PurchaseInput {
            purchase_ref: invoice_id.to_string(),
            metadata: metadata.as_ref(),
            lines: Lines::Invoice(invoice.lines()),
            customer: Customer {
                email: invoice.customer_email().map(str::to_string),
                name: invoice.customer_name().map(str::to_string),
            },
            source: LicenseSource {
                stripe_app_id: Some(app.id.clone()),
                event_id: Some(event.id.clone()),
                invoice_id: Some(invoice_id.to_string()),
                subscription_id: subscription_id.map(str::to_string),
                payment_intent_id: invoice.payment_intent().map(str::to_string),
                ..Default::default()
            },
            period: subscription_id.map(|id| PaidPeriod {
                subscription_id: id,
                period_end,
                first: invoice.billing_reason() == Some("subscription_create"),
            }),
        },
    )
    .await
}
