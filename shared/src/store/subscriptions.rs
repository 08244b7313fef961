//! Subscription records (tenant partition, `SUB#<id>`), written with optimistic concurrency:
//! every write names the version it read, so a subscription event and an issuance racing on
//! the same subscription serialise instead of overwriting each other.

use aws_sdk_dynamodb::types::AttributeValue;

use super::applied;
use super::table_keys::{self, kind};
use super::Store;
use crate::domain::subscription::SubscriptionRecord;
use crate::Result;

impl Store {
    pub async fn get_subscription(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<SubscriptionRecord>> {
        self.get_tenant_item(tenant_id, kind::SUBSCRIPTION, id)
            .await
    }

    /// Writes `record` (its `version` already incremented) if the stored version is still
    /// `record.version - 1` (or there is none). `Ok(false)` on a conflict: read again, retry.
    pub async fn put_subscription(&self, record: &SubscriptionRecord) -> Result<bool> {
        let item = Self::item(
            record,
            (
                table_keys::tenant_partition(&record.tenant_id),
                format!("{}{}", kind::SUBSCRIPTION, record.subscription_id),
            ),
        )?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR version = :previous")
            .expression_attribute_values(
                ":previous",
                AttributeValue::N(record.version.saturating_sub(1).to_string()),
            )
            .send()
            .await;
        applied(result)
    }
}
