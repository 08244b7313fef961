//! The tenant's signing keys other than the active one: one item per tenant
//! (`TENANT#<id>` / `SIGNKEYSET`), so the public key-set route is one `GetItem` (the validate
//! function has no `Query`). Written with optimistic concurrency on `version`.

use aws_sdk_dynamodb::types::{AttributeValue, Put};

use super::{applied, table_keys, Item, Store};
use crate::domain::signing_key::SigningKeySet;
use crate::{Error, Result};

fn key(tenant_id: &str) -> table_keys::Key {
    (
        table_keys::tenant_partition(tenant_id),
        table_keys::SIGNING_KEY_SET.into(),
    )
}

/// The set as written over `set` (its version moved on), and the condition that nobody wrote
/// it since `set` was read: `(expression, version value)`.
fn versioned_write(set: &SigningKeySet) -> Result<(Item, &'static str, Option<AttributeValue>)> {
    let mut next = set.clone();
    next.version += 1;
    let item = Store::item(&next, key(&set.tenant_id))?;
    Ok(if set.version == 0 {
        (item, "attribute_not_exists(pk)", None)
    } else {
        (
            item,
            "#v = :v",
            Some(AttributeValue::N(set.version.to_string())),
        )
    })
}

impl Store {
    /// The tenant's recorded signing keys (an empty set before the first rotation).
    pub async fn signing_key_set(&self, tenant_id: &str) -> Result<SigningKeySet> {
        Ok(self
            .get::<SigningKeySet>(key(tenant_id))
            .await?
            .unwrap_or_else(|| SigningKeySet {
                tenant_id: tenant_id.to_string(),
                keys: Vec::new(),
                version: 0,
            }))
    }

    /// Writes the set if nobody changed it since it was read (at `set.version`); the stored
    /// version becomes `set.version + 1`. `Ok(false)` when another write came first.
    pub async fn save_signing_key_set(&self, set: &SigningKeySet) -> Result<bool> {
        let (item, condition, version) = versioned_write(set)?;
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition);
        if let Some(v) = version {
            put = put
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":v", v);
        }
        applied(put.send().await)
    }

    /// [`Store::save_signing_key_set`]'s write, as one part of a transaction.
    pub(crate) fn signing_key_set_put(&self, set: &SigningKeySet) -> Result<Put> {
        let (item, condition, version) = versioned_write(set)?;
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition);
        if let Some(v) = version {
            put = put
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":v", v);
        }
        put.build().map_err(|e| Error::internal(e.to_string()))
    }
}
