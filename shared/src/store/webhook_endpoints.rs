//! Outgoing webhook endpoints, in the tenant's partition (`WHEP#<id>`). The admin changes the
//! settings and rolls the secret; the sender changes the health fields (`failingSince`,
//! disabling). Each writes only its own attributes, and every write decided on a read (a
//! settings edit, a roll, disabling) is conditional on the endpoint's `version` it read and
//! moves it: an edit read before the sender disabled the endpoint cannot re-enable it. The
//! failure marks write only `failingSince` / `lastFailureAt`, which no edit decides from, so
//! they leave the version alone (a failing endpoint's edits do not conflict with every attempt).

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use time::OffsetDateTime;

use super::{applied, table_keys, updated_record, Page, Store};
use crate::domain::webhooks::WebhookEndpoint;
use crate::{Error, Result};

const KIND: &str = table_keys::kind::WEBHOOK_ENDPOINT;

fn key(tenant_id: &str, id: &str) -> table_keys::Key {
    (
        table_keys::tenant_partition(tenant_id),
        format!("{KIND}{id}"),
    )
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

    /// Writes the settings an admin changes, if the endpoint's version is still `read_version`
    /// (and moves it). `reenabled` also clears the failure record. `Ok(false)` when the version
    /// moved or the endpoint is gone: read it again.
    pub async fn update_endpoint_settings(
        &self,
        e: &WebhookEndpoint,
        reenabled: bool,
        read_version: u64,
    ) -> Result<bool> {
        let opt = |v: &Option<String>| {
            v.clone()
                .map(AttributeValue::S)
                .unwrap_or(AttributeValue::Null(true))
        };
        let expression = format!(
            "SET #url = :url, description = :d, eventTypes = :types, active = :active, \
             alertEmail = :alert, updatedAt = :now, #version = :next{}",
            if reenabled {
                " REMOVE failingSince, disabledAt, disabledReason"
            } else {
                ""
            }
        );
        let (condition, version) = read_version_condition(read_version);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(key(&e.tenant_id, &e.id))))
            .update_expression(expression)
            .condition_expression(condition)
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":read", version)
            .expression_attribute_values(":next", next_version(read_version))
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
        applied(result)
    }

    /// Replaces the secret (the previous one keeps signing until `until`), if the endpoint's
    /// version is still `read_version`, the one whose secret became `previous_sealed`: two
    /// concurrent rolls cannot both answer a secret. `Ok(false)` when the version moved or the
    /// endpoint is gone.
    #[allow(clippy::too_many_arguments)]
    pub async fn roll_endpoint_secret(
        &self,
        tenant_id: &str,
        id: &str,
        secret_sealed: &str,
        previous_sealed: &str,
        until: OffsetDateTime,
        now: OffsetDateTime,
        read_version: u64,
    ) -> Result<bool> {
        let (condition, version) = read_version_condition(read_version);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(key(tenant_id, id))))
            .update_expression(
                "SET secretSealed = :s, previousSecretSealed = :p, previousSecretUntil = :u, updatedAt = :now, #version = :next",
            )
            .condition_expression(condition)
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":read", version)
            .expression_attribute_values(":next", next_version(read_version))
            .expression_attribute_values(":s", AttributeValue::S(secret_sealed.into()))
            .expression_attribute_values(":p", AttributeValue::S(previous_sealed.into()))
            .expression_attribute_values(":u", ts(until))
            .expression_attribute_values(":now", ts(now))
            .send()
            .await;
        applied(result)
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

    /// Disables an active endpoint and moves its version (an edit read before cannot undo
    /// it). `Ok(true)` only for the call that disabled it.
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
                    "SET active = :off, disabledAt = :now, disabledReason = :r, updatedAt = :now \
                     ADD #version :one",
                )
                .condition_expression("active = :on")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .expression_attribute_values(":off", AttributeValue::Bool(false))
                .expression_attribute_values(":on", AttributeValue::Bool(true))
                .expression_attribute_values(":now", ts(now))
                .expression_attribute_values(":r", AttributeValue::S(reason.into()))
                .send()
                .await,
        )
    }
}

/// The condition that the endpoint exists at `read_version` (0: an item written before
/// versions, or at its first), and the value of `:read`.
fn read_version_condition(read_version: u64) -> (&'static str, AttributeValue) {
    let condition = if read_version == 0 {
        "attribute_exists(pk) AND (attribute_not_exists(#version) OR #version = :read)"
    } else {
        "attribute_exists(pk) AND #version = :read"
    };
    (condition, AttributeValue::N(read_version.to_string()))
}

fn next_version(read_version: u64) -> AttributeValue {
    AttributeValue::N((read_version + 1).to_string())
}
