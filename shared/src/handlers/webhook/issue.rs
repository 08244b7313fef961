//! Issuing a purchase's licenses, exactly once: build the licenses, commit them with the
//! purchase record and the event's log entry in one transaction, then hand the email to the
//! mailer. A purchase already issued (a redelivery, or another event for the same purchase)
//! changes nothing and only makes sure its email was enqueued.

use super::Outcome;
use crate::crypto::seal::{self};
use crate::crypto::SealContext;
use crate::domain::purchase::{license_days, Customer, LicenseOrder};
use crate::domain::{EmailStatus, License, LicenseSource, Purchase, StripeApp};
use crate::mail::MailJob;
use crate::store::issuance::IssueOutcome;
use crate::stripe::metadata::ProductRequest;
use crate::stripe::Event;
use crate::{Result, Services};

/// The seal field of a license key.
pub const LICENSE_KEY_FIELD: &str = "licenseKey";

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

    let email_status = match (&req.customer.email, product.auto_email) {
        (_, false) => EmailStatus::Disabled,
        (None, true) => EmailStatus::Failed,
        (Some(_), true) => EmailStatus::Pending,
    };
    let order = LicenseOrder {
        product: &product,
        days: license_days(&product, plan.as_ref()),
        customer: &req.customer,
        source: req.source,
        purchase_ref: Some(req.purchase_ref.clone()),
    };
    let key = s.keyring.active_key(tenant_id).await?;
    let now = crate::time::now();
    let licenses: Vec<License> = (0..req.request.quantity)
        .map(|_| {
            let (mut license, _) = order.new_license(now, |license_id, license_key| {
                seal::seal(
                    &key,
                    SealContext {
                        tenant_id,
                        owner: license_id,
                        field: LICENSE_KEY_FIELD,
                    },
                    license_key.formatted().as_bytes(),
                )
            });
            license.email_status = email_status;
            license
        })
        .collect();
    let purchase = Purchase {
        purchase_ref: req.purchase_ref,
        tenant_id: tenant_id.clone(),
        app_id: app.id.clone(),
        event_id: event.id.clone(),
        license_ids: licenses.iter().map(|l| l.id.clone()).collect(),
        product_ids: vec![product.id.clone()],
        customer_email: req.customer.email.clone(),
        customer_name: req.customer.name.clone(),
        email_status,
        email_claim_until: None,
        created_at: now,
    };

    let (purchase, logged) = match s.store.commit_purchase(&purchase, &licenses).await? {
        IssueOutcome::Issued => {
            tracing::info!(
                purchase_ref = %purchase.purchase_ref,
                licenses = purchase.license_ids.len(),
                "licenses issued"
            );
            (purchase, true)
        }
        IssueOutcome::AlreadyIssued(existing) => {
            tracing::info!(purchase_ref = %existing.purchase_ref, "purchase already issued");
            (*existing, false)
        }
    };
    if purchase.email_status == EmailStatus::Pending {
        enqueue(s, &purchase).await?;
    }
    Ok(Outcome::Done {
        purchase_ref: Some(purchase.purchase_ref),
        license_ids: purchase.license_ids,
        logged,
    })
}

async fn enqueue(s: &Services, purchase: &Purchase) -> Result<()> {
    s.outbox
        .enqueue(&MailJob {
            tenant_id: purchase.tenant_id.clone(),
            purchase_ref: purchase.purchase_ref.clone(),
        })
        .await
}

/// Re-enqueues a purchase's email if it has not been sent (the mailer sends at most once).
pub(super) async fn ensure_email_enqueued(
    s: &Services,
    tenant_id: &str,
    purchase_ref: &str,
) -> Result<()> {
    match s.store.get_purchase(tenant_id, purchase_ref).await? {
        Some(p) if p.email_status == EmailStatus::Pending => enqueue(s, &p).await,
        _ => Ok(()),
    }
}
