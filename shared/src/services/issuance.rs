//! Issuing licenses, exactly once per purchase — the one path for webhook purchases (one-time
//! and subscription) and for licenses an admin issues by hand: build the licenses (keys sealed
//! under the tenant key), commit them with the purchase record (and the event's log entry) in
//! one transaction, then hand the email to the mailer. A purchase already issued changes
//! nothing; its email is re-enqueued if it has not been sent (the mailer skips an email already recorded sent).

use time::OffsetDateTime;

use crate::crypto::seal;
use crate::crypto::SealContext;
use crate::domain::activity::Origin;
use crate::domain::license::KEY_SEAL_FIELD;
use crate::domain::purchase::{license_days, Customer, LicenseOrder};
use crate::domain::{EmailStatus, EventLogEntry, License, LicenseSource, Plan, Product, Purchase};
use crate::mail::MailJob;
use crate::store::issuance::IssueOutcome;
use crate::stripe::metadata::Limits;
use crate::{Error, Result, Services};

/// Per-license values that replace the product's.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `Some(None)` = perpetual; `Some(Some(t))` = expires at `t` (a paid subscription period).
    pub expires_at: Option<Option<OffsetDateTime>>,
    pub max_devices: Option<u32>,
    pub max_ips: Option<u32>,
}

/// One product of a purchase.
pub struct IssueLine<'a> {
    pub product: &'a Product,
    pub plan: Option<&'a Plan>,
    pub quantity: u32,
    /// Lukittu metadata of the Stripe Product.
    pub limits: Limits,
    pub overrides: Overrides,
    /// Other products each license of this line validates for (one license for several
    /// products).
    pub also_product_ids: Vec<String>,
}

/// What to issue.
pub struct IssueOrder<'a> {
    pub lines: Vec<IssueLine<'a>>,
    pub customer: Customer,
    pub source: LicenseSource,
    /// The Stripe object (or `manual_…` id) that identifies the purchase.
    pub purchase_ref: String,
    pub app_id: Option<String>,
    /// The log entry of the Stripe event that issues it (none for licenses an admin issues by
    /// hand): recorded verified in the issuing transaction.
    pub event: Option<&'a EventLogEntry>,
    /// Whether to email the keys (when the products allow and there is an address).
    pub send_email: bool,
    /// The subscription (`sub_…`) whose first purchase this is: at most one purchase per
    /// subscription issues with this set, whatever each event names it.
    pub first_purchase_of: Option<String>,
    /// Whether the payment was live (the Stripe event's `livemode`); recorded on the purchase
    /// and its licenses, so test-mode money never becomes a live license.
    pub livemode: bool,
    /// Who issues (Stripe, or the merchant by hand): the first entry of each license's
    /// activity log.
    pub origin: Origin,
}

/// What issuing came to.
pub struct Issued {
    pub purchase: Purchase,
    /// The licenses this call created (empty when the purchase had already issued).
    pub licenses: Vec<License>,
    /// False when the purchase had already issued.
    pub new: bool,
    /// Whether the issuing event's log entry turned `verified` in the same transaction.
    pub logged: bool,
}

pub async fn issue(s: &Services, order: IssueOrder<'_>) -> Result<Issued> {
    let first = order
        .lines
        .first()
        .ok_or_else(|| Error::internal("a purchase without products"))?;
    let tenant_id = first.product.tenant_id.clone();
    let wants_email = order.send_email && order.lines.iter().any(|l| l.product.auto_email);
    let email_status = match (&order.customer.email, wants_email) {
        (_, false) => EmailStatus::Disabled,
        (None, true) => EmailStatus::Failed,
        (Some(_), true) => EmailStatus::Pending,
    };
    let key = s.keyring.active_key(&tenant_id).await?;
    let now = crate::time::now();
    let mut licenses = Vec::new();
    for line in &order.lines {
        let license_order = LicenseOrder {
            product: line.product,
            days: license_days(line.product, line.plan, line.limits.expiration_days),
            expiration_start: line
                .limits
                .expiration_start
                .unwrap_or(line.product.expiration_start),
            customer: &order.customer,
            source: order.source.clone(),
            purchase_ref: Some(order.purchase_ref.clone()),
            also_product_ids: line.also_product_ids.clone(),
            livemode: order.livemode,
        };
        for _ in 0..line.quantity {
            let (mut license, _) = license_order
                .new_license(now, |license_id, license_key| {
                    seal::seal(
                        &key,
                        SealContext {
                            tenant_id: &tenant_id,
                            owner: license_id,
                            field: KEY_SEAL_FIELD,
                        },
                        license_key.formatted().as_bytes(),
                    )
                })
                .map_err(|e| Error::validation("days", e.to_string()))?;
            license.email_status = email_status;
            if let Some(expires_at) = line.overrides.expires_at {
                license.expires_at = expires_at;
            }
            license.max_devices = line
                .overrides
                .max_devices
                .or(line.limits.max_devices)
                .unwrap_or(license.max_devices);
            license.max_ips = line
                .overrides
                .max_ips
                .or(line.limits.max_ips)
                .unwrap_or(license.max_ips);
            licenses.push(license);
        }
    }
    let mut product_ids: Vec<String> = Vec::new();
    for line in &order.lines {
        if !product_ids.contains(&line.product.id) {
            product_ids.push(line.product.id.clone());
        }
    }
    let purchase = Purchase {
        purchase_ref: order.purchase_ref,
        tenant_id: tenant_id.clone(),
        app_id: order.app_id,
        event_id: order.event.map(|e| e.event_id.clone()),
        license_ids: licenses.iter().map(|l| l.id.clone()).collect(),
        product_ids,
        customer_email: order.customer.email.clone(),
        customer_name: order.customer.name.clone(),
        email_status,
        email_claim_until: None,
        livemode: Some(order.livemode),
        created_at: now,
    };

    let issued = match s
        .store
        .commit_purchase(
            &purchase,
            &licenses,
            order.first_purchase_of.as_deref(),
            order.event,
            &order.origin,
        )
        .await?
    {
        IssueOutcome::Issued { logged } => {
            tracing::info!(
                purchase_ref = %purchase.purchase_ref,
                licenses = purchase.license_ids.len(),
                "licenses issued"
            );
            Issued {
                purchase,
                licenses,
                new: true,
                logged,
            }
        }
        IssueOutcome::AlreadyIssued(existing) => {
            tracing::info!(purchase_ref = %existing.purchase_ref, "purchase already issued");
            Issued {
                purchase: *existing,
                licenses: Vec::new(),
                new: false,
                logged: false,
            }
        }
    };
    if issued.purchase.email_status == EmailStatus::Pending {
        enqueue(s, &issued.purchase).await?;
    }
    Ok(issued)
}

/// Asks the mailer to send a purchase's email.
pub async fn enqueue(s: &Services, purchase: &Purchase) -> Result<()> {
    s.outbox
        .enqueue(&MailJob::purchase(
            purchase.tenant_id.clone(),
            purchase.purchase_ref.clone(),
        ))
        .await
}

/// Re-enqueues a purchase's email if it has not been sent.
pub async fn ensure_email_enqueued(
    s: &Services,
    tenant_id: &str,
    purchase_ref: &str,
) -> Result<()> {
    match s.store.get_purchase(tenant_id, purchase_ref).await? {
        Some(p) if p.email_status == EmailStatus::Pending => enqueue(s, &p).await,
        _ => Ok(()),
    }
}
