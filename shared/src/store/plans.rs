//! Plans live in their tenant's partition.

use aws_sdk_dynamodb::types::AttributeValue;

use super::{dynamo_err, keys, Page, Store};
use crate::domain::Plan;
use crate::Result;

impl Store {
    pub async fn put_plan(&self, plan: &Plan) -> Result<()> {
        let item = Self::item(plan, keys::plan(&plan.tenant_id, &plan.id))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(dynamo_err)?;
        Ok(())
    }

    pub async fn get_plan(&self, tenant_id: &str, plan_id: &str) -> Result<Option<Plan>> {
        self.get(keys::plan(tenant_id, plan_id)).await
    }

    pub async fn delete_plan(&self, tenant_id: &str, plan_id: &str) -> Result<bool> {
        self.delete_owned(keys::plan(tenant_id, plan_id), tenant_id)
            .await
    }

    pub async fn list_plans(
        &self,
        tenant_id: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Plan>> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
            .expression_attribute_values(
                ":pk",
                AttributeValue::S(keys::tenant_partition(tenant_id)),
            )
            .expression_attribute_values(":p", AttributeValue::S("PLAN#".into()))
            .limit(limit as i32)
            .set_exclusive_start_key(cursor.map(|c| {
                [
                    (
                        "pk".to_string(),
                        AttributeValue::S(keys::tenant_partition(tenant_id)),
                    ),
                    ("sk".to_string(), AttributeValue::S(format!("PLAN#{c}"))),
                ]
                .into()
            }))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo_err)?;
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(Self::record)
            .collect::<Result<Vec<Plan>>>()?;
        let next_cursor = out
            .last_evaluated_key
            .and_then(|k| k.get("sk").and_then(|v| v.as_s().ok()).cloned())
            .map(|sk| sk.trim_start_matches("PLAN#").to_string());
        Ok(Page { items, next_cursor })
    }
}
