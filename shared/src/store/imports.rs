//! Imported licenses: what already exists (licenses by the ids their keys derive, import
//! records by external id) in BatchGetItem calls of 100 keys, and the new licenses with their
//! import records in `TransactWriteItems` calls, each item on the condition that it does not
//! exist yet. The handler reads first and writes only what is new, so a re-run writes nothing;
//! the conditions make sure that a license created between that read and the write (another
//! import, an issuance of the same key) or an external id imported meanwhile is never
//! overwritten: that entry fails alone and the rest of its transaction is sent again.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde::{Deserialize, Serialize};

use super::{dynamo_err, table_keys, Item, Store};
use crate::domain::activity::{Action, ActivityEntry, Origin};
use crate::domain::License;
use crate::time::serde_ts;
use crate::{Error, Result};

/// Licenses per transaction: each is two actions (license, import record), and DynamoDB takes
/// 100 actions in one.
pub const LICENSES_PER_TRANSACTION: usize = 50;
/// Bytes of items per transaction, kept under DynamoDB's 4 MB per transaction.
const TRANSACTION_BYTES: usize = 3_500_000;
/// Sends of one transaction that lost to concurrent transactions (`TransactionConflict`)
/// before giving up with a retryable error.
const MAX_CONFLICT_RETRIES: u32 = 8;

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
    /// Licenses by id, whoever owns them (the handler decides what another tenant's means).
    pub licenses: HashMap<String, License>,
    /// The tenant's import records by external id.
    pub imports: HashMap<String, LicenseImport>,
}

/// What became of one imported license's write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportWrite {
    /// The license and its import record were written.
    Written,
    /// A license with this id exists now (created since the handler's read): nothing written.
    LicenseExists,
    /// The external id was imported since the handler's read: nothing written.
    ImportExists,
}

/// DynamoDB's size of an item, near enough to keep transactions under their limit (names and
/// values in bytes, a few bytes of overhead per nested value).
fn item_bytes(item: &Item) -> usize {
    fn value(v: &AttributeValue) -> usize {
        match v {
            AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
            AttributeValue::B(b) => b.as_ref().len(),
            AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + value(v)).sum::<usize>(),
            AttributeValue::M(m) => {
                3 + m.iter().map(|(k, v)| 1 + k.len() + value(v)).sum::<usize>()
            }
            AttributeValue::Ss(l) | AttributeValue::Ns(l) => l.iter().map(String::len).sum(),
            _ => 1,
        }
    }
    item.iter().map(|(k, v)| k.len() + value(v)).sum()
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
            .map(|id| table_keys::license(id))
            .chain(
                external_ids
                    .iter()
                    .map(|e| table_keys::license_import(tenant_id, e)),
            )
            .collect();
        let mut state = ImportState::default();
        for item in self.batch_get(wanted).await? {
            let is_license =
                matches!(item.get(table_keys::SK), Some(AttributeValue::S(sk)) if sk == "LICENSE");
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

    /// Writes imported licenses with their import records, each pair on the condition that
    /// neither exists; one outcome per pair, in order.
    pub async fn write_imported(
        &self,
        pairs: &[(License, LicenseImport)],
        origin: &Origin,
    ) -> Result<Vec<ImportWrite>> {
        let mut items: Vec<[Item; 2]> = Vec::with_capacity(pairs.len());
        for (license, record) in pairs {
            items.push([
                Self::new_license_item(
                    license,
                    ActivityEntry::new(Action::Imported, origin, license.created_at),
                )?,
                Self::item(
                    record,
                    table_keys::license_import(&record.tenant_id, &record.external_id),
                )?,
            ]);
        }
        let mut outcomes = vec![ImportWrite::Written; pairs.len()];
        let mut start = 0;
        while start < items.len() {
            // As many pairs as fit in one transaction (at least one).
            let mut end = start;
            let mut bytes = 0;
            while end < items.len() && end - start < LICENSES_PER_TRANSACTION {
                let size = items[end].iter().map(item_bytes).sum::<usize>();
                if end > start && bytes + size > TRANSACTION_BYTES {
                    break;
                }
                bytes += size;
                end += 1;
            }
            self.write_pairs(&items, start..end, &mut outcomes).await?;
            start = end;
        }
        Ok(outcomes)
    }

    /// One transaction of the pairs in `range`; pairs whose condition fails are recorded in
    /// `outcomes` and the others sent again without them.
    async fn write_pairs(
        &self,
        items: &[[Item; 2]],
        range: std::ops::Range<usize>,
        outcomes: &mut [ImportWrite],
    ) -> Result<()> {
        let put_new = |item: &Item| {
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item.clone()))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map(|p| TransactWriteItem::builder().put(p).build())
                .map_err(|e| Error::internal(e.to_string()))
        };
        let mut pending: Vec<usize> = range.collect();
        let mut conflicts = 0u32;
        while !pending.is_empty() {
            let actions = pending
                .iter()
                .flat_map(|&i| items[i].iter())
                .map(put_new)
                .collect::<Result<Vec<_>>>()?;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(actions))
                .send()
                .await;
            let Err(e) = result else { return Ok(()) };
            let reasons: Vec<Option<String>> = match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => c
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code().map(str::to_string))
                    .collect(),
                _ => return Err(dynamo_err(e)),
            };
            let code = |action: usize| reasons.get(action).and_then(|r| r.as_deref());
            let mut refused = false;
            // Which pairs' conditions failed (the reasons are in the order of the actions).
            let mut kept = Vec::with_capacity(pending.len());
            for (n, &i) in pending.iter().enumerate() {
                let (license, record) = (code(2 * n), code(2 * n + 1));
                if record == Some("ConditionalCheckFailed") {
                    outcomes[i] = ImportWrite::ImportExists;
                    refused = true;
                } else if license == Some("ConditionalCheckFailed") {
                    outcomes[i] = ImportWrite::LicenseExists;
                    refused = true;
                } else {
                    kept.push(i);
                }
            }
            pending = kept;
            if refused {
                continue;
            }
            let conflicted = reasons
                .iter()
                .any(|r| r.as_deref() == Some("TransactionConflict"));
            if !conflicted || conflicts >= MAX_CONFLICT_RETRIES {
                return Err(dynamo_err(e));
            }
            // Lost to a concurrent transaction on one of the items: send again shortly.
            conflicts += 1;
            let ms = rand::random::<u64>() % (10u64 << conflicts.min(5));
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        Ok(())
    }
}
