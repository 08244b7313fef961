//! The Stripe event log, in the tenant's partition; listed newest first through `gsi1`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::applied;
use super::{dynamo_err, table_keys, Filter, Item, Page, Store};
use crate::domain::{EventLogEntry, EventStatus};
use crate::Result;

impl Store {
    /// Records a newly received event. Returns the entry already recorded when this event id
    /// was seen before (a redelivery).
    pub async fn record_event(&self, entry: &EventLogEntry) -> Result<Option<EventLogEntry>> {
        if self.put_new(Self::event_item(entry)?).await? {
            return Ok(None);
        }
        self.get_event(&entry.tenant_id, &entry.event_id).await
    }

    /// An entry as stored, with its listing keys.
    fn event_item(entry: &EventLogEntry) -> Result<Item> {
        let item = Self::item(entry, table_keys::event(&entry.tenant_id, &entry.event_id))?;
        Ok(Self::with_gsi1(
            item,
            &entry.tenant_id,
            format!(
                "{}{}#{}",
                table_keys::listing::EVENTS,
                crate::time::format(entry.received_at),
                entry.event_id
            ),
        ))
    }

    /// Records `entry` verified, with the purchase and licenses it concerned, whether or not
    /// it was recorded before (one call: the purchase webhook records an event only when it
    /// commits, see `handlers::webhook`). `Ok(false)`, writing nothing, when it was already
    /// verified: a redelivery.
    pub async fn record_event_verified(
        &self,
        entry: &EventLogEntry,
        purchase_ref: Option<&str>,
        license_ids: &[String],
    ) -> Result<bool> {
        let upsert = VerifiedUpsert::new(entry, purchase_ref, license_ids)?;
        applied(
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(Self::key_attrs(table_keys::event(
                    &entry.tenant_id,
                    &entry.event_id,
                ))))
                .update_expression(upsert.expression)
                .condition_expression("attribute_not_exists(pk) OR #s <> :verified")
                .set_expression_attribute_names(Some(upsert.names))
                .set_expression_attribute_values(Some(upsert.values))
                .send()
                .await,
        )
    }

    pub async fn get_event(
        &self,
        tenant_id: &str,
        event_id: &str,
    ) -> Result<Option<EventLogEntry>> {
        self.get(table_keys::event(tenant_id, event_id)).await
    }

    /// Marks an event failed, keeping the first error. An event already verified stays so.
    pub async fn mark_event_failed(
        &self,
        tenant_id: &str,
        event_id: &str,
        error: &str,
    ) -> Result<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::event(
                tenant_id, event_id,
            ))))
            .update_expression("SET #s = :failed, #e = if_not_exists(#e, :err)")
            .condition_expression("attribute_exists(pk) AND #s <> :verified")
            .expression_attribute_names("#s", "status")
            .expression_attribute_names("#e", "error")
            .expression_attribute_values(
                ":failed",
                AttributeValue::S(EventStatus::Failed.as_str().into()),
            )
            .expression_attribute_values(
                ":verified",
                AttributeValue::S(EventStatus::Verified.as_str().into()),
            )
            .expression_attribute_values(":err", AttributeValue::S(error.into()))
            .send()
            .await;
        // A failed condition means the event was verified meanwhile: nothing to do.
        applied(result).map(|_| ())
    }

    /// Marks an event verified (processed), with the licenses it concerned.
    pub async fn mark_event_verified(
        &self,
        tenant_id: &str,
        event_id: &str,
        purchase_ref: Option<&str>,
        license_ids: &[String],
    ) -> Result<()> {
        let update = VerifiedUpdate::new(purchase_ref, license_ids);
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::event(
                tenant_id, event_id,
            ))))
            .update_expression(update.expression)
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values))
            .send()
            .await
            .map_err(dynamo_err)?;
        Ok(())
    }

    /// Marks who finished an event (reconciliation picking up one whose webhook never finished).
    pub async fn set_event_source(
        &self,
        tenant_id: &str,
        event_id: &str,
        source: crate::domain::EventSource,
    ) -> Result<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::event(
                tenant_id, event_id,
            ))))
            .update_expression("SET #src = :src")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#src", "source")
            .expression_attribute_values(":src", AttributeValue::S(source.as_str().into()))
            .send()
            .await
            .map_err(dynamo_err)?;
        Ok(())
    }

    /// Which of these events are recorded, and in what status (BatchGetItem, consistent).
    pub async fn event_statuses(
        &self,
        tenant_id: &str,
        event_ids: &[String],
    ) -> Result<HashMap<String, EventStatus>> {
        let items = self
            .batch_get(
                event_ids
                    .iter()
                    .map(|id| table_keys::event(tenant_id, id))
                    .collect(),
            )
            .await?;
        items
            .into_iter()
            .map(|item| Self::record::<EventLogEntry>(item).map(|e| (e.event_id, e.status)))
            .collect()
    }

    /// One page of the tenant's event log, newest first, with only the entries matching every
    /// filter (`status`, `type`, `livemode`, `source`).
    pub async fn list_events(
        &self,
        tenant_id: &str,
        limit: usize,
        cursor: Option<&str>,
        filters: &[Filter],
    ) -> Result<Page<EventLogEntry>> {
        self.list_tenant(
            tenant_id,
            table_keys::listing::EVENTS,
            limit,
            cursor,
            true,
            filters,
        )
        .await
    }
}

/// "This event is verified, with these licenses", creating its entry if it was never recorded
/// and keeping every first-seen field (when it was received, by which source) if it was: the
/// issuance transaction's event action, and [`Store::record_event_verified`].
pub(crate) struct VerifiedUpsert {
    pub expression: String,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl VerifiedUpsert {
    pub(crate) fn new(
        entry: &EventLogEntry,
        purchase_ref: Option<&str>,
        license_ids: &[String],
    ) -> Result<Self> {
        let verified = VerifiedUpdate::new(purchase_ref, license_ids);
        let (sets, removes) = verified
            .expression
            .trim_start_matches("SET ")
            .split_once(" REMOVE ")
            .expect("VerifiedUpdate's expression is SET … REMOVE …");
        let mut names = verified.names;
        let mut values = verified.values;
        let mut set = vec![sets.to_string()];
        let written = ["status", "error", "licenseIds", "purchaseRef"];
        let mut item = Store::event_item(entry)?;
        item.remove(table_keys::PK);
        item.remove(table_keys::SK);
        let mut fields: Vec<(String, AttributeValue)> = item
            .into_iter()
            .filter(|(k, _)| !written.contains(&k.as_str()))
            .collect();
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        for (i, (field, value)) in fields.into_iter().enumerate() {
            names.insert(format!("#f{i}"), field);
            values.insert(format!(":f{i}"), value);
            set.push(format!("#f{i} = if_not_exists(#f{i}, :f{i})"));
        }
        Ok(VerifiedUpsert {
            expression: format!("SET {} REMOVE {removes}", set.join(", ")),
            names,
            values,
        })
    }
}

/// The one definition of "this event is verified, with these licenses": used alone, and inside
/// the issuance transaction.
pub(crate) struct VerifiedUpdate {
    pub expression: &'static str,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl VerifiedUpdate {
    pub(crate) fn new(purchase_ref: Option<&str>, license_ids: &[String]) -> Self {
        let mut values = HashMap::from([
            (
                ":verified".to_string(),
                AttributeValue::S(EventStatus::Verified.as_str().into()),
            ),
            (
                ":ids".to_string(),
                AttributeValue::L(
                    license_ids
                        .iter()
                        .map(|i| AttributeValue::S(i.clone()))
                        .collect(),
                ),
            ),
        ]);
        let expression = match purchase_ref {
            Some(p) => {
                values.insert(":p".to_string(), AttributeValue::S(p.to_string()));
                "SET #s = :verified, licenseIds = :ids, purchaseRef = :p REMOVE #e"
            }
            None => "SET #s = :verified, licenseIds = :ids REMOVE #e",
        };
        VerifiedUpdate {
            expression,
            names: HashMap::from([
                ("#s".to_string(), "status".to_string()),
                ("#e".to_string(), "error".to_string()),
            ]),
            values,
        }
    }
}
