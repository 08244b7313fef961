//! Per-(product, device) records: written after every activation of a new device on a license
//! and by trial start; read by trials. See
//! [`ProductDevice`](crate::domain::validation::ProductDevice).

use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use super::applied;
use super::{table_keys, Store};
use crate::domain::validation::trial::TrialPeriod;
use crate::domain::validation::{DeviceId, ProductDevice};
use crate::domain::Product;
use crate::Result;

impl Store {
    /// The product and the device's record for it, in one BatchGetItem (strongly consistent).
    pub async fn get_product_and_device(
        &self,
        product_id: &str,
        device: &DeviceId,
    ) -> Result<(Option<Product>, Option<ProductDevice>)> {
        let product_key = table_keys::product(product_id);
        let device_key = table_keys::product_device(product_id, &device.key_hash());
        let (mut product, mut record) = (None, None);
        for item in self
            .batch_get(vec![product_key.clone(), device_key])
            .await?
        {
            let is_product = matches!(item.get(table_keys::PK), Some(AttributeValue::S(pk)) if *pk == product_key.0);
            if is_product {
                product = Some(Self::record(item)?);
            } else {
                record = Some(Self::record(item)?);
            }
        }
        Ok((product, record))
    }

    /// Starts the device's trial of the product, unless it ever had one or was ever activated
    /// for the product (`Ok(false)`: the caller re-reads and answers what is there).
    pub async fn start_trial(
        &self,
        product: &Product,
        device: &DeviceId,
        period: TrialPeriod,
    ) -> Result<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::product_device(
                &product.id,
                &device.key_hash(),
            ))))
            .update_expression(
                "SET tenantId = :t, productId = :p, deviceHash = :h, \
                 trialStartedAt = :start, trialExpiresAt = :end",
            )
            .condition_expression(
                "attribute_not_exists(trialStartedAt) AND attribute_not_exists(firstActivatedAt)",
            )
            .expression_attribute_values(":t", AttributeValue::S(product.tenant_id.clone()))
            .expression_attribute_values(":p", AttributeValue::S(product.id.clone()))
            .expression_attribute_values(":h", AttributeValue::S(device.key_hash()))
            .expression_attribute_values(
                ":start",
                AttributeValue::S(crate::time::format(period.started_at)),
            )
            .expression_attribute_values(
                ":end",
                AttributeValue::S(crate::time::format(period.expires_at)),
            )
            .send()
            .await;
        applied(result)
    }

    /// Records that `device` was activated for a product (the first time is kept; a trial
    /// record is extended, not replaced). Idempotent.
    /// The write that records an activation of a device for a product (idempotent); part of
    /// the activation's transaction (see `license_usage`).
    pub(crate) fn activation_update(
        &self,
        tenant_id: &str,
        product_id: &str,
        device: &DeviceId,
        license_id: &str,
        now: OffsetDateTime,
    ) -> Result<aws_sdk_dynamodb::types::Update> {
        aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::product_device(
                product_id,
                &device.key_hash(),
            ))))
            .update_expression(
                "SET tenantId = :t, productId = :p, deviceHash = :h, \
                 firstActivatedAt = if_not_exists(firstActivatedAt, :now), \
                 lastActivatedAt = :now, lastLicenseId = :l",
            )
            .expression_attribute_values(":t", AttributeValue::S(tenant_id.to_string()))
            .expression_attribute_values(":p", AttributeValue::S(product_id.to_string()))
            .expression_attribute_values(":h", AttributeValue::S(device.key_hash()))
            .expression_attribute_values(":now", AttributeValue::S(crate::time::format(now)))
            .expression_attribute_values(":l", AttributeValue::S(license_id.to_string()))
            .build()
            .map_err(|e| crate::Error::internal(e.to_string()))
    }
}
