//! Plans: named durations of a product, picked by `planId` metadata.

use serde::{Deserialize, Serialize};

use super::{caller, ts};
use crate::domain::Plan;
use crate::http::auth::Caller;
use crate::http::input::{json_body, json_body_requiring, text_field, ListBody, ListQuery};
use crate::http::{ApiRequest, ApiResponse};
use crate::{ids, Error, Result, Services};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanInput {
    /// A product of the tenant (404 when there is none).
    pub product_id: Option<String>,
    #[schemars(extend("pattern" = crate::http::schema::NON_BLANK, "maxLength" = 200))]
    pub name: Option<String>,
    #[schemars(extend("maximum" = MAX_DAYS))]
    pub days: Option<u32>,
}

/// Longest plan, in days.
const MAX_DAYS: u32 = 100_000;

/// Fields a create must carry.
pub const CREATE_REQUIRED: &[&str] = &["productId", "name", "days"];

#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanView {
    pub id: String,
    pub product_id: String,
    pub name: String,
    pub days: u32,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Plan> for PlanView {
    fn from(p: Plan) -> Self {
        PlanView {
            id: p.id,
            product_id: p.product_id,
            name: p.name,
            days: p.days,
            created_at: ts(p.created_at),
            updated_at: ts(p.updated_at),
        }
    }
}

async fn apply(s: &Services, plan: &mut Plan, input: PlanInput) -> Result<()> {
    if let Some(pid) = input.product_id {
        if s.store
            .get_tenant_product(&plan.tenant_id, &pid)
            .await?
            .is_none()
        {
            return Err(Error::not_found(format!("Product {pid} (productId)")));
        }
        plan.product_id = pid;
    }
    if let Some(name) = &input.name {
        plan.name = text_field("name", name, 200)?;
    }
    if let Some(days) = input.days {
        if days > MAX_DAYS {
            return Err(Error::validation("days", "must be at most 100000"));
        }
        plan.days = days;
    }
    Ok(())
}

/// Creates a plan of one of the tenant's products.
pub async fn create_plan(s: &Services, c: &Caller, input: PlanInput) -> Result<PlanView> {
    for (field, missing) in [
        ("productId", input.product_id.is_none()),
        ("name", input.name.is_none()),
        ("days", input.days.is_none()),
    ] {
        if missing {
            return Err(Error::validation(field, "is required"));
        }
    }
    let now = crate::time::now();
    let mut plan = Plan {
        id: ids::new_id("pln"),
        tenant_id: c.tenant_id.clone(),
        product_id: String::new(),
        name: String::new(),
        days: 0,
        created_at: now,
        updated_at: now,
    };
    apply(s, &mut plan, input).await?;
    s.store.put_plan(&plan).await?;
    Ok(PlanView::from(plan))
}

/// `POST /api/plans`.
pub async fn create(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let input: PlanInput = json_body_requiring(req, CREATE_REQUIRED)?;
    Ok(ApiResponse::created(&create_plan(s, &c, input).await?))
}

async fn load(s: &Services, tenant_id: &str, id: &str) -> Result<Plan> {
    s.store
        .get_plan(tenant_id, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("Plan {id}")))
}

/// One plan of the caller's tenant.
pub async fn get_plan(s: &Services, c: &Caller, id: &str) -> Result<PlanView> {
    Ok(PlanView::from(load(s, &c.tenant_id, id).await?))
}

/// `GET /api/plans/{planId}`.
pub async fn get(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    Ok(ApiResponse::ok(&get_plan(s, &c, id).await?))
}

/// Changes a plan: absent fields keep their value.
pub async fn update_plan(s: &Services, c: &Caller, id: &str, input: PlanInput) -> Result<PlanView> {
    let mut plan = load(s, &c.tenant_id, id).await?;
    apply(s, &mut plan, input).await?;
    plan.updated_at = crate::time::now();
    s.store.put_plan(&plan).await?;
    Ok(PlanView::from(plan))
}

/// `PUT /api/plans/{planId}`.
pub async fn update(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let input: PlanInput = json_body(req)?;
    Ok(ApiResponse::ok(&update_plan(s, &c, id, input).await?))
}

/// Deletes a plan.
pub async fn delete_plan(s: &Services, c: &Caller, id: &str) -> Result<()> {
    if !s.store.delete_plan(&c.tenant_id, id).await? {
        return Err(Error::not_found(format!("Plan {id}")));
    }
    Ok(())
}

/// `DELETE /api/plans/{planId}`.
pub async fn delete(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    delete_plan(s, &c, id).await?;
    Ok(ApiResponse::no_content())
}

/// A page of the caller's plans.
pub async fn list_plans(s: &Services, c: &Caller, query: ListQuery) -> Result<ListBody<PlanView>> {
    let page = s
        .store
        .list_plans(&c.tenant_id, query.limit, query.cursor.as_deref())
        .await?;
    Ok(ListBody::from_page(page, PlanView::from))
}

/// `GET /api/plans`.
pub async fn list(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let query = ListQuery::from_request(req)?;
    Ok(ApiResponse::ok(&list_plans(s, &c, query).await?))
}
