//! Records that live only in a tenant's partition (`pk = TENANT#<id>`, `sk = <KIND>#<id>`):
//! plans, price mappings, currency settings, tenant keys. One generic mechanism serves them all.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{de::DeserializeOwned, Serialize};

use super::{dynamo_err, table_keys, Page, Store};
use crate::Result;

impl Store {
    /// Writes a tenant record (create or replace).
    pub(crate) async fn put_tenant_item<T: Serialize>(
        &self,
        tenant_id: &str,
        kind: &str,
        id: &str,
        record: &T,
    ) -> Result<()> {
        let item = Self::item(
            record,
            (
                table_keys::tenant_partition(tenant_id),
                format!("{kind}{id}"),
            ),
        )?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(dynamo_err)?;
        Ok(())
    }

    pub(crate) async fn get_tenant_item<T: DeserializeOwned>(
        &self,
        tenant_id: &str,
        kind: &str,
        id: &str,
    ) -> Result<Option<T>> {
        self.get((
            table_keys::tenant_partition(tenant_id),
            format!("{kind}{id}"),
        ))
        .await
    }

    /// Deletes a tenant record; `Ok(false)` when there was none.
    pub(crate) async fn delete_tenant_item(
        &self,
        tenant_id: &str,
        kind: &str,
        id: &str,
    ) -> Result<bool> {
        self.delete_owned(
            (
                table_keys::tenant_partition(tenant_id),
                format!("{kind}{id}"),
            ),
            tenant_id,
        )
        .await
    }

    /// One page of a tenant's records of a kind, in id order; the cursor is the last id.
    pub(crate) async fn list_tenant_items<T: DeserializeOwned>(
        &self,
        tenant_id: &str,
        kind: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<T>> {
        let partition = table_keys::tenant_partition(tenant_id);
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :kind)")
            .expression_attribute_values(":pk", AttributeValue::S(partition.clone()))
            .expression_attribute_values(":kind", AttributeValue::S(kind.into()))
            .limit(limit as i32)
            .set_exclusive_start_key(cursor.map(|c| {
                [
                    ("pk".to_string(), AttributeValue::S(partition.clone())),
                    ("sk".to_string(), AttributeValue::S(format!("{kind}{c}"))),
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
            .collect::<Result<Vec<T>>>()?;
        let next_cursor = out
            .last_evaluated_key
            .and_then(|k| k.get("sk").and_then(|v| v.as_s().ok()).cloned())
            .map(|sk| sk.trim_start_matches(kind).to_string());
        Ok(Page { items, next_cursor })
    }

    /// Every record of a kind (for small sets: currencies, keys).
    pub(crate) async fn all_tenant_items<T: DeserializeOwned>(
        &self,
        tenant_id: &str,
        kind: &str,
    ) -> Result<Vec<T>> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self
                .list_tenant_items(tenant_id, kind, 500, cursor.as_deref())
                .await?;
            all.extend(page.items);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(all),
            }
        }
    }
}
