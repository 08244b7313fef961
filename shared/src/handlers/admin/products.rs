//! Products: create, read, update, delete. A product that has issued licenses cannot be
//! deleted (its licenses would lose their product); archive it instead (`archived: true`),
//! which stops new sales and keeps existing licenses working.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{caller, merge, ts};
use crate::domain::money::parse_price;
use crate::domain::product::ChargebackAction;
use crate::domain::product::{MAX_FILE_TTL_SECONDS, MIN_FILE_TTL_SECONDS};
use crate::domain::validation::leases;
use crate::domain::validation::meters::{self, Meter};
use crate::domain::{EmailTemplate, ExpirationStart, ListedProducts, Product, RenewalMode};
use crate::http::auth::Caller;
use crate::http::input::{json_body, json_body_requiring, text_field, ListBody, ListQuery};
use crate::http::schema;
use crate::http::{ApiRequest, ApiResponse};
use crate::store::Filter;
use crate::{Error, Result, Services};

/// Create and update body; on update, absent fields keep their value.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductInput {
    #[schemars(extend("pattern" = schema::NON_BLANK, "maxLength" = 200))]
    pub name: Option<String>,
    /// In the currency of the app that sells it, up to 2 decimals (`"29.99"`).
    #[schemars(extend("pattern" = schema::PRICE_2))]
    pub price: Option<String>,
    /// Prices in other currencies by lowercase code (`{"eur": "27.00"}`); replaces the whole
    /// set. A checkout in a currency other than the app's needs one.
    #[schemars(extend("maxProperties" = MAX_PRICES, "propertyNames" = {"pattern": schema::CURRENCY_CODE}, "additionalProperties" = {"type": "string", "pattern": schema::PRICE_3}))]
    pub prices: Option<BTreeMap<String, String>>,
    pub auto_email: Option<bool>,
    /// Days a license runs; `0` = perpetual whatever the metadata says; `null` = not set (the
    /// purchase's metadata decides, else perpetual).
    #[serde(default, deserialize_with = "double_option")]
    #[schemars(with = "Option<u32>", extend("maximum" = MAX_DAYS))]
    pub default_license_days: Option<Option<u32>>,
    #[schemars(extend("maximum" = MAX_DAYS))]
    pub trial_days: Option<u32>,
    pub max_devices: Option<u32>,
    pub max_ips: Option<u32>,
    pub expiration_start: Option<ExpirationStart>,
    pub renewal_mode: Option<RenewalMode>,
    /// `null` removes the product's template (the default one is used).
    #[serde(default, deserialize_with = "double_option")]
    #[schemars(with = "Option<EmailTemplate>")]
    pub email_template: Option<Option<EmailTemplate>>,
    pub archived: Option<bool>,
    /// Days a subscription license keeps working after a failed renewal (default 3).
    #[schemars(extend("maximum" = MAX_GRACE_DAYS))]
    pub grace_days: Option<u32>,
    /// What a full refund does: `revoke` (default), `suspend` or `ignore`.
    pub refund_action: Option<ChargebackAction>,
    /// What a dispute does: `suspend` (default), `revoke` or `ignore`.
    pub dispute_action: Option<ChargebackAction>,
    /// Other ids of this product in Stripe metadata (e.g. its Lukittu or ExisOne id), unique
    /// per tenant; replaces the list.
    #[schemars(extend("maxItems" = MAX_EXTERNAL_IDS, "uniqueItems" = true, "items" = {"type": "string", "pattern": EXTERNAL_ID_PATTERN, "maxLength": crate::stripe::metadata::MAX_PRODUCT_REF_CHARS}))]
    pub external_ids: Option<Vec<String>>,
    /// When a Stripe Product's `product_id` lists several products with this one first:
    /// `separate` (default) licenses, or `one_license` valid for all of them.
    pub listed_products: Option<ListedProducts>,
    /// Whether test-mode licenses validate without `"environment": "test"` (default false).
    pub accept_test_licenses: Option<bool>,
    /// Features the product grants (1–64 characters each, at most 100), carried in license
    /// files.
    #[schemars(extend("maxItems" = MAX_ENTITLEMENTS, "items" = {"type": "string", "pattern": schema::NON_BLANK, "maxLength": MAX_ENTITLEMENT_CHARS}))]
    pub entitlements: Option<Vec<String>>,
    /// Lifetime of a license file when the app asks for none, in seconds (default 604800 = 7
    /// days; 3600 to `licenseFileMaxTtl`).
    #[schemars(extend("minimum" = MIN_FILE_TTL_SECONDS, "maximum" = MAX_FILE_TTL_SECONDS))]
    pub license_file_ttl: Option<u32>,
    /// Longest lifetime an app may ask a license file for, in seconds (default 2592000 = 30
    /// days; at most 31622400 = 366 days).
    #[schemars(extend("minimum" = MIN_FILE_TTL_SECONDS, "maximum" = MAX_FILE_TTL_SECONDS))]
    pub license_file_max_ttl: Option<u32>,
    /// Floating licenses: devices that may hold a lease at once (1 to 1,000); `null`: not
    /// floating (the default).
    #[serde(default, deserialize_with = "double_option")]
    #[schemars(with = "Option<u32>", extend("minimum" = 1, "maximum" = leases::MAX_CONCURRENT))]
    pub max_concurrent: Option<Option<u32>>,
    /// A lease lapses this long after its last heartbeat, in seconds (10 to 86,400; `null`:
    /// the default, 900).
    #[serde(default, deserialize_with = "double_option")]
    #[schemars(with = "Option<u32>", extend("minimum" = leases::MIN_LEASE_SECONDS, "maximum" = leases::MAX_LEASE_SECONDS))]
    pub lease_seconds: Option<Option<u32>>,
    /// Longest a lease may be borrowed for offline use, in seconds (at most 2,592,000 = 30
    /// days; `null` or 0: no borrowing).
    #[serde(default, deserialize_with = "double_option")]
    #[schemars(with = "Option<u32>", extend("maximum" = leases::MAX_BORROW_SECONDS))]
    pub max_borrow_seconds: Option<Option<u32>>,
    /// Usage limits: at most 20 meters with unique names; replaces the list.
    #[schemars(extend("maxItems" = meters::MAX_METERS))]
    pub meters: Option<Vec<Meter>>,
}

fn double_option<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductView {
    pub id: String,
    pub name: String,
    pub price: String,
    pub prices: BTreeMap<String, String>,
    pub auto_email: bool,
    /// `null`: not set (the metadata decides, else perpetual); `0`: perpetual.
    pub default_license_days: Option<u32>,
    pub trial_days: u32,
    pub max_devices: u32,
    pub max_ips: u32,
    pub expiration_start: ExpirationStart,
    pub renewal_mode: RenewalMode,
    pub email_template: Option<EmailTemplate>,
    pub archived: bool,
    pub grace_days: u32,
    pub refund_action: ChargebackAction,
    pub dispute_action: ChargebackAction,
    pub external_ids: Vec<String>,
    pub listed_products: ListedProducts,
    pub accept_test_licenses: bool,
    pub entitlements: Vec<String>,
    pub license_file_ttl: u32,
    pub license_file_max_ttl: u32,
    /// The product's Stripe Payment Links, one per app at most
    /// (`POST /api/products/{productId}/payment-link`).
    pub payment_links: Vec<super::payment_links::PaymentLinkView>,
    pub max_concurrent: Option<u32>,
    pub lease_seconds: Option<u32>,
    pub max_borrow_seconds: Option<u32>,
    pub meters: Vec<Meter>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Product> for ProductView {
    fn from(p: Product) -> Self {
        ProductView {
            id: p.id,
            name: p.name,
            price: p.price,
            prices: p.prices,
            auto_email: p.auto_email,
            default_license_days: p.default_license_days,
            trial_days: p.trial_days,
            max_devices: p.max_devices,
            max_ips: p.max_ips,
            expiration_start: p.expiration_start,
            renewal_mode: p.renewal_mode,
            email_template: p.email_template,
            archived: p.archived,
            grace_days: p.grace_days,
            refund_action: p.refund_action,
            dispute_action: p.dispute_action,
            external_ids: p.external_ids,
            listed_products: p.listed_products,
            accept_test_licenses: p.accept_test_licenses,
            entitlements: p.entitlements,
            license_file_ttl: p.license_file_ttl,
            license_file_max_ttl: p.license_file_max_ttl,
            payment_links: p
                .payment_links
                .iter()
                .map(|l| super::payment_links::PaymentLinkView::of(l, false))
                .collect(),
            max_concurrent: p.max_concurrent,
            lease_seconds: p.lease_seconds,
            max_borrow_seconds: p.max_borrow_seconds,
            meters: p.meters,
            created_at: ts(p.created_at),
            updated_at: ts(p.updated_at),
        }
    }
}

/// Most currencies one product is priced in.
const MAX_PRICES: usize = 50;

/// Largest value of the day and limit fields (about 270 years; keeps dates representable).
const MAX_DAYS: u32 = 100_000;

/// Most aliases one product may have.
const MAX_EXTERNAL_IDS: usize = 20;

/// Most days of grace after a failed renewal.
const MAX_GRACE_DAYS: u32 = 365;

/// Most entitlements of a product, and characters of each.
const MAX_ENTITLEMENTS: usize = 100;
const MAX_ENTITLEMENT_CHARS: usize = 64;

/// An alias: printable, no comma, no whitespace at either end.
const EXTERNAL_ID_PATTERN: &str =
    "^[^\\x00-\\x1f\\x7f-\\x9f,\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000](?:[^\\x00-\\x1f\\x7f-\\x9f,]*[^\\x00-\\x1f\\x7f-\\x9f,\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000])?$";

/// Fields a create must carry.
pub const CREATE_REQUIRED: &[&str] = &["name"];

/// Checks a product's aliases: trimmed, 1 to 100 printable characters, no commas (Lukittu's
/// `product_id` lists are comma-separated), no duplicates.
fn external_ids(ids: Vec<String>) -> Result<Vec<String>> {
    if ids.len() > MAX_EXTERNAL_IDS {
        return Err(Error::validation(
            "externalIds",
            format!("at most {MAX_EXTERNAL_IDS} external ids"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        let id = id.trim().to_string();
        if !crate::stripe::metadata::is_product_ref(&id) || id.contains(',') {
            return Err(Error::validation(
                "externalIds",
                format!("{id:?} must be 1 to 100 printable characters without commas"),
            ));
        }
        if out.contains(&id) {
            return Err(Error::validation(
                "externalIds",
                format!("{id:?} is listed twice"),
            ));
        }
        out.push(id);
    }
    Ok(out)
}

fn apply(p: &mut Product, input: ProductInput) -> Result<()> {
    apply_client_fields(p, &input)?;
    if let Some(name) = &input.name {
        p.name = text_field("name", name, 200)?;
    }
    if let Some(price) = &input.price {
        p.price = parse_price("price", price, 2)?;
    }
    if let Some(prices) = input.prices {
        if prices.len() > MAX_PRICES {
            return Err(Error::validation(
                "prices",
                format!("has more than {MAX_PRICES} currencies"),
            ));
        }
        let mut checked = BTreeMap::new();
        for (code, price) in prices {
            if !crate::domain::currency::is_code(&code) {
                return Err(Error::validation(
                    format!("prices.{code}"),
                    "keys must be lowercase ISO 4217 codes such as \"eur\"",
                ));
            }
            let price = parse_price(&format!("prices.{code}"), &price, 3)?;
            checked.insert(code, price);
        }
        p.prices = checked;
    }
    for (field, value) in [
        ("defaultLicenseDays", input.default_license_days.flatten()),
        ("trialDays", input.trial_days),
    ] {
        if value.is_some_and(|v| v > MAX_DAYS) {
            return Err(Error::validation(
                field,
                format!("must be at most {MAX_DAYS}"),
            ));
        }
    }
    p.auto_email = merge(p.auto_email, input.auto_email);
    p.default_license_days = merge(p.default_license_days, input.default_license_days);
    p.trial_days = merge(p.trial_days, input.trial_days);
    p.max_devices = merge(p.max_devices, input.max_devices);
    p.max_ips = merge(p.max_ips, input.max_ips);
    p.expiration_start = merge(p.expiration_start, input.expiration_start);
    p.renewal_mode = merge(p.renewal_mode, input.renewal_mode);
    p.archived = merge(p.archived, input.archived);
    if input.grace_days.is_some_and(|d| d > MAX_GRACE_DAYS) {
        return Err(Error::validation("graceDays", "must be at most 365"));
    }
    p.grace_days = merge(p.grace_days, input.grace_days);
    p.refund_action = merge(p.refund_action, input.refund_action);
    p.dispute_action = merge(p.dispute_action, input.dispute_action);
    p.listed_products = merge(p.listed_products, input.listed_products);
    if let Some(ids) = input.external_ids {
        p.external_ids = external_ids(ids)?;
    }
    p.accept_test_licenses = merge(p.accept_test_licenses, input.accept_test_licenses);
    if let Some(t) = input.email_template {
        if let Some(t) = &t {
            text_field("emailTemplate.subject", &t.subject, 500)?;
            if t.html.trim().is_empty() && t.text.trim().is_empty() {
                return Err(Error::validation(
                    "emailTemplate",
                    "needs an html or a text body",
                ));
            }
            if !(t.html.contains("{{ActivationKey}}") || t.text.contains("{{ActivationKey}}")) {
                return Err(Error::validation(
                    "emailTemplate",
                    "must contain {{ActivationKey}}, or the buyer never sees their key",
                ));
            }
        }
        p.email_template = t;
    }
    Ok(())
}

/// Entitlements and license-file lifetimes.
fn apply_client_fields(p: &mut Product, input: &ProductInput) -> Result<()> {
    if let Some(list) = &input.entitlements {
        if list.len() > MAX_ENTITLEMENTS {
            return Err(Error::validation(
                "entitlements",
                "at most 100 entitlements",
            ));
        }
        let mut clean: Vec<String> = Vec::with_capacity(list.len());
        for e in list {
            let e = text_field("entitlements", e, MAX_ENTITLEMENT_CHARS)?;
            if !clean.contains(&e) {
                clean.push(e);
            }
        }
        p.entitlements = clean;
    }
    let max = input.license_file_max_ttl.unwrap_or(p.license_file_max_ttl);
    if !(MIN_FILE_TTL_SECONDS..=MAX_FILE_TTL_SECONDS).contains(&max) {
        return Err(Error::validation(
            "licenseFileMaxTtl",
            format!("must be {MIN_FILE_TTL_SECONDS} to {MAX_FILE_TTL_SECONDS} seconds"),
        ));
    }
    let ttl = input
        .license_file_ttl
        .unwrap_or(p.license_file_ttl.min(max));
    if !(MIN_FILE_TTL_SECONDS..=max).contains(&ttl) {
        // Within its own bounds (the schema's), but longer than the product's maximum.
        return Err(Error::conflict_at(
            "licenseFileTtl",
            format!("must be {MIN_FILE_TTL_SECONDS} seconds to licenseFileMaxTtl ({max})"),
        ));
    }
    p.license_file_max_ttl = max;
    p.license_file_ttl = ttl;
    let (concurrent, lease, borrow) = (
        input.max_concurrent.flatten(),
        input.lease_seconds.flatten(),
        input.max_borrow_seconds.flatten(),
    );
    leases::check_terms(concurrent, lease, borrow)
        .map_err(|(field, message)| Error::validation(field, message))?;
    p.max_concurrent = merge(p.max_concurrent, input.max_concurrent);
    p.lease_seconds = merge(p.lease_seconds, input.lease_seconds);
    p.max_borrow_seconds = merge(p.max_borrow_seconds, input.max_borrow_seconds);
    if let Some(list) = &input.meters {
        meters::check_meters(list).map_err(|refusal| match refusal {
            meters::MeterRefusal::Invalid(message) => Error::validation("meters", message),
            meters::MeterRefusal::NamedTwice(message) => Error::conflict_at("meters", message),
        })?;
        p.meters = list.clone();
    }
    Ok(())
}

/// Creates a product.
pub async fn create_product(s: &Services, c: &Caller, input: ProductInput) -> Result<ProductView> {
    let mut p = Product::new("", c.tenant_id.clone(), "", crate::time::now());
    apply(&mut p, input)?;
    p.id = s.store.next_product_id().await?;
    s.store.create_product_with_aliases(&p).await?;
    Ok(ProductView::from(p))
}

/// `POST /api/products`.
pub async fn create(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let input: ProductInput = json_body_requiring(req, CREATE_REQUIRED)?;
    Ok(ApiResponse::created(&create_product(s, &c, input).await?))
}

async fn load(s: &Services, tenant_id: &str, id: &str) -> Result<Product> {
    s.store
        .get_tenant_product(tenant_id, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("Product {id}")))
}

/// One product of the caller's tenant.
pub async fn get_product(s: &Services, c: &Caller, id: &str) -> Result<ProductView> {
    Ok(ProductView::from(load(s, &c.tenant_id, id).await?))
}

/// `GET /api/products/{productId}`.
pub async fn get(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    Ok(ApiResponse::ok(&get_product(s, &c, id).await?))
}

/// How many times a change is applied again to a product written meanwhile before the save
/// gives up with a conflict.
const SAVE_ATTEMPTS: usize = 10;

/// Changes a product: absent fields keep their value. The change is applied to the product as
/// read and written only if nobody wrote it since; if somebody did (another save, a payment
/// link), it is applied again to what they wrote, so neither undoes the other.
pub async fn update_product(
    s: &Services,
    c: &Caller,
    id: &str,
    input: ProductInput,
) -> Result<ProductView> {
    for _ in 0..SAVE_ATTEMPTS {
        let mut p = load(s, &c.tenant_id, id).await?;
        let aliases_before = p.external_ids.clone();
        apply(&mut p, input.clone())?;
        p.updated_at = crate::time::now();
        if s.store
            .update_product_with_aliases(&p, &aliases_before)
            .await?
        {
            return Ok(ProductView::from(p));
        }
    }
    Err(Error::Conflict(format!(
        "product {id} kept changing while it was saved; try again"
    )))
}

/// `PUT /api/products/{productId}`.
pub async fn update(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let input: ProductInput = json_body(req)?;
    Ok(ApiResponse::ok(&update_product(s, &c, id, input).await?))
}

/// Deletes a product that has issued no license (one that has is archived instead).
pub async fn delete_product(s: &Services, c: &Caller, id: &str) -> Result<()> {
    let product = load(s, &c.tenant_id, id).await?;
    let issued = s
        .store
        .list_licenses(
            &c.tenant_id,
            1,
            None,
            &[Filter {
                attribute: "productId",
                value: id.to_string(),
            }],
        )
        .await?;
    if !issued.items.is_empty() {
        return Err(Error::Conflict(format!(
            "product {id} has issued licenses; archive it instead (PUT {{\"archived\": true}})"
        )));
    }
    if !s.store.delete_product_with_aliases(&product).await? {
        return Err(Error::not_found(format!("Product {id}")));
    }
    Ok(())
}

/// `DELETE /api/products/{productId}`.
pub async fn delete(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    delete_product(s, &c, id).await?;
    Ok(ApiResponse::no_content())
}

/// A page of the caller's products.
pub async fn list_products(
    s: &Services,
    c: &Caller,
    query: ListQuery,
) -> Result<ListBody<ProductView>> {
    let page = s
        .store
        .list_products(&c.tenant_id, query.limit, query.cursor.as_deref())
        .await?;
    Ok(ListBody::from_page(page, ProductView::from))
}

/// `GET /api/products`.
pub async fn list(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let query = ListQuery::from_request(req)?;
    Ok(ApiResponse::ok(&list_products(s, &c, query).await?))
}
