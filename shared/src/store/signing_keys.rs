//! The tenant's signing keys other than the active one: one item per tenant
//! (`TENANT#<id>` / `SIGNKEYSET`), so the public key-set route is one `GetItem` (the validate
//! function has no `Query`). Written with optimistic concurrency on `version`.

use aws_sdk_dynamodb::types::AttributeValue;

use super::{applied, keys, Store};
use crate::domain::signing_key::SigningKeySet;
use crate::Result;

fn key(tenant_id: &str) -> keys::Key {
    (
        keys::tenant_partition(tenant_id),
        keys::SIGNING_KEY_SET.into(),
    )
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
        let mut next = set.clone();
        next.version += 1;
        let item = Self::item(&next, key(&set.tenant_id))?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let put = if set.version == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("#v = :v")
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":v", AttributeValue::N(set.version.to_string()))
        };
        applied(put.send().await)
    }
}
