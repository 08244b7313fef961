//! `POST /api/stripe/checkout/session`: checks the request, chooses the app, the mode and the
//! price, creates the session at Stripe with the app's secret key, records it, and answers
//! where to send the buyer.

use sha2::{Digest, Sha256};

use super::prices;
use super::request::{Ask, CheckoutInput};
use super::view::CheckoutSessionView;
use crate::domain::checkout::{
    amount, selection, CheckoutMode, CheckoutSessionRecord, Refusal, Sale,
};
use crate::domain::currency::decimals_of;
use crate::domain::{Plan, PriceMapping, Product, StripeApp};
use crate::handlers::admin::{caller, currencies};
use crate::http::{ApiRequest, ApiResponse};
use crate::services::app_secrets::{self, AppSecret};
use crate::stripe::checkout::{
    session_form, CreatedSession, IssueMetadata, LineItem, SessionParams,
};
use crate::{ids, Result, Services};

/// What the buyer is charged, as the response and the record state it.
struct Priced {
    currency: String,
    /// `None` for tiered Stripe prices.
    amount_minor: Option<i64>,
    decimals: u32,
}

pub async fn create(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let ask = Ask::read(crate::http::input::json_body_requiring::<CheckoutInput>(
        req,
        super::request::REQUIRED,
    )?)?;
    let tenant_id = c.tenant_id.as_str();

    // Reads by key, in parallel: what is sold.
    let (product, plan, named_mapping) = tokio::try_join!(
        s.store.get_tenant_product(tenant_id, &ask.product_id),
        async {
            match &ask.plan_id {
                Some(id) => s.store.get_plan(tenant_id, id).await,
                None => Ok(None),
            }
        },
        async {
            match &ask.price_mapping_id {
                Some(id) => s.store.get_price_mapping(tenant_id, id).await,
                None => Ok(None),
            }
        },
    )?;
    let product = sellable(product, &ask.product_id)?;
    check_plan(plan.as_ref(), ask.plan_id.as_deref(), &product)?;
    let named_mapping = match (&ask.price_mapping_id, named_mapping) {
        (Some(id), None) => return Err(Refusal::MappingNotFound(id.clone()).into()),
        (_, m) => m,
    };
    if let Some(m) = &named_mapping {
        selection::check_mapping(m, &product.id)?;
    }

    // Through which app, and (only when needed to decide the mode) the tenant's mappings:
    // independent reads, in parallel.
    let need_mappings = ask.mode != Some(CheckoutMode::Payment) && named_mapping.is_none();
    let (app, mappings) = tokio::try_join!(
        choose_app(s, tenant_id, ask.app_id.as_deref(), named_mapping.as_ref()),
        async {
            if need_mappings {
                s.store.all_price_mappings(tenant_id).await
            } else {
                Ok(Vec::new())
            }
        },
    )?;
    if let Some(m) = &named_mapping {
        selection::check_mapping_app(m, &app.id)?;
    }
    let sale = selection::sale(
        ask.mode,
        named_mapping.as_ref(),
        &product.id,
        &app.id,
        &mappings,
    )?;

    let secret = app_secrets::open(s, &app, AppSecret::SecretKey)
        .await?
        .ok_or_else(|| Refusal::AppWithoutSecretKey(app.id.clone()))?;

    let (line_item, priced) = match sale {
        Sale::OneTime => {
            let code = ask.currency.as_deref().unwrap_or(&app.default_currency);
            // A price is a price in one currency: another currency sells only at the
            // product's explicit price in it.
            let price = product
                .price_in(code, &app.default_currency)
                .ok_or_else(|| Refusal::NoPriceInCurrency {
                    product: product.id.clone(),
                    price: product.price.clone(),
                    currency: code.to_string(),
                    app_currency: app.default_currency.clone(),
                })?;
            let currency =
                currencies::active(s, tenant_id, code, "currency", Some(&app.default_currency))
                    .await?;
            let charge = amount::one_time(&product.id, price, &currency, ask.quantity)?;
            (
                OwnedLineItem::PriceData {
                    currency: currency.code.clone(),
                    unit_amount: charge.unit_amount,
                },
                Priced {
                    amount_minor: Some(charge.total),
                    decimals: currency.decimals,
                    currency: currency.code,
                },
            )
        }
        Sale::Subscription(mapping) => {
            let price = prices::facts(s, &secret, &app.id, &mapping.stripe_price_id).await?;
            if !price.recurring {
                return Err(Refusal::PriceNotRecurring {
                    mapping: mapping.id.clone(),
                    price: price.id.clone(),
                }
                .into());
            }
            (
                OwnedLineItem::Price(mapping.stripe_price_id.clone()),
                Priced {
                    amount_minor: price
                        .unit_amount
                        .and_then(|u| u.checked_mul(i64::from(ask.quantity))),
                    decimals: decimals_of(&price.currency),
                    currency: price.currency.clone(),
                },
            )
        }
    };

    let params = SessionParams {
        mode: sale.mode(),
        line_item: match &line_item {
            OwnedLineItem::PriceData {
                currency,
                unit_amount,
            } => LineItem::PriceData {
                currency,
                unit_amount: *unit_amount,
                product_name: &product.name,
            },
            OwnedLineItem::Price(price) => LineItem::Price(price),
        },
        quantity: ask.quantity,
        metadata: IssueMetadata {
            product_id: &product.id,
            quantity: ask.quantity,
            plan_id: ask.plan_id.as_deref(),
        },
        customer_email: ask.customer_email.as_deref(),
        success_url: &ask.success_url,
        cancel_url: &ask.cancel_url,
    };
    let key = idempotency_key(tenant_id, &app.id, req.header("idempotency-key"));
    let answer = s
        .stripe
        .post(&secret, "checkout/sessions", &session_form(&params), &key)
        .await?;
    let session = CreatedSession::from_json(&answer)?;

    let amount = priced
        .amount_minor
        .map(|m| amount::decimal(m, priced.decimals));
    let record = CheckoutSessionRecord {
        session_id: session.id.clone(),
        tenant_id: tenant_id.to_string(),
        app_id: app.id.clone(),
        product_id: product.id.clone(),
        plan_id: ask.plan_id.clone(),
        price_mapping_id: match sale {
            Sale::Subscription(m) => Some(m.id.clone()),
            Sale::OneTime => None,
        },
        stripe_price_id: match &line_item {
            OwnedLineItem::Price(p) => Some(p.clone()),
            OwnedLineItem::PriceData { .. } => None,
        },
        mode: sale.mode(),
        quantity: ask.quantity,
        currency: priced.currency.clone(),
        amount: amount.clone(),
        amount_minor: priced.amount_minor,
        livemode: session.livemode,
        created_at: crate::time::now(),
        purchase_ref: None,
    };
    // The session exists at Stripe whatever happens here: the buyer must not lose it because
    // our bookkeeping failed. The webhook issues from the session's own metadata.
    if let Err(e) = s.store.put_checkout_session(&record).await {
        tracing::error!(session_id = %session.id, error = %e, "checkout session created but not recorded");
    }
    tracing::info!(
        session_id = %session.id,
        app_id = %app.id,
        product_id = %product.id,
        mode = sale.mode().as_str(),
        currency = %priced.currency,
        amount_minor = ?priced.amount_minor,
        quantity = ask.quantity,
        "checkout session created"
    );
    Ok(ApiResponse::created(&CheckoutSessionView {
        session_id: session.id,
        url: session.url,
        mode: sale.mode(),
        currency: priced.currency,
        amount,
        quantity: ask.quantity,
        app_id: app.id,
        livemode: session.livemode,
    }))
}

/// The line item's owned parts (the product name is borrowed from the product).
enum OwnedLineItem {
    PriceData { currency: String, unit_amount: i64 },
    Price(String),
}

/// The product, if it exists for this tenant and can be sold.
fn sellable(product: Option<Product>, product_id: &str) -> Result<Product, Refusal> {
    let product = product.ok_or_else(|| Refusal::ProductNotFound(product_id.into()))?;
    if product.archived {
        return Err(Refusal::ProductArchived(product.id));
    }
    Ok(product)
}

/// The plan the request named must exist and belong to the product.
fn check_plan(
    plan: Option<&Plan>,
    plan_id: Option<&str>,
    product: &Product,
) -> Result<(), Refusal> {
    match (plan_id, plan) {
        (None, _) => Ok(()),
        (Some(id), None) => Err(Refusal::PlanNotFound(id.into())),
        (Some(_), Some(p)) if p.product_id != product.id => Err(Refusal::PlanOfOtherProduct {
            plan: p.id.clone(),
            plan_product: p.product_id.clone(),
            product: product.id.clone(),
        }),
        _ => Ok(()),
    }
}

/// `appId`, else the named mapping's app, else the tenant's default active app; active.
async fn choose_app(
    s: &Services,
    tenant_id: &str,
    requested: Option<&str>,
    mapping: Option<&PriceMapping>,
) -> Result<StripeApp> {
    let app = match requested.or(mapping.map(|m| m.app_id.as_str())) {
        Some(id) => s
            .store
            .get_tenant_app(tenant_id, id)
            .await?
            .ok_or_else(|| Refusal::AppNotFound(id.into()))?,
        None => selection::default_app(&s.store.all_tenant_apps(tenant_id).await?)?.clone(),
    };
    selection::usable(&app)?;
    Ok(app)
}

/// One key per session request, reused by the client's retries, so Stripe creates one session
/// however many attempts it takes. When the merchant sends its own `Idempotency-Key`, ours is
/// derived from it (scoped to tenant and app), so the merchant's retries are idempotent too.
fn idempotency_key(tenant_id: &str, app_id: &str, from_caller: Option<&str>) -> String {
    match from_caller.map(str::trim).filter(|k| !k.is_empty()) {
        Some(k) => {
            let digest = Sha256::digest(format!("{tenant_id}\n{app_id}\n{k}").as_bytes());
            format!("keyhook-checkout-{}", hex::encode(&digest[..20]))
        }
        None => format!(
            "keyhook-checkout-{}",
            ids::random_symbols(26).to_ascii_lowercase()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_fresh_unless_the_caller_gives_one() {
        let a = idempotency_key("t", "app", None);
        assert_ne!(a, idempotency_key("t", "app", None));
        assert!(a.starts_with("keyhook-checkout-") && a.len() < 255);
        let k = idempotency_key("t", "app", Some("order-17"));
        assert_eq!(k, idempotency_key("t", "app", Some(" order-17 ")));
        assert_ne!(k, idempotency_key("t2", "app", Some("order-17")));
        assert_ne!(k, idempotency_key("t", "app", Some("order-18")));
    }
}
