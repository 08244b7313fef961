//! Imported licenses: what already exists (licenses by the id their key derives, import
//! records by external id) in BatchGetItem calls of 100 keys, and the new licenses with their
//! import records in BatchWriteItem calls of 25 items (unprocessed items sent again). Batch
//! writes carry no conditions; the handler reads first and writes only what is new, so a re-run
//! writes nothing.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use serde::{Deserialize, Serialize};

use super::{dynamo_err, keys, Item, Store};
use crate::domain::License;
use crate::time::serde_ts;
use crate::{Error, Result};

/// Items per BatchWriteItem call (DynamoDB's limit).
pub const WRITE_BATCH: usize = 25;

/// The record of one imported external id: which license it became.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseImport {
    pub tenant_id: String,
    pub external_id: String,
    pub license_id: String,
    #[serde(with = "serde_ts")]
    pub imported_at: time::OffsetDateTime,
}

/// What exists already for a batch of imports.
#[derive(Debug, Default)]
pub struct ImportState {
    /// Licenses by id, whoever owns them (a key is one license across the deployment).
    pub licenses: HashMap<String, License>,
    /// The tenant's import records by external id.
    pub imports: HashMap<String, LicenseImport>,
}

impl Store {
    pub async fn import_state(
        &self,
        tenant_id: &str,
        license_ids: &[String],
        external_ids: &[String],
    ) -> Result<ImportState> {
        let wanted = license_ids
            .iter()
            .map(|id| keys::license(id))
            .chain(
                external_ids
                    .iter()
                    .map(|e| keys::license_import(tenant_id, e)),
            )
            .collect();
        let mut state = ImportState::default();
        for item in self.batch_get(wanted).await? {
            let is_license =
                matches!(item.get(keys::SK), Some(AttributeValue::S(sk)) if sk == "LICENSE");
            if is_license {
                let l: License = Self::record(item)?;
                state.licenses.insert(l.id.clone(), l);
            } else {
                let r: LicenseImport = Self::record(item)?;
                state.imports.insert(r.external_id.clone(), r);
            }
        }
        Ok(state)
    }

    /// Writes imported licenses and their import records.
    pub async fn write_imported(
        &self,
        licenses: &[License],
        imports: &[LicenseImport],
    ) -> Result<()> {
        let mut items: Vec<Item> = Vec::with_capacity(licenses.len() + imports.len());
        for l in licenses {
            items.push(Self::license_item(l)?);
        }
        for r in imports {
            items.push(Self::item(
                r,
                keys::license_import(&r.tenant_id, &r.external_id),
            )?);
        }
        for chunk in items.chunks(WRITE_BATCH) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|item| {
                    PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .map(|p| WriteRequest::builder().put_request(p).build())
                        .map_err(|e| Error::internal(e.to_string()))
                })
                .collect::<Result<_>>()?;
            let mut attempt = 0u32;
            while !requests.is_empty() {
                if attempt > 0 {
                    // Throttled: back off before sending what was not processed.
                    let ms = (25u64 << attempt.min(6)).min(2_000);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                if attempt > 10 {
                    return Err(Error::aws(
                        "dynamodb",
                        "BatchWriteItem kept leaving items unprocessed",
                    ));
                }
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(dynamo_err)?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
                attempt += 1;
            }
        }
        Ok(())
    }
}
