//! Plans and price mappings: tenant-partition records (see `tenant_items`).

use super::table_keys::kind;
use super::{Page, Store};
use crate::domain::{Plan, PriceMapping};
use crate::Result;

impl Store {
    pub async fn put_plan(&self, plan: &Plan) -> Result<()> {
        self.put_tenant_item(&plan.tenant_id, kind::PLAN, &plan.id, plan)
            .await
    }

    pub async fn get_plan(&self, tenant_id: &str, plan_id: &str) -> Result<Option<Plan>> {
        self.get_tenant_item(tenant_id, kind::PLAN, plan_id).await
    }

    pub async fn delete_plan(&self, tenant_id: &str, plan_id: &str) -> Result<bool> {
        self.delete_tenant_item(tenant_id, kind::PLAN, plan_id)
            .await
    }

    pub async fn list_plans(
        &self,
        tenant_id: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Plan>> {
        self.list_tenant_items(tenant_id, kind::PLAN, limit, cursor)
            .await
    }

    pub async fn put_price_mapping(&self, m: &PriceMapping) -> Result<()> {
        self.put_tenant_item(&m.tenant_id, kind::PRICE_MAPPING, &m.id, m)
            .await
    }

    pub async fn get_price_mapping(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<PriceMapping>> {
        self.get_tenant_item(tenant_id, kind::PRICE_MAPPING, id)
            .await
    }

    pub async fn delete_price_mapping(&self, tenant_id: &str, id: &str) -> Result<bool> {
        self.delete_tenant_item(tenant_id, kind::PRICE_MAPPING, id)
            .await
    }

    pub async fn list_price_mappings(
        &self,
        tenant_id: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<PriceMapping>> {
        self.list_tenant_items(tenant_id, kind::PRICE_MAPPING, limit, cursor)
            .await
    }

    /// Every mapping of a tenant (checkout picks among them; they are few).
    pub async fn all_price_mappings(&self, tenant_id: &str) -> Result<Vec<PriceMapping>> {
        self.all_tenant_items(tenant_id, kind::PRICE_MAPPING).await
    }
}
