//! Products. Keyed by their numeric id, unique across the deployment (validation names a
//! product without a tenant); listed per tenant through `gsi1`.

use aws_sdk_dynamodb::types::AttributeValue;

use super::{applied, table_keys, Page, Store};
use crate::domain::{Product, ProductPaymentLink};
use crate::{Error, Result};

impl Store {
    pub(crate) fn product_item(p: &Product) -> Result<super::Item> {
        let item = Self::item(p, table_keys::product(&p.id))?;
        // Zero-padded so that numeric ids list in numeric order.
        Ok(Self::with_gsi1(
            item,
            &p.tenant_id,
            format!("{}{:0>12}", table_keys::listing::PRODUCTS, p.id),
        ))
    }

    pub async fn create_product(&self, p: &Product) -> Result<()> {
        let created = self.put_new(Self::product_item(p)?).await;
        self.caches.products.invalidate_all();
        if !created? {
            return Err(Error::Conflict(format!("product {} already exists", p.id)));
        }
        Ok(())
    }

    /// Writes `p`, changed from the product as read at `p.version`, as the next version, if
    /// nobody wrote it since. `false` when somebody did (or it is gone): read it again, apply
    /// the change again and retry (`handlers::admin::products::update_product`).
    pub async fn update_product(&self, p: &Product) -> Result<bool> {
        let (condition, names, values) = Self::product_read_at(p);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::next_product_item(p)?))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        self.caches.products.invalidate_all();
        applied(result)
    }

    /// The item of the version after `p`'s.
    pub(crate) fn next_product_item(p: &Product) -> Result<super::Item> {
        let mut next = p.clone();
        next.version += 1;
        Self::product_item(&next)
    }

    /// The condition that the product is still the tenant's and still at the version `p` was
    /// read at (an item written before versions existed has none: version 0), with its names
    /// and values.
    pub(crate) fn product_read_at(
        p: &Product,
    ) -> (
        &'static str,
        std::collections::HashMap<String, String>,
        std::collections::HashMap<String, AttributeValue>,
    ) {
        let condition = if p.version == 0 {
            "attribute_exists(pk) AND tenantId = :t AND (attribute_not_exists(#ver) OR #ver = :ver)"
        } else {
            "attribute_exists(pk) AND tenantId = :t AND #ver = :ver"
        };
        (
            condition,
            std::collections::HashMap::from([("#ver".to_string(), "version".to_string())]),
            std::collections::HashMap::from([
                (":t".to_string(), AttributeValue::S(p.tenant_id.clone())),
                (":ver".to_string(), AttributeValue::N(p.version.to_string())),
            ]),
        )
    }

    /// Sets the payment links of `product` (as read), and nothing else of it, as its next
    /// version, if nobody wrote it since. `false` when somebody did, or it is gone, or it is not
    /// the tenant's.
    pub async fn set_product_payment_links(
        &self,
        product: &Product,
        links: &[ProductPaymentLink],
    ) -> Result<bool> {
        let list: AttributeValue = serde_dynamo::to_attribute_value(links)
            .map_err(|e| Error::internal(format!("payment links do not serialise: {e}")))?;
        let (condition, names, mut values) = Self::product_read_at(product);
        values.insert(":l".into(), list);
        values.insert(
            ":next".into(),
            AttributeValue::N((product.version + 1).to_string()),
        );
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::product(&product.id))))
            .update_expression("SET paymentLinks = :l, #ver = :next")
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        self.caches.products.invalidate_all();
        applied(result)
    }

    /// A product by id, whoever owns it (validation).
    pub async fn get_product(&self, product_id: &str) -> Result<Option<Product>> {
        self.get(table_keys::product(product_id)).await
    }

    /// A license's product, from the per-process product cache (`read_cache`, at most
    /// `KEYHOOK_PRODUCT_CACHE_SECONDS` old) else one read: the floating terms a lease reads
    /// (`handlers::validate::leases`). Keyed apart from references, which may be aliases.
    pub async fn get_product_cached(
        &self,
        tenant_id: &str,
        product_id: &str,
    ) -> Result<Option<Product>> {
        let key = (format!("{tenant_id}\u{0}id"), product_id.to_string());
        if let Some(p) = self.caches.products.get(&key) {
            return Ok(Some(p));
        }
        let product = self.get_tenant_product(tenant_id, product_id).await?;
        if let Some(p) = &product {
            self.caches.products.insert(key, p.clone());
        }
        Ok(product)
    }

    pub async fn get_tenant_product(
        &self,
        tenant_id: &str,
        product_id: &str,
    ) -> Result<Option<Product>> {
        self.get_owned(table_keys::product(product_id), tenant_id)
            .await
    }

    pub async fn delete_product(&self, tenant_id: &str, product_id: &str) -> Result<bool> {
        let deleted = self
            .delete_owned(table_keys::product(product_id), tenant_id)
            .await;
        self.caches.products.invalidate_all();
        deleted
    }

    pub async fn list_products(
        &self,
        tenant_id: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<Product>> {
        self.list_tenant(
            tenant_id,
            table_keys::listing::PRODUCTS,
            limit,
            cursor,
            false,
            &[],
        )
        .await
    }
}
