//! Subscription price mappings: a Stripe recurring price of an app, sold as a product.

use serde::{Deserialize, Serialize};

use super::{caller, ts};
use crate::domain::money::parse_price;
use crate::domain::PriceMapping;
use crate::http::auth::Caller;
use crate::http::input::{json_body, json_body_requiring, text_field, ListBody, ListQuery};
use crate::http::schema;
use crate::http::{ApiRequest, ApiResponse};
use crate::{ids, Error, Result, Services};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PriceMappingInput {
    /// A Stripe app of the tenant (404 when there is none).
    pub app_id: Option<String>,
    /// A product of the tenant (404 when there is none).
    pub product_id: Option<String>,
    #[schemars(extend("pattern" = schema::STRIPE_PRICE_ID))]
    pub stripe_price_id: Option<String>,
    /// `""` removes it.
    #[schemars(extend("pattern" = schema::EMPTY_OR_NON_BLANK, "maxLength" = 100))]
    pub display_name: Option<String>,
    /// `""` removes it.
    #[schemars(extend("pattern" = schema::EMPTY_OR_PRICE_3))]
    pub display_price: Option<String>,
}

/// Fields a create must carry.
pub const CREATE_REQUIRED: &[&str] = &["appId", "productId", "stripePriceId"];

#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PriceMappingView {
    pub id: String,
    pub app_id: String,
    pub product_id: String,
    pub stripe_price_id: String,
    pub display_name: Option<String>,
    pub display_price: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<PriceMapping> for PriceMappingView {
    fn from(m: PriceMapping) -> Self {
        PriceMappingView {
            id: m.id,
            app_id: m.app_id,
            product_id: m.product_id,
            stripe_price_id: m.stripe_price_id,
            display_name: m.display_name,
            display_price: m.display_price,
            created_at: ts(m.created_at),
            updated_at: ts(m.updated_at),
        }
    }
}

async fn apply(s: &Services, m: &mut PriceMapping, input: PriceMappingInput) -> Result<()> {
    if let Some(app_id) = input.app_id {
        if s.store
            .get_tenant_app(&m.tenant_id, &app_id)
            .await?
            .is_none()
        {
            return Err(Error::not_found(format!("Stripe app {app_id} (appId)")));
        }
        m.app_id = app_id;
    }
    if let Some(pid) = input.product_id {
        if s.store
            .get_tenant_product(&m.tenant_id, &pid)
            .await?
            .is_none()
        {
            return Err(Error::not_found(format!("Product {pid} (productId)")));
        }
        m.product_id = pid;
    }
    if let Some(price) = input.stripe_price_id {
        let price = price.trim().to_string();
        if !price.starts_with("price_")
            || price.len() < 8
            || price.len() > 255
            || !price.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(Error::validation(
                "stripePriceId",
                "must be a Stripe price id such as \"price_1PgafmB7WZ01zgkW6dKueIc5\"",
            ));
        }
        m.stripe_price_id = price;
    }
    if let Some(name) = input.display_name {
        m.display_name = if name.trim().is_empty() {
            None
        } else {
            Some(text_field("displayName", &name, 100)?)
        };
    }
    if let Some(price) = input.display_price {
        m.display_price = if price.trim().is_empty() {
            None
        } else {
            Some(parse_price("displayPrice", &price, 3)?)
        };
    }
    Ok(())
}

/// Maps a Stripe price of one of the tenant's apps to one of its products.
pub async fn create_price_mapping(
    s: &Services,
    c: &Caller,
    input: PriceMappingInput,
) -> Result<PriceMappingView> {
    for (field, missing) in [
        ("appId", input.app_id.is_none()),
        ("productId", input.product_id.is_none()),
        ("stripePriceId", input.stripe_price_id.is_none()),
    ] {
        if missing {
            return Err(Error::validation(field, "is required"));
        }
    }
    let now = crate::time::now();
    let mut m = PriceMapping {
        id: ids::new_id("pm"),
        tenant_id: c.tenant_id.clone(),
        app_id: String::new(),
        product_id: String::new(),
        stripe_price_id: String::new(),
        display_name: None,
        display_price: None,
        created_at: now,
        updated_at: now,
    };
    apply(s, &mut m, input).await?;
    s.store.put_price_mapping(&m).await?;
    Ok(PriceMappingView::from(m))
}

/// `POST /api/stripe/price-mappings`.
pub async fn create(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let input: PriceMappingInput = json_body_requiring(req, CREATE_REQUIRED)?;
    Ok(ApiResponse::created(
        &create_price_mapping(s, &c, input).await?,
    ))
}

async fn load(s: &Services, tenant_id: &str, id: &str) -> Result<PriceMapping> {
    s.store
        .get_price_mapping(tenant_id, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("Price mapping {id}")))
}

/// One price mapping of the caller's tenant.
pub async fn get_price_mapping(s: &Services, c: &Caller, id: &str) -> Result<PriceMappingView> {
    Ok(PriceMappingView::from(load(s, &c.tenant_id, id).await?))
}

/// `GET /api/stripe/price-mappings/{id}`.
pub async fn get(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    Ok(ApiResponse::ok(&get_price_mapping(s, &c, id).await?))
}

/// Changes a price mapping: absent fields keep their value.
pub async fn update_price_mapping(
    s: &Services,
    c: &Caller,
    id: &str,
    input: PriceMappingInput,
) -> Result<PriceMappingView> {
    let mut m = load(s, &c.tenant_id, id).await?;
    apply(s, &mut m, input).await?;
    m.updated_at = crate::time::now();
    s.store.put_price_mapping(&m).await?;
    Ok(PriceMappingView::from(m))
}

/// `PUT /api/stripe/price-mappings/{id}`.
pub async fn update(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let input: PriceMappingInput = json_body(req)?;
    Ok(ApiResponse::ok(
        &update_price_mapping(s, &c, id, input).await?,
    ))
}

/// Deletes a price mapping.
pub async fn delete_price_mapping(s: &Services, c: &Caller, id: &str) -> Result<()> {
    if !s.store.delete_price_mapping(&c.tenant_id, id).await? {
        return Err(Error::not_found(format!("Price mapping {id}")));
    }
    Ok(())
}

/// `DELETE /api/stripe/price-mappings/{id}`.
pub async fn delete(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    delete_price_mapping(s, &c, id).await?;
    Ok(ApiResponse::no_content())
}

/// A page of price mappings, filtered to one product and one app where given.
#[derive(Debug, Clone, Default)]
pub struct PriceMappingQuery {
    pub page: ListQuery,
    /// `?productId=`.
    pub product_id: Option<String>,
    /// `?appId=`.
    pub app_id: Option<String>,
}

impl PriceMappingQuery {
    pub fn from_request(req: &ApiRequest) -> Result<Self> {
        Ok(PriceMappingQuery {
            page: ListQuery::from_request(req)?,
            product_id: req.query_param("productId").map(str::to_string),
            app_id: req.query_param("appId").map(str::to_string),
        })
    }
}

/// A page of the caller's price mappings; the filters apply within the page.
pub async fn list_price_mappings(
    s: &Services,
    c: &Caller,
    query: PriceMappingQuery,
) -> Result<ListBody<PriceMappingView>> {
    let mut page = s
        .store
        .list_price_mappings(&c.tenant_id, query.page.limit, query.page.cursor.as_deref())
        .await?;
    if let Some(p) = &query.product_id {
        page.items.retain(|m| &m.product_id == p);
    }
    if let Some(a) = &query.app_id {
        page.items.retain(|m| &m.app_id == a);
    }
    Ok(ListBody::from_page(page, PriceMappingView::from))
}

/// `GET /api/stripe/price-mappings` (`?productId=`, `?appId=` filter the page).
pub async fn list(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let query = PriceMappingQuery::from_request(req)?;
    Ok(ApiResponse::ok(&list_price_mappings(s, &c, query).await?))
}
