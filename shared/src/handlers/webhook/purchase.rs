//! From "a Stripe purchase happened" to issued licenses: decide what it asks for (ExisOne
//! metadata, else the Lukittu metadata of its products), resolve the Keyhook products (by id or
//! alias) and plans (refusing what cannot be sold), issue through `services::issuance`, and for
//! a subscription, link the licenses to it so its state drives them.

use serde_json::{Map, Value};

use super::subscription;
use super::Outcome;
use crate::domain::purchase::{days_after, license_days, Customer};
use crate::domain::{
    EventLogEntry, LicenseSource, ListedProducts, Plan, Product, RenewalMode, StripeApp,
};
use crate::services::issuance::{self, IssueLine, IssueOrder, Overrides};
use crate::stripe::metadata::{self, MetadataError, ProductRequest};
use crate::{Result, Services};

/// Where the Lukittu metadata of a purchase's products can be read, if needed.
pub(super) enum Lines<'a> {
    /// A Checkout Session's line items (fetched with products expanded).
    Session(&'a str),
    /// An invoice's lines (their products fetched).
    Invoice(&'a [Value]),
    /// None (a payment intent carries no line items).
    None,
}

/// The subscription a purchase pays for.
pub(super) struct PaidPeriod<'a> {
    pub subscription_id: &'a str,
    /// End of the period paid for, when known.
    pub period_end: Option<i64>,
    /// The subscription's first purchase (its Checkout Session, or its `subscription_create`
    /// invoice): these two events name it differently when the session does not name its
    /// invoice, so issuance also claims "the first purchase of this subscription".
    pub first: bool,
}

pub(super) struct PurchaseInput<'a> {
    pub purchase_ref: String,
    pub metadata: Option<&'a Map<String, Value>>,
    pub lines: Lines<'a>,
    pub customer: Customer,
    pub source: LicenseSource,
    pub period: Option<PaidPeriod<'a>>,
}

/// What the purchase asks for, or why it cannot issue anything (`Ok(Err(reason))`).
pub(super) async fn requests(
    s: &Services,
    app: &StripeApp,
    exisone: Option<&Map<String, Value>>,
    lines: &Lines<'_>,
) -> Result<std::result::Result<Vec<ProductRequest>, String>> {
    let lukittu: std::result::Result<Vec<ProductRequest>, MetadataError> =
        if metadata::has_product_id(exisone) {
            Ok(Vec::new())
        } else {
            match lines {
                Lines::None => Ok(Vec::new()),
                Lines::Session(_) | Lines::Invoice(_) => {
                    let Some(secret) = super::stripe_reads::secret_key(s, app).await? else {
                        return Ok(Err(
                        "no productId metadata, and the Stripe app has no usable secret key to read the purchase's products"
                            .into(),
                    ));
                    };
                    match lines {
                        Lines::Session(id) => {
                            super::stripe_reads::session_line_requests(s, &secret, id).await?
                        }
                        Lines::Invoice(l) => {
                            super::stripe_reads::invoice_line_requests(s, &secret, l).await?
                        }
                        Lines::None => unreachable!(),
                    }
                }
            }
        };
    Ok(metadata::resolve(exisone, || lukittu).map_err(|e| e.to_string()))
}

/// The Keyhook products and plans of the requests, or why one cannot be sold.
pub(super) async fn resolve_products(
    s: &Services,
    tenant_id: &str,
    requests: &[ProductRequest],
) -> Result<std::result::Result<Vec<(Product, Option<Plan>)>, String>> {
    let mut resolved = Vec::new();
    for r in requests {
        let Some(product) = s
            .store
            .resolve_product_cached(tenant_id, &r.product_id)
            .await?
        else {
            return Ok(Err(format!(
                "product {:?} does not exist for this tenant: it is neither a Keyhook product id nor one of a product's externalIds",
                r.product_id
            )));
        };
        if product.archived {
            return Ok(Err(format!(
                "product {} is archived and cannot be sold",
                r.product_id
            )));
        }
        let plan = match &r.plan_id {
            None => None,
            Some(plan_id) => match s.store.get_plan(tenant_id, plan_id).await? {
                Some(p) if p.product_id == product.id => Some(p),
                _ => {
                    return Ok(Err(format!(
                        "plan {plan_id} does not exist for product {}",
                        product.id
                    )))
                }
            },
        };
        resolved.push((product, plan));
    }
    Ok(Ok(resolved))
}

/// One issue line per request, except that products listed together by one Stripe Product
/// whose first listed product says `one_license` become one line: one license per unit,
/// valid for each of them, with the first product's settings.
fn issue_lines<'a>(
    requests: &[ProductRequest],
    products: &'a [(Product, Option<Plan>)],
    expires_at: Option<Option<time::OffsetDateTime>>,
) -> Vec<IssueLine<'a>> {
    let mut lines: Vec<IssueLine<'a>> = Vec::new();
    let mut open_group: Option<(usize, usize)> = None; // (group, index of its line)
    for (r, (product, plan)) in requests.iter().zip(products) {
        if let (Some(group), Some((open, at))) = (r.group, open_group) {
            if group == open {
                let line = &mut lines[at];
                if line.product.id != product.id && !line.also_product_ids.contains(&product.id) {
                    line.also_product_ids.push(product.id.clone());
                }
                continue;
            }
        }
        open_group = match r.group {
            Some(g) if product.listed_products == ListedProducts::OneLicense => {
                Some((g, lines.len()))
            }
            _ => None,
        };
        lines.push(IssueLine {
            product,
            plan: plan.as_ref(),
            quantity: r.quantity,
            limits: r.limits,
            overrides: Overrides {
                expires_at,
                ..Default::default()
            },
            also_product_ids: Vec::new(),
        });
    }
    lines
}

/// Issues a purchase (once), and links a subscription's licenses.
pub(super) async fn issue(
    s: &Services,
    app: &StripeApp,
    log: &EventLogEntry,
    input: PurchaseInput<'_>,
) -> Result<Outcome> {
    let requests = match requests(s, app, input.metadata, &input.lines).await? {
        Ok(r) => r,
        Err(reason) => return Ok(Outcome::Refused(reason)),
    };
    let products = match resolve_products(s, &app.tenant_id, &requests).await? {
        Ok(p) => p,
        Err(reason) => return Ok(Outcome::Refused(reason)),
    };
    let grace_days = products
        .iter()
        .map(|(p, _)| p.grace_days)
        .max()
        .unwrap_or(0);
    // A subscription's licenses run to the end of the paid period (plus grace), whatever the
    // product's days; without a known period, the product's days apply (as ExisOne does).
    // A period ending at the end of representable time (plus grace) saturates there: the
    // buyer paid, so the license is issued, never refused or overflowed.
    let expires_at = input
        .period
        .as_ref()
        .and_then(|p| p.period_end)
        .and_then(crate::time::from_unix)
        .map(|end| {
            Some(days_after(end, grace_days).unwrap_or(time::PrimitiveDateTime::MAX.assume_utc()))
        });
    let now = crate::time::now();
    for (r, (product, plan)) in requests.iter().zip(&products) {
        if let Some(days) = license_days(product, plan.as_ref(), r.limits.expiration_days) {
            if days_after(now, days).is_none() {
                return Ok(Outcome::Refused(format!(
                    "product {}: a license of {days} days would expire after the last representable date",
                    product.id
                )));
            }
        }
    }
    let lines = issue_lines(&requests, &products, expires_at);
    let issued = issuance::issue(
        s,
        IssueOrder {
            lines,
            customer: input.customer,
            source: input.source,
            purchase_ref: input.purchase_ref,
            app_id: Some(app.id.clone()),
            event: Some(log),
            send_email: true,
            first_purchase_of: input
                .period
                .as_ref()
                .filter(|p| p.first)
                .map(|p| p.subscription_id.to_string()),
            livemode: log.livemode,
            origin: crate::domain::activity::Origin::stripe(),
        },
    )
    .await?;
    if let Some(period) = &input.period {
        let renewal_mode = products
            .first()
            .map(|(p, _)| p.renewal_mode)
            .unwrap_or(RenewalMode::NewKey);
        subscription::link(
            s,
            &app.tenant_id,
            period.subscription_id,
            &issued.purchase.license_ids,
            renewal_mode,
            grace_days,
            period.period_end,
        )
        .await?;
    }
    Ok(Outcome::Done {
        purchase_ref: Some(issued.purchase.purchase_ref),
        license_ids: issued.purchase.license_ids,
        // A new purchase marked its event verified in its own transaction (when it fitted).
        logged: issued.logged,
    })
}
