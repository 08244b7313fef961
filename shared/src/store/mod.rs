//! DynamoDB storage: one table, single-table design (see `table_keys` and `docs/data-model.md`).
//! One module per entity; `issuance` holds the transaction that issues a purchase's licenses.

pub mod activity;
pub mod aliases;
pub mod apps;
pub mod checkout_sessions;
pub mod contact_changes;
pub mod currencies;
pub mod deliveries;
pub mod events;
pub mod idempotency;
pub mod imports;
pub mod issuance;
pub mod leases;
pub mod license_usage;
pub mod licenses;
pub mod members;
pub mod meters;
pub mod plans;
pub mod portal;
pub mod product_devices;
pub mod products;
pub mod purchases;
pub mod read_cache;
pub mod reconcile_marks;
mod signed_get;
pub mod signing_keys;
pub mod subscriptions;
pub mod table_keys;
pub mod tenant_items;
pub mod tenants;
pub mod timers;
pub mod webhook_endpoints;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_dynamodb::Client;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{de::DeserializeOwned, Serialize};

use crate::{Error, Result};
use table_keys::Key;

pub type Item = HashMap<String, AttributeValue>;

/// The table and its client, and the per-process read caches (`read_cache`). Cheap to clone:
/// clones share the caches.
#[derive(Clone)]
pub struct Store {
    pub(crate) client: Client,
    pub(crate) table: String,
    pub(crate) caches: Arc<read_cache::ReadCaches>,
    /// The license read of the validation routes, signed directly (`signed_get`).
    pub(crate) signed: Arc<signed_get::SignedGet>,
}

/// One page of a listing; `next_cursor` is opaque to callers.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A filter applied to a listing after the key condition (`attribute = value`).
#[derive(Debug, Clone)]
pub struct Filter {
    pub attribute: &'static str,
    pub value: String,
}

/// Attributes stored as DynamoDB booleans: a [`Filter`] on them compares `"true"`/`"false"` as
/// booleans.
pub const BOOL_ATTRIBUTES: &[&str] = &["livemode"];

pub(crate) fn dynamo_err(e: impl std::error::Error + 'static) -> Error {
    Error::aws("dynamodb", aws_sdk_dynamodb::error::DisplayErrorContext(e))
}

/// Whether an operation's error is a failed condition (the write was refused, not broken).
pub(crate) trait ConditionFailed {
    fn condition_failed(&self) -> bool;
}

macro_rules! condition_failed_for {
    ($($error:ty),*) => {$(
        impl ConditionFailed for $error {
            fn condition_failed(&self) -> bool {
                self.is_conditional_check_failed_exception()
            }
        }
    )*};
}

condition_failed_for!(
    aws_sdk_dynamodb::operation::put_item::PutItemError,
    aws_sdk_dynamodb::operation::update_item::UpdateItemError,
    aws_sdk_dynamodb::operation::delete_item::DeleteItemError
);

/// A conditional write's outcome: `Ok(true)` when applied, `Ok(false)` when its condition
/// failed, `Err` for anything else.
pub(crate) fn applied<O, E, R>(result: std::result::Result<O, SdkError<E, R>>) -> Result<bool>
where
    E: ConditionFailed + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(ConditionFailed::condition_failed) =>
        {
            Ok(false)
        }
        Err(e) => Err(dynamo_err(e)),
    }
}

/// A conditional `UpdateItem` asked for `ReturnValue::AllNew`: the record as written, or `None`
/// when its condition failed.
pub(crate) fn updated_record<T, R>(
    result: std::result::Result<
        aws_sdk_dynamodb::operation::update_item::UpdateItemOutput,
        SdkError<aws_sdk_dynamodb::operation::update_item::UpdateItemError, R>,
    >,
) -> Result<Option<T>>
where
    T: DeserializeOwned,
    R: std::fmt::Debug + 'static,
{
    match result {
        Ok(out) => out.attributes.map(Store::record).transpose(),
        Err(e)
            if e.as_service_error()
                .is_some_and(ConditionFailed::condition_failed) =>
        {
            Ok(None)
        }
        Err(e) => Err(dynamo_err(e)),
    }
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Store {
            client,
            table: table.into(),
            caches: Arc::new(read_cache::ReadCaches::new(
                read_cache::TOKEN_TTL,
                read_cache::PRODUCT_TTL,
            )),
            signed: Default::default(),
        }
    }

    /// The same table with fresh read caches of these lifetimes (`Config`'s
    /// `token_cache_ttl` and `product_cache_ttl`).
    pub fn with_cache_ttls(mut self, tokens: Duration, products: Duration) -> Self {
        self.caches = Arc::new(read_cache::ReadCaches::new(tokens, products));
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Serialises a record and sets its keys.
    pub(crate) fn item<T: Serialize>(record: &T, key: Key) -> Result<Item> {
        let mut item: Item = serde_dynamo::to_item(record)
            .map_err(|e| Error::internal(format!("serialising record: {e}")))?;
        item.insert(table_keys::PK.into(), AttributeValue::S(key.0));
        item.insert(table_keys::SK.into(), AttributeValue::S(key.1));
        Ok(item)
    }

    pub(crate) fn with_gsi1(mut item: Item, tenant_id: &str, sort: String) -> Item {
        item.insert(
            table_keys::GSI1_PK.into(),
            AttributeValue::S(table_keys::tenant_partition(tenant_id)),
        );
        item.insert(table_keys::GSI1_SK.into(), AttributeValue::S(sort));
        item
    }

    /// An item (the SDK's, or `serde_dynamo`'s as the signed read gives it) as a record.
    pub(crate) fn record<T: DeserializeOwned>(item: impl Into<serde_dynamo::Item>) -> Result<T> {
        serde_dynamo::from_item(item).map_err(|e| Error::internal(format!("reading record: {e}")))
    }

    pub(crate) fn key_attrs(key: Key) -> Item {
        HashMap::from([
            (table_keys::PK.to_string(), AttributeValue::S(key.0)),
            (table_keys::SK.to_string(), AttributeValue::S(key.1)),
        ])
    }

    /// The strongly consistent `GetItem` of one key, ready to send.
    pub(crate) fn consistent_get(
        &self,
        key: Key,
    ) -> aws_sdk_dynamodb::operation::get_item::builders::GetItemFluentBuilder {
        self.client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(key)))
            .consistent_read(true)
    }

    /// Strongly consistent read of one record.
    pub(crate) async fn get<T: DeserializeOwned>(&self, key: Key) -> Result<Option<T>> {
        let out = self.consistent_get(key).send().await.map_err(dynamo_err)?;
        out.item.map(Self::record).transpose()
    }

    /// Strongly consistent read of several records by key (BatchGetItem, 100 keys a call,
    /// unprocessed keys asked again), in no particular order; missing ones are absent.
    pub(crate) async fn batch_get(&self, wanted: Vec<Key>) -> Result<Vec<Item>> {
        let mut found = Vec::with_capacity(wanted.len());
        for chunk in wanted.chunks(100) {
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.iter().cloned().map(Self::key_attrs).collect()))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| Error::internal(e.to_string()))?,
            );
            while let Some(req) = request.take() {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, req)
                    .send()
                    .await
                    .map_err(dynamo_err)?;
                found.extend(
                    out.responses
                        .and_then(|mut r| r.remove(&self.table))
                        .unwrap_or_default(),
                );
                request = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|k| !k.keys.is_empty());
            }
        }
        Ok(found)
    }

    /// Reads a globally keyed record and returns it only if it belongs to `tenant_id`: the one
    /// place where tenant isolation of such records is enforced.
    pub(crate) async fn get_owned<T: DeserializeOwned>(
        &self,
        key: Key,
        tenant_id: &str,
    ) -> Result<Option<T>> {
        let out = self.consistent_get(key).send().await.map_err(dynamo_err)?;
        match out.item {
            Some(item) if owned_by(&item, tenant_id) => Self::record(item).map(Some),
            _ => Ok(None),
        }
    }

    /// Writes a record unless one with its key exists. `Ok(false)` when it existed.
    pub(crate) async fn put_new(&self, item: Item) -> Result<bool> {
        applied(
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .send()
                .await,
        )
    }

    /// Deletes a record of `tenant_id`. `Ok(false)` when there was none.
    pub(crate) async fn delete_owned(&self, key: Key, tenant_id: &str) -> Result<bool> {
        applied(
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(Self::key_attrs(key)))
                .condition_expression("attribute_exists(pk) AND tenantId = :t")
                .expression_attribute_values(":t", AttributeValue::S(tenant_id.into()))
                .send()
                .await,
        )
    }

    /// One page of a tenant listing from `gsi1`, filled up to `limit` even when `filters`
    /// drop items. Newest first when `newest_first`.
    pub(crate) async fn list_tenant<T: DeserializeOwned>(
        &self,
        tenant_id: &str,
        prefix: &str,
        limit: usize,
        cursor: Option<&str>,
        newest_first: bool,
        filters: &[Filter],
    ) -> Result<Page<T>> {
        let partition = table_keys::tenant_partition(tenant_id);
        let mut start = cursor
            .map(|c| decode_cursor(c, &partition, prefix))
            .transpose()?;
        let mut items = Vec::new();
        let mut filter_expr = Vec::new();
        let mut names = HashMap::from([
            ("#pk".to_string(), table_keys::GSI1_PK.to_string()),
            ("#sk".to_string(), table_keys::GSI1_SK.to_string()),
        ]);
        let mut values = HashMap::from([
            (":pk".to_string(), AttributeValue::S(partition.clone())),
            (":prefix".to_string(), AttributeValue::S(prefix.to_string())),
        ]);
        for (i, f) in filters.iter().enumerate() {
            filter_expr.push(format!("#f{i} = :f{i}"));
            names.insert(format!("#f{i}"), f.attribute.to_string());
            let value = match (BOOL_ATTRIBUTES.contains(&f.attribute), f.value.as_str()) {
                (true, "true") => AttributeValue::Bool(true),
                (true, "false") => AttributeValue::Bool(false),
                _ => AttributeValue::S(f.value.clone()),
            };
            values.insert(format!(":f{i}"), value);
        }
        loop {
            let want = limit - items.len();
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(table_keys::GSI1)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .set_filter_expression((!filter_expr.is_empty()).then(|| filter_expr.join(" AND ")))
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(!newest_first)
                .limit(want as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(dynamo_err)?;
            for item in out.items.unwrap_or_default() {
                items.push(Self::record(item)?);
            }
            start = out.last_evaluated_key;
            if items.len() >= limit || start.is_none() {
                break;
            }
        }
        Ok(Page {
            items,
            next_cursor: start.map(|k| encode_cursor(&k)),
        })
    }
}

fn owned_by(item: &Item, tenant_id: &str) -> bool {
    matches!(item.get("tenantId"), Some(AttributeValue::S(t)) if t == tenant_id)
}

/// Cursors are the index's last evaluated key, as base64url JSON of its string attributes.
fn encode_cursor(key: &Item) -> String {
    let map: HashMap<&str, &str> = key
        .iter()
        .filter_map(|(k, v)| v.as_s().ok().map(|s| (k.as_str(), s.as_str())))
        .collect();
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&map).expect("string map serialises"))
}

/// A cursor is a position in one listing: a value this listing returned (same tenant, same
/// kind). Anything else names no page of it: `404 not_found`, as an id of another tenant or
/// an id that never existed does (the document can say a cursor is a string, not which).
fn decode_cursor(cursor: &str, partition: &str, prefix: &str) -> Result<Item> {
    let unknown = || Error::not_found("Cursor");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| unknown())?;
    let map: HashMap<String, String> = serde_json::from_slice(&bytes).map_err(|_| unknown())?;
    let is_position = map.get(table_keys::GSI1_PK).map(String::as_str) == Some(partition)
        && map
            .get(table_keys::GSI1_SK)
            .is_some_and(|sk| sk.starts_with(prefix))
        && [table_keys::PK, table_keys::SK]
            .iter()
            .all(|k| map.get(*k).is_some_and(|v| !v.is_empty()))
        && map.len() == 4;
    if !is_position {
        return Err(unknown());
    }
    Ok(map
        .into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect())
}
