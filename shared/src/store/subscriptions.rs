//! Subscription records (tenant partition, `SUB#<id>`), written with optimistic concurrency:
//! every write names the version it read, so a subscription event and an issuance racing on
//! the same subscription serialise instead of overwriting each other.

use aws_sdk_dynamodb::types::AttributeValue;

use super::applied;
use super::keys::{self, kind};
use super::Store;
use crate::domain::subscription::SubscriptionRecord;
use crate::domain::License;
use crate::{Error, Result};

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
                keys::tenant_partition(&record.tenant_id),
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

    /// Writes a license's lifecycle fields (status, expiry, suspension), leaving the rest
    /// (devices above all) untouched.
    pub async fn update_license_lifecycle(&self, l: &License) -> Result<()> {
        let opt = |t: Option<time::OffsetDateTime>| {
            t.map(|t| AttributeValue::S(crate::time::format(t)))
                .unwrap_or(AttributeValue::Null(true))
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(keys::license(&l.id))))
            // The version tells validation's optimistic writes that the license changed.
            .update_expression(
                "SET #st = :st, expiresAt = :exp, suspendAt = :sus, updatedAt = :up ADD #version :one",
            )
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .condition_expression("attribute_exists(pk) AND tenantId = :t")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":st", AttributeValue::S(l.status.as_str().into()))
            .expression_attribute_values(":exp", opt(l.expires_at))
            .expression_attribute_values(":sus", opt(l.suspend_at))
            .expression_attribute_values(
                ":up",
                AttributeValue::S(crate::time::format(crate::time::now())),
            )
            .expression_attribute_values(":t", AttributeValue::S(l.tenant_id.clone()))
            .send()
            .await;
        if !applied(result)? {
            return Err(Error::internal(format!("license {} vanished", l.id)));
        }
        Ok(())
    }
}
