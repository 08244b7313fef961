//! Money going back: a full refund (`charge.refunded`) or a dispute (`charge.dispute.created`)
//! revokes or suspends the purchase's licenses, as each license's product says (default:
//! revoke on refund, suspend on dispute). Partial refunds change nothing.

use super::{stripe_reads, Outcome};
use crate::domain::activity::Origin;
use crate::domain::product::ChargebackAction;
use crate::domain::{LicenseStatus, StripeApp};
use crate::stripe::event::StripeObject;
use crate::stripe::objects::{Charge, Dispute};
use crate::stripe::{Event, EventObject};
use crate::{Result, Services};

#[derive(Clone, Copy)]
enum Kind {
    Refund,
    Dispute,
}

pub(super) async fn refunded(s: &Services, app: &StripeApp, event: &Event) -> Result<Outcome> {
    let charge = Charge(event.object());
    if !charge.fully_refunded() {
        return Ok(Outcome::nothing());
    }
    let refs: Vec<String> = [charge.payment_intent(), charge.invoice()]
        .into_iter()
        .flatten()
        .map(str::to_string)
        .collect();
    apply(s, app, &refs, Kind::Refund).await
}

pub(super) async fn disputed(s: &Services, app: &StripeApp, event: &Event) -> Result<Outcome> {
    let dispute = Dispute(event.object());
    let mut refs: Vec<String> = dispute
        .payment_intent()
        .map(str::to_string)
        .into_iter()
        .collect();
    if let Some(charge_id) = dispute.charge() {
        if let Some(secret) = stripe_reads::secret_key(s, app).await? {
            let charge = stripe_reads::charge(s, &secret, charge_id).await?;
            let charge = Charge(StripeObject(&charge));
            refs.extend(
                [charge.payment_intent(), charge.invoice()]
                    .into_iter()
                    .flatten()
                    .map(str::to_string),
            );
        }
    }
    apply(s, app, &refs, Kind::Dispute).await
}

async fn apply(s: &Services, app: &StripeApp, refs: &[String], kind: Kind) -> Result<Outcome> {
    for purchase_ref in refs {
        let Some(purchase) = s.store.get_purchase(&app.tenant_id, purchase_ref).await? else {
            continue;
        };
        let mut products = std::collections::HashMap::new();
        for license in s
            .store
            .get_tenant_licenses(&app.tenant_id, &purchase.license_ids)
            .await?
        {
            if !products.contains_key(&license.product_id) {
                let p = s
                    .store
                    .get_tenant_product(&app.tenant_id, &license.product_id)
                    .await?;
                products.insert(license.product_id.clone(), p);
            }
            let action = match (&products[&license.product_id], kind) {
                (Some(p), Kind::Refund) => p.refund_action,
                (Some(p), Kind::Dispute) => p.dispute_action,
                (None, Kind::Refund) => ChargebackAction::Revoke,
                (None, Kind::Dispute) => ChargebackAction::Suspend,
            };
            // Decided on the license as the write finds it (a conditional read-modify-write).
            s.store
                .edit_license(&app.tenant_id, &license.id, &Origin::stripe(), |l| {
                    match action {
                        ChargebackAction::Revoke => l.status = LicenseStatus::Revoked,
                        ChargebackAction::Suspend if l.status != LicenseStatus::Revoked => {
                            l.status = LicenseStatus::Suspended
                        }
                        _ => {}
                    }
                    Ok(())
                })
                .await?;
        }
        tracing::info!(purchase_ref = %purchase.purchase_ref, "chargeback applied");
        return Ok(Outcome::Done {
            purchase_ref: Some(purchase.purchase_ref),
            license_ids: purchase.license_ids,
            logged: false,
        });
    }
    Ok(Outcome::nothing())
}
