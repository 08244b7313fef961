//! Outgoing webhook endpoints, in the tenant's partition (`WHEP#<id>`). The admin changes the
//! settings; the sender changes the health fields (`failingSince`, disabling); each writes only
//! its own attributes, so neither undoes the other.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use time::OffsetDateTime;

use super::{applied, keys, updated_record, Page, Store};
use crate::domain::webhooks::WebhookEndpoint;
use crate::{Error, Result};

const KIND: &str = keys::kind::WEBHOOK_ENDPOINT;

fn key(tenant_id: &str, id: &str) -> keys::Key {
    (keys::tenant_partition(tenant_id), format!("{KIND}{id}"))
}

fn ts(t: OffsetDateTime) -> AttributeValue {
    AttributeValue::S(crate::time::format(t))
}

impl Store {
    pub async fn create_endpoint(&self, e: &WebhookEndpoint) -> Result<()> {
        let item = Self::item(e, key(&e.tenant_id, &e.id))?;
        if !self.put_new(item).await? {
            return Err(Error::Conflict("endpoint already exists".into()));
        }
        Ok(())
    }

    pub async fn get_endpoint(&self, tenant_id: &str, id: &str) -> Result<Option<WebhookEndpoint>> {
        self.get_tenant_item(tenant_id, KIND, id).await
    }

    pub async fn list_endpoints(
        &self,
        tenant_id: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<WebhookEndpoint>> {
        self.list_tenant_items(tenant_id, KIND, limit, cursor).await
    }

    /// Every endpoint of a tenant (one Query for any realistic number).
    pub async fn all_endpoints(&self, tenant_id: &str) -> Result<Vec<WebhookEndpoint>> {
        self.all_tenant_items(tenant_id, KIND).await
    }

    pub async fn delete_endpoint(&self, tenant_id: &str, id: &str) -> Result<bool> {
        self.delete_tenant_item(tenant_id, KIND, id).await
    }

    /// Writes the settings an admin changes. `reenabled` also clears the failure record.
    pub async fn update_endpoint_settings(
        &self,
        e: &WebhookEndpoint,
        reenabled: bool,
    ) -> Result<()> {
        let opt = |v: &Option<String>| {
            v.clone()
                .map(AttributeValue::S)
                .unwrap_or(AttributeValue::Null(true))
        };
        let expression = format!(
            "SET #url = :url, description = :d, eventTypes = :types, active = :active, \
             alertEmail = :alert, updatedAt = :now{}",
            if reenabled {
                " REMOVE failingSince, disabledAt, disabledReason"
            } else {
                ""
            }
        );
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(key(&e.tenant_id, &e.id))))
            .update_expression(expression)
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#url", "url")
            .expression_attribute_values(":url", AttributeValue::S(e.url.clone()))
            .expression_attribute_values(":d", opt(&e.description))
            .expression_attribute_values(
                ":types",
                AttributeValue::L(
                    e.event_types
                        .iter()
                        .cloned()
                        .map(AttributeValue::S)
                        .collect(),
                ),
            )
            .expression_attribute_values(":active", AttributeValue::Bool(e.active))
            .expression_attribute_values(":alert", opt(&e.alert_email))
            .expression_attribute_values(":now", ts(e.updated_at))
            .send()
            .await;
        if !applied(result)? {
            return Err(Error::not_found(format!("Webhook endpoint {}", e.id)));
        }
        Ok(())
    }

    /// Replaces the secret; the previous one keeps signing until `until`.
    pub async fn roll_endpoint_secret(
        &self,
        tenant_id: &str,
        id: &str,
        secret_sealed: &str,
        previous_sealed: &str,
        until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(key(tenant_id, id))))
            .update_expression(
                "SET secretSealed = :s, previousSecretSealed = :p, previousSecretUntil = :u, updatedAt = :now",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":s", AttributeValue::S(secret_sealed.into()))
            .expression_attribute_values(":p", AttributeValue::S(previous_sealed.into()))
            .expression_attribute_values(":u", ts(until))
            .expression_attribute_values(":now", ts(now))
            .send()
            .await;
        if !applied(result)? {
            return Err(Error::not_found(format!("Webhook endpoint {id}")));
        }
        Ok(())
    }

    /// Records a failed attempt: the failure run starts now unless it already had. The endpoint
    /// after, or `None` if it was deleted.
    pub async fn mark_endpoint_failing(
        &self,
        tenant_id: &str,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<WebhookEndpoint>> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(key(tenant_id, id))))
            .update_expression(
                "SET failingSince = if_not_exists(failingSince, :now), lastFailureAt = :now",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":now", ts(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        updated_record(result)
    }

    /// A success ends the failure run (a no-op write is avoided by the caller).
    pub async fn mark_endpoint_healthy(&self, tenant_id: &str, id: &str) -> Result<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(key(tenant_id, id))))
            .update_expression("REMOVE failingSince")
            .condition_expression("attribute_exists(failingSince)")
            .send()
            .await;
        applied(result).map(|_| ())
    }

    /// Disables an active endpoint. `Ok(true)` only for the call that disabled it.
    pub async fn disable_endpoint(
        &self,
        tenant_id: &str,
        id: &str,
        now: OffsetDateTime,
        reason: &str,
    ) -> Result<bool> {
        applied(
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(Self::key_attrs(key(tenant_id, id))))
                .update_expression(
                    "SET active = :off, disabledAt = :now, disabledReason = :r, updatedAt = :now",
                )
                .condition_expression("active = :on")
                .expression_attribute_values(":off", AttributeValue::Bool(false))
                .expression_attribute_values(":on", AttributeValue::Bool(true))
                .expression_attribute_values(":now", ts(now))
                .expression_attribute_values(":r", AttributeValue::S(reason.into()))
                .send()
                .await,
        )
    }
}
