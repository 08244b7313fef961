//! Product aliases (`externalIds`): one item per alias in the tenant's partition, written in
//! the same transaction as the product, each on the condition that the alias is free, so an
//! alias names at most one product of a tenant. Resolving a product reference (a Keyhook id or
//! an alias) is one BatchGetItem of both candidates; an alias wins, since a merchant set it on
//! purpose (and Keyhook's global ids could one day equal it).

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use serde::{Deserialize, Serialize};

use super::{dynamo_err, table_keys, Store};
use crate::domain::Product;
use crate::{Error, Result};

/// The stored alias.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductAlias {
    pub tenant_id: String,
    pub external_id: String,
    pub product_id: String,
}

impl Store {
    fn alias_put(&self, p: &Product, external_id: &str) -> Result<TransactWriteItem> {
        let record = ProductAlias {
            tenant_id: p.tenant_id.clone(),
            external_id: external_id.to_string(),
            product_id: p.id.clone(),
        };
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(Self::item(
                &record,
                table_keys::product_alias(&p.tenant_id, external_id),
            )?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| Error::internal(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn alias_delete(&self, p: &Product, external_id: &str) -> Result<TransactWriteItem> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::product_alias(
                &p.tenant_id,
                external_id,
            ))))
            .condition_expression("productId = :p")
            .expression_attribute_values(":p", AttributeValue::S(p.id.clone()))
            .build()
            .map_err(|e| Error::internal(e.to_string()))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// Writes a product and its alias changes in one transaction: `product` is the product's
    /// own write (first), `added` aliases must be free, `removed` ones must be this product's.
    /// A taken alias is a `409` naming it and the product that has it.
    async fn write_with_aliases(
        &self,
        p: &Product,
        product: TransactWriteItem,
        added: &[String],
        removed: &[String],
    ) -> Result<()> {
        let mut items = vec![product];
        for a in added {
            items.push(self.alias_put(p, a)?);
        }
        for a in removed {
            items.push(self.alias_delete(p, a)?);
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        self.caches.products.invalidate_all();
        let Err(e) = result else { return Ok(()) };
        let reasons: Vec<Option<String>> = match e.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(c)) => c
                .cancellation_reasons()
                .iter()
                .map(|r| r.code().map(str::to_string))
                .collect(),
            _ => return Err(dynamo_err(e)),
        };
        let failed =
            |i: usize| reasons.get(i).and_then(|r| r.as_deref()) == Some("ConditionalCheckFailed");
        if failed(0) {
            return Err(Error::not_found(format!("Product {}", p.id)));
        }
        for (i, a) in added.iter().enumerate() {
            if failed(i + 1) {
                let owner = self
                    .get::<ProductAlias>(table_keys::product_alias(&p.tenant_id, a))
                    .await?
                    .map(|o| o.product_id)
                    .unwrap_or_else(|| "another product".into());
                return Err(Error::Conflict(format!(
                    "externalIds: {a:?} is already an external id of product {owner}"
                )));
            }
        }
        if reasons
            .iter()
            .any(|r| r.as_deref() == Some("ConditionalCheckFailed"))
        {
            return Err(Error::Conflict(
                "the product's external ids changed meanwhile; read it and try again".into(),
            ));
        }
        Err(Error::aws(
            "dynamodb",
            "the product write was cancelled; retry",
        ))
    }

    /// Creates a product with its aliases.
    pub async fn create_product_with_aliases(&self, p: &Product) -> Result<()> {
        if p.external_ids.is_empty() {
            return self.create_product(p).await;
        }
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(Self::product_item(p)?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| Error::internal(e.to_string()))?;
        self.write_with_aliases(
            p,
            TransactWriteItem::builder().put(put).build(),
            &p.external_ids,
            &[],
        )
        .await
    }

    /// Updates a product whose aliases were `before`, as [`Store::update_product`]: `false`
    /// when somebody wrote it since it was read (or it is gone).
    pub async fn update_product_with_aliases(
        &self,
        p: &Product,
        before: &[String],
    ) -> Result<bool> {
        let added: Vec<String> = p
            .external_ids
            .iter()
            .filter(|a| !before.contains(a))
            .cloned()
            .collect();
        let removed: Vec<String> = before
            .iter()
            .filter(|a| !p.external_ids.contains(a))
            .cloned()
            .collect();
        if added.is_empty() && removed.is_empty() {
            return self.update_product(p).await;
        }
        let (condition, names, values) = Self::product_read_at(p);
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(Self::next_product_item(p)?))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| Error::internal(e.to_string()))?;
        match self
            .write_with_aliases(
                p,
                TransactWriteItem::builder().put(put).build(),
                &added,
                &removed,
            )
            .await
        {
            Ok(()) => Ok(true),
            // The product's own condition failed: written meanwhile, or gone.
            Err(Error::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes a product and its aliases. `Ok(false)` when there was no such product.
    pub async fn delete_product_with_aliases(&self, p: &Product) -> Result<bool> {
        if p.external_ids.is_empty() {
            return self.delete_product(&p.tenant_id, &p.id).await;
        }
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::product(&p.id))))
            .condition_expression("attribute_exists(pk) AND tenantId = :t")
            .expression_attribute_values(":t", AttributeValue::S(p.tenant_id.clone()))
            .build()
            .map_err(|e| Error::internal(e.to_string()))?;
        match self
            .write_with_aliases(
                p,
                TransactWriteItem::builder().delete(delete).build(),
                &[],
                &p.external_ids,
            )
            .await
        {
            Ok(()) => Ok(true),
            Err(Error::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// [`Store::resolve_product`] through this process's product cache (`read_cache`): a
    /// product found is reused for `KEYHOOK_PRODUCT_CACHE_SECONDS` (10 s); a product write
    /// made through this process clears the cache. For the purchase webhook's hot path.
    pub async fn resolve_product_cached(
        &self,
        tenant_id: &str,
        reference: &str,
    ) -> Result<Option<Product>> {
        let key = (tenant_id.to_string(), reference.to_string());
        if let Some(p) = self.caches.products.get(&key) {
            return Ok(Some(p));
        }
        let product = self.resolve_product(tenant_id, reference).await?;
        if let Some(p) = &product {
            self.caches.products.insert(key, p.clone());
        }
        Ok(product)
    }

    /// The tenant's product that `reference` names: an alias of one, else its Keyhook id.
    /// One BatchGetItem (plus one read of the aliased product).
    pub async fn resolve_product(
        &self,
        tenant_id: &str,
        reference: &str,
    ) -> Result<Option<Product>> {
        let alias_key = table_keys::product_alias(tenant_id, reference);
        let mut product: Option<Product> = None;
        let mut alias: Option<ProductAlias> = None;
        for item in self
            .batch_get(vec![table_keys::product(reference), alias_key.clone()])
            .await?
        {
            let is_alias = matches!(item.get(table_keys::SK), Some(AttributeValue::S(sk)) if *sk == alias_key.1);
            if is_alias {
                alias = Some(Self::record(item)?);
            } else {
                let p: Product = Self::record(item)?;
                if p.tenant_id == tenant_id {
                    product = Some(p);
                }
            }
        }
        match alias {
            None => Ok(product),
            Some(a) if product.as_ref().is_some_and(|p| p.id == a.product_id) => Ok(product),
            Some(a) => self.get_tenant_product(tenant_id, &a.product_id).await,
        }
    }
}
