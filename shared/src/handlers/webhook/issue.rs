//! From a Stripe purchase request to issued licenses: resolve the product and plan the
//! metadata names (refusing what cannot be sold), then issue through `handlers::issuance`.

use super::Outcome;
use crate::domain::purchase::Customer;
use crate::domain::{LicenseSource, StripeApp};
use crate::handlers::issuance::{self, IssueOrder};
use crate::stripe::metadata::ProductRequest;
use crate::stripe::Event;
use crate::{Result, Services};

pub(super) struct IssueRequest {
    pub purchase_ref: String,
    pub request: ProductRequest,
    pub customer: Customer,
    pub source: LicenseSource,
}

pub(super) async fn issue(
    s: &Services,
    app: &StripeApp,
    event: &Event,
    req: IssueRequest,
) -> Result<Outcome> {
    let tenant_id = &app.tenant_id;
    let product_id = &req.request.product_id;
    let Some(product) = s.store.get_tenant_product(tenant_id, product_id).await? else {
        return Ok(Outcome::Refused(format!(
            "product {product_id} does not exist for this tenant"
        )));
    };
    if product.archived {
        return Ok(Outcome::Refused(format!(
            "product {product_id} is archived and cannot be sold"
        )));
    }
    let plan = match &req.request.plan_id {
        None => None,
        Some(plan_id) => match s.store.get_plan(tenant_id, plan_id).await? {
            Some(p) if p.product_id == product.id => Some(p),
            _ => {
                return Ok(Outcome::Refused(format!(
                    "plan {plan_id} does not exist for product {product_id}"
                )))
            }
        },
    };
    let issued = issuance::issue(
        s,
        IssueOrder {
            product: &product,
            plan: plan.as_ref(),
            quantity: req.request.quantity,
            customer: req.customer,
            source: req.source,
            purchase_ref: req.purchase_ref,
            app_id: Some(app.id.clone()),
            event_id: Some(event.id.clone()),
            send_email: true,
            overrides: Default::default(),
        },
    )
    .await?;
    Ok(Outcome::Done {
        purchase_ref: Some(issued.purchase.purchase_ref),
        license_ids: issued.purchase.license_ids,
        // A new purchase marked its event verified in its own transaction.
        logged: issued.new,
    })
}
