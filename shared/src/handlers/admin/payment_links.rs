//! Selling without code: "Create a payment link" makes, in the merchant's Stripe account, a
//! Stripe product, a price and a Payment Link whose metadata (`stripe::catalog`) makes its
//! purchases issue the Keyhook product, and keeps the link on the product. And the account's
//! prices, listed from Stripe, so a price mapping is picked rather than pasted.
//!
//! What a link sells follows the checkout's rule (`domain::checkout::selection`): the product's
//! price mapping for the app (named, or its only one) makes it a subscription at that mapped
//! recurring price; without one it is a one-time sale at the product's price in the app's
//! currency.
//!
//! Every create carries an idempotency key derived from the tenant, product, app, what is
//! charged and how many links came before, so a retried or double-clicked request makes one
//! product, one price and one link; `replace` (or a new price) makes the next one and turns the
//! old link off.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{caller, currencies, ts};
use crate::crypto::Secret;
use crate::domain::checkout::{amount, selection, Refusal, Sale};
use crate::domain::{Product, ProductPaymentLink, StripeApp};
use crate::http::auth::Caller;
use crate::http::input::json_body;
use crate::http::{ApiRequest, ApiResponse};
use crate::services::app_secrets::{self, AppSecret};
use crate::stripe::catalog::{self, CreatedLink, LinkMode, ListedPrice, PriceType};
use crate::stripe::client::{Form, StripeError};
use crate::{Error, Result, Services};

/// How many times a link's record is placed again on a product written meanwhile.
const RECORD_ATTEMPTS: usize = 10;

/// `POST /api/products/{productId}/payment-link`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentLinkInput {
    /// The Stripe app to sell through (absent or blank: the tenant's default test app, or its
    /// default live app with `live: true`).
    pub app_id: Option<String>,
    /// Without `appId`: sell through the default live app rather than the test one.
    pub live: Option<bool>,
    /// The subscription price mapping to sell, when the product has several for the app.
    pub price_mapping_id: Option<String>,
    /// Make a new link even if one exists for the app at the same price (the old one is turned
    /// off).
    pub replace: Option<bool>,
}

/// A product's payment link.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentLinkView {
    /// The shareable URL.
    pub url: String,
    pub payment_link_id: String,
    pub stripe_product_id: String,
    pub stripe_price_id: String,
    pub app_id: String,
    pub livemode: bool,
    /// `payment` (one-time) or `subscription`.
    pub mode: String,
    pub currency: String,
    /// Minor units; `null` for a tiered price.
    pub unit_amount: Option<i64>,
    /// `false` when the product's existing link was returned.
    pub created: bool,
    pub created_at: String,
}

impl PaymentLinkView {
    pub fn of(l: &ProductPaymentLink, created: bool) -> Self {
        PaymentLinkView {
            url: l.url.clone(),
            payment_link_id: l.payment_link_id.clone(),
            stripe_product_id: l.stripe_product_id.clone(),
            stripe_price_id: l.stripe_price_id.clone(),
            app_id: l.app_id.clone(),
            livemode: l.livemode,
            mode: l.mode.clone(),
            currency: l.currency.clone(),
            unit_amount: l.unit_amount,
            created,
            created_at: ts(l.created_at),
        }
    }
}

/// What the link charges, before anything is made at Stripe.
struct Charge {
    mode: LinkMode,
    currency: String,
    unit_amount: Option<i64>,
    /// A subscription's mapped price, its Stripe product and mapping.
    mapped: Option<(String, String, String)>,
}

impl Charge {
    fn matches(&self, l: &ProductPaymentLink) -> bool {
        l.mode == self.mode.as_str()
            && l.currency == self.currency
            && l.unit_amount == self.unit_amount
            && self
                .mapped
                .as_ref()
                .is_none_or(|(price, _, _)| *price == l.stripe_price_id)
    }
}

/// The app a link sells through: `appId`, else the tenant's default app of the mode asked
/// (test unless `live`); active.
async fn choose_app(s: &Services, tenant_id: &str, input: &PaymentLinkInput) -> Result<StripeApp> {
    let app = match &input.app_id {
        Some(id) => s
            .store
            .get_tenant_app(tenant_id, id)
            .await?
            .ok_or_else(|| Refusal::AppNotFound(id.clone()))?,
        None => {
            let live = input.live.unwrap_or(false);
            let apps = s.store.all_tenant_apps(tenant_id).await?;
            let mut of_mode = apps.iter().filter(|a| a.is_default && a.is_live == live);
            let app = of_mode
                .clone()
                .find(|a| a.active)
                .or_else(|| of_mode.next());
            match app {
                Some(a) => a.clone(),
                None => {
                    return Err(Error::conflict_at(
                        "appId",
                        format!(
                        "there is no default {} Stripe app; pass appId, or mark an app as default",
                        if live { "live" } else { "test" }
                    ),
                    ))
                }
            }
        }
    };
    selection::usable(&app)?;
    Ok(app)
}

/// The app's secret key, or a refusal naming the app.
pub async fn secret_key(s: &Services, app: &StripeApp) -> Result<Secret> {
    app_secrets::open(s, app, AppSecret::SecretKey)
        .await?
        .ok_or_else(|| {
            Error::conflict_at(
                "appId",
                format!(
                    "Stripe app \"{}\" ({}) has no secret key Keyhook can use; add its Stripe secret key on the app's page",
                    app.name, app.id
                ),
            )
        })
}

/// What the product sells for through `app`.
async fn charge(
    s: &Services,
    secret: &Secret,
    product: &Product,
    app: &StripeApp,
    price_mapping_id: Option<&str>,
) -> Result<Charge> {
    let named = match price_mapping_id {
        Some(id) => {
            let m = s
                .store
                .get_price_mapping(&product.tenant_id, id)
                .await?
                .ok_or_else(|| Refusal::MappingNotFound(id.into()))?;
            selection::check_mapping(&m, &product.id)?;
            selection::check_mapping_app(&m, &app.id)?;
            Some(m)
        }
        None => None,
    };
    let mappings = match named {
        Some(_) => Vec::new(),
        None => s.store.all_price_mappings(&product.tenant_id).await?,
    };
    match selection::sale(None, named.as_ref(), &product.id, &app.id, &mappings)? {
        Sale::OneTime => {
            let code = &app.default_currency;
            let price = product.price_in(code, code).unwrap_or(&product.price);
            let currency =
                currencies::active(s, &product.tenant_id, code, "appId", Some(code)).await?;
            let charge = amount::one_time(&product.id, price, &currency, 1)?;
            Ok(Charge {
                mode: LinkMode::Payment,
                currency: currency.code,
                unit_amount: Some(charge.unit_amount),
                mapped: None,
            })
        }
        Sale::Subscription(m) => {
            let price = s
                .stripe
                .get(
                    secret,
                    &format!("prices/{}", m.stripe_price_id),
                    &Form::new(),
                )
                .await?;
            if price["type"].as_str() != Some("recurring") {
                return Err(Refusal::PriceNotRecurring {
                    mapping: m.id.clone(),
                    price: m.stripe_price_id.clone(),
                }
                .into());
            }
            let stripe_product = price["product"]
                .as_str()
                .or_else(|| price["product"]["id"].as_str())
                .unwrap_or_default()
                .to_string();
            Ok(Charge {
                mode: LinkMode::Subscription,
                currency: price["currency"]
                    .as_str()
                    .unwrap_or_default()
                    .to_ascii_lowercase(),
                unit_amount: price["unit_amount"].as_i64(),
                mapped: Some((m.stripe_price_id.clone(), stripe_product, m.id.clone())),
            })
        }
    }
}

/// The idempotency key of one create (`step`: product, price or link): the same request made
/// twice names the same Stripe objects.
fn idempotency_key(
    step: &str,
    tenant_id: &str,
    product: &Product,
    app_id: &str,
    charge: &Charge,
    generation: u32,
) -> String {
    let what = format!(
        "{tenant_id}\n{}\n{}\n{app_id}\n{}\n{}\n{:?}\n{generation}",
        product.id,
        product.name,
        charge.mode.as_str(),
        charge.currency,
        charge.unit_amount
    );
    let digest = Sha256::digest(what.as_bytes());
    format!("keyhook-plink-{step}-{}", hex::encode(&digest[..20]))
}

/// `POST /v1/<path>` with `key`; when Stripe answers that a request with the same key is still
/// running (a double click, a retry racing the first attempt: `409 idempotency_error`), asks
/// again after a moment, and gets that request's result.
async fn create_at_stripe(
    s: &Services,
    secret: &Secret,
    path: &str,
    form: &Form,
    key: &str,
) -> Result<serde_json::Value> {
    let mut attempt = 0;
    loop {
        match s.stripe.post(secret, path, form, key).await {
            Err(StripeError::Api {
                status: 409, kind, ..
            }) if kind == "idempotency_error" && attempt < IN_PROGRESS_RETRIES => {
                attempt += 1;
                tokio::time::sleep(IN_PROGRESS_WAIT * attempt).await;
            }
            other => return Ok(other?),
        }
    }
}

/// How often, and after how long, a create whose key is in use by a running request is asked
/// again.
const IN_PROGRESS_RETRIES: u32 = 4;
const IN_PROGRESS_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// Makes (or returns) the product's payment link.
pub async fn create_payment_link(
    s: &Services,
    c: &Caller,
    product_id: &str,
    mut input: PaymentLinkInput,
) -> Result<PaymentLinkView> {
    // A blank id is no id (as a checkout reads them): the default applies.
    for id in [&mut input.app_id, &mut input.price_mapping_id] {
        if id.as_deref().is_some_and(|v| v.trim().is_empty()) {
            *id = None;
        }
    }
    let tenant_id = c.tenant_id.as_str();
    let product = s
        .store
        .get_tenant_product(tenant_id, product_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("Product {product_id}")))?;
    if product.archived {
        return Err(Refusal::ProductArchived(product.id).into());
    }
    let app = choose_app(s, tenant_id, &input).await?;
    let secret = secret_key(s, &app).await?;
    let charge = charge(
        s,
        &secret,
        &product,
        &app,
        input.price_mapping_id.as_deref(),
    )
    .await?;
    let existing = product.payment_link(&app.id);
    if let Some(l) = existing {
        if !input.replace.unwrap_or(false) && charge.matches(l) {
            return Ok(PaymentLinkView::of(l, false));
        }
    }
    let generation = existing.map_or(0, |l| l.generation + 1);
    let key = |step| idempotency_key(step, tenant_id, &product, &app.id, &charge, generation);

    let (stripe_product, stripe_price) = match &charge.mapped {
        Some((price, stripe_product, _)) => (stripe_product.clone(), price.clone()),
        None => {
            let made = create_at_stripe(
                s,
                &secret,
                "products",
                &catalog::product_form(&product.name, &product.id),
                &key("product"),
            )
            .await?;
            let stripe_product = catalog::id_of(&made, "prod_", "a product id")?;
            let form = catalog::one_time_price_form(
                &stripe_product,
                &charge.currency,
                charge.unit_amount.unwrap_or_default(),
                &product.id,
            );
            let made = create_at_stripe(s, &secret, "prices", &form, &key("price")).await?;
            let price = catalog::id_of(&made, "price_", "a price id")?;
            (stripe_product, price)
        }
    };
    let confirmation = product
        .auto_email
        .then_some("Thank you! Your license key is on its way to your email address.");
    let form = catalog::payment_link_form(&stripe_price, charge.mode, &product.id, confirmation);
    let made = create_at_stripe(s, &secret, "payment_links", &form, &key("link")).await?;
    let link = CreatedLink::from_json(&made)?;

    let stored = ProductPaymentLink {
        app_id: app.id.clone(),
        livemode: link.livemode,
        payment_link_id: link.id.clone(),
        url: link.url.clone(),
        stripe_product_id: stripe_product,
        stripe_price_id: stripe_price,
        mode: charge.mode.as_str().to_string(),
        currency: charge.currency.clone(),
        unit_amount: charge.unit_amount,
        price_mapping_id: charge.mapped.as_ref().map(|(_, _, m)| m.clone()),
        generation,
        created_at: crate::time::now(),
    };
    // Recorded on the product as read, unless somebody wrote it meanwhile: then on what they
    // wrote (the link is made; only its record is placed again).
    let mut current = product.clone();
    let mut recorded = false;
    for _ in 0..RECORD_ATTEMPTS {
        let mut links: Vec<ProductPaymentLink> = current
            .payment_links
            .iter()
            .filter(|l| l.app_id != app.id)
            .cloned()
            .collect();
        links.push(stored.clone());
        if s.store.set_product_payment_links(&current, &links).await? {
            recorded = true;
            break;
        }
        current = s
            .store
            .get_tenant_product(tenant_id, product_id)
            .await?
            .ok_or_else(|| Error::not_found(format!("Product {product_id}")))?;
    }
    if !recorded {
        return Err(Error::Conflict(format!(
            "product {product_id} kept changing while its payment link was recorded; create it again (the same link comes back)"
        )));
    }
    if let Some(old) = existing.filter(|l| l.payment_link_id != link.id) {
        // The old link would keep selling at its old price: turn it off. Best effort: the new
        // link is made and kept either way, and the old one can be turned off in Stripe.
        let off = s
            .stripe
            .post(
                &secret,
                &format!("payment_links/{}", old.payment_link_id),
                &catalog::deactivate_form(),
                &format!("keyhook-plink-off-{}", old.payment_link_id),
            )
            .await;
        if let Err(e) = off {
            tracing::warn!(payment_link_id = %old.payment_link_id, error = %e, "replaced payment link not deactivated");
        }
    }
    tracing::info!(
        product_id = %product.id,
        app_id = %app.id,
        payment_link_id = %link.id,
        mode = charge.mode.as_str(),
        "payment link created"
    );
    Ok(PaymentLinkView::of(&stored, true))
}

/// `POST /api/products/{productId}/payment-link` (`{}` for the defaults).
pub async fn create(s: &Services, req: &ApiRequest, product_id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let input: PaymentLinkInput = json_body(req)?;
    Ok(ApiResponse::created(
        &create_payment_link(s, &c, product_id, input).await?,
    ))
}

/// Most prices listed (three of Stripe's pages).
pub const MAX_LISTED_PRICES: usize = 300;

/// One price of the account.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StripePriceView {
    /// `price_…`.
    pub id: String,
    /// `prod_…`.
    pub product_id: Option<String>,
    pub product_name: Option<String>,
    pub nickname: Option<String>,
    /// Minor units; `null` for a tiered price.
    pub unit_amount: Option<i64>,
    pub currency: String,
    /// `day`, `week`, `month` or `year`; `null` for one-time prices.
    pub interval: Option<String>,
    pub interval_count: Option<u32>,
}

impl From<ListedPrice> for StripePriceView {
    fn from(p: ListedPrice) -> Self {
        StripePriceView {
            id: p.id,
            product_id: p.product_id,
            product_name: p.product_name,
            nickname: p.nickname,
            unit_amount: p.unit_amount,
            currency: p.currency,
            interval: p.interval,
            interval_count: p.interval_count,
        }
    }
}

/// The account's active prices of one type.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StripePriceList {
    pub items: Vec<StripePriceView>,
    /// `true` when the account has more than the 300 listed.
    pub truncated: bool,
}

/// The active prices of `kind` in the Stripe account of app `app_id`, from Stripe.
pub async fn list_prices(
    s: &Services,
    c: &Caller,
    app_id: &str,
    kind: PriceType,
) -> Result<StripePriceList> {
    let app = s
        .store
        .get_tenant_app(&c.tenant_id, app_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("Stripe app {app_id}")))?;
    let secret = secret_key(s, &app).await?;
    let mut items = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = s
            .stripe
            .get(
                &secret,
                "prices",
                &catalog::price_list_query(kind, after.as_deref()),
            )
            .await?;
        let (prices, next) = catalog::price_page(&page)?;
        items.extend(prices.into_iter().map(StripePriceView::from));
        match next {
            Some(n) if items.len() < MAX_LISTED_PRICES => after = Some(n),
            more => {
                let truncated = more.is_some() || items.len() > MAX_LISTED_PRICES;
                items.truncate(MAX_LISTED_PRICES);
                return Ok(StripePriceList { items, truncated });
            }
        }
    }
}

/// `GET /api/stripe/apps/{appId}/prices` (`?type=recurring`, the default, or `one_time`).
pub async fn prices(s: &Services, req: &ApiRequest, app_id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let kind = match req.query_param("type") {
        None | Some("recurring") => PriceType::Recurring,
        Some("one_time") => PriceType::OneTime,
        Some(other) => {
            return Err(Error::validation(
                "type",
                format!("must be recurring or one_time, not {other:?}"),
            ))
        }
    };
    Ok(ApiResponse::ok(&list_prices(s, &c, app_id, kind).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_the_same_objects_for_the_same_request_only() {
        let p = Product::new("42", "t", "Pro", crate::time::now());
        let charge = |amount| Charge {
            mode: LinkMode::Payment,
            currency: "usd".into(),
            unit_amount: Some(amount),
            mapped: None,
        };
        let k = idempotency_key("link", "t", &p, "app", &charge(2999), 0);
        assert_eq!(k, idempotency_key("link", "t", &p, "app", &charge(2999), 0));
        assert!(k.starts_with("keyhook-plink-link-") && k.len() < 255);
        for other in [
            idempotency_key("price", "t", &p, "app", &charge(2999), 0),
            idempotency_key("link", "t2", &p, "app", &charge(2999), 0),
            idempotency_key("link", "t", &p, "app2", &charge(2999), 0),
            idempotency_key("link", "t", &p, "app", &charge(1999), 0),
            idempotency_key("link", "t", &p, "app", &charge(2999), 1),
        ] {
            assert_ne!(k, other);
        }
    }
}
