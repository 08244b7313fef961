//! Idempotency records (`Idempotency-Key` on admin creates, see `app::idempotency`): one per
//! tenant, route and key, in the tenant's partition (`sk = IDEM#<sha256(route, key)>`), expiring
//! by `ttl` after 24 hours. A record is `pending` while its first request runs (a lock that
//! lapses, so a crashed request does not block the key for a day) and `done` once the answer is
//! stored, sealed under the tenant key.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::{applied, dynamo_err, table_keys, Store};
use crate::Result;

/// The stored state of one key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdempotencyRecord {
    pub tenant_id: String,
    /// `METHOD /route/template`.
    pub route: String,
    /// SHA-256 of the request (method, path, body): a reused key must carry the same request.
    pub request_hash: String,
    /// `pending` or `done`.
    pub state: String,
    /// Epoch seconds until which a `pending` record holds the key.
    pub locked_until: i64,
    pub status: Option<u16>,
    pub content_type: Option<String>,
    /// The answer's body, sealed under the tenant key (it may hold a secret shown once).
    pub body_sealed: Option<String>,
    /// Epoch seconds; DynamoDB deletes the record after this.
    pub ttl: i64,
}

pub const PENDING: &str = "pending";
pub const DONE: &str = "done";

fn key(tenant_id: &str, id: &str) -> table_keys::Key {
    (
        table_keys::tenant_partition(tenant_id),
        format!("IDEM#{id}"),
    )
}

impl Store {
    /// Claims a key for a first request: `Ok(true)` when this request holds it now (no record,
    /// or an expired one, or a pending one whose lock lapsed); `Ok(false)` when another
    /// request holds or answered it (read it with [`Store::idempotency_record`]).
    pub async fn claim_idempotency_key(
        &self,
        id: &str,
        record: &IdempotencyRecord,
        now: i64,
    ) -> Result<bool> {
        let item = Self::item(record, key(&record.tenant_id, id))?;
        applied(
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(
                    "attribute_not_exists(pk) OR #ttl < :now OR (#state = :pending AND lockedUntil < :now)",
                )
                .expression_attribute_names("#ttl", table_keys::TTL)
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                .expression_attribute_values(":pending", AttributeValue::S(PENDING.into()))
                .send()
                .await,
        )
    }

    pub async fn idempotency_record(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> Result<Option<IdempotencyRecord>> {
        self.get(key(tenant_id, id)).await
    }

    /// Stores the answer of the request that holds the key (its request hash).
    pub async fn finish_idempotency_key(
        &self,
        id: &str,
        record: &IdempotencyRecord,
    ) -> Result<bool> {
        let item = Self::item(record, key(&record.tenant_id, id))?;
        applied(
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("#state = :pending AND requestHash = :hash")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":pending", AttributeValue::S(PENDING.into()))
                .expression_attribute_values(
                    ":hash",
                    AttributeValue::S(record.request_hash.clone()),
                )
                .send()
                .await,
        )
    }

    /// Frees a key whose request failed (nothing was created: the client may retry with it).
    pub async fn release_idempotency_key(
        &self,
        tenant_id: &str,
        id: &str,
        request_hash: &str,
    ) -> Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(key(tenant_id, id))))
            .condition_expression("#state = :pending AND requestHash = :hash")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":pending", AttributeValue::S(PENDING.into()))
            .expression_attribute_values(":hash", AttributeValue::S(request_hash.into()))
            .send()
            .await
            .map(|_| ())
            .or_else(|e| {
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception())
                {
                    Ok(())
                } else {
                    Err(dynamo_err(e))
                }
            })
    }
}
