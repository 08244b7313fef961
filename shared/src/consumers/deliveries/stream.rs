//! The table's stream, consumed: each record's old and new image go through
//! [`derive`](crate::domain::webhooks::derive), and what they mean is emitted (or, for a timer,
//! stored for the sweep). Lambda's DynamoDB event source delivers the records in order per
//! item; locally `keyhook`'s stream worker reads the same stream and calls the same handler.
//!
//! Each item's records are processed in order, items side by side ([`ITEMS_AT_ONCE`]). A record
//! that fails for a transient reason (an AWS service failing: [`is_transient`]) stops its item; the
//! batch's earliest such record's sequence number is reported (`batchItemFailures`), so Lambda
//! retries from there, at most [`MAX_RETRY_ATTEMPTS`] times and until the record is
//! [`MAX_RECORD_AGE`] old; then its position goes to the dead-letter queue and the shard moves on
//! (infra/template.yaml; the local stream worker does the same). A failure that can never pass is
//! not retried: the event is recorded as a failed delivery the tenant sees (`emit`), or, when it
//! cannot be tied to one, logged, and the batch goes on. So no tenant's record holds the others'
//! events behind it for longer than an AWS outage. Records processed twice emit nothing new: event
//! and delivery ids are derived from them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::{FutureExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;

use super::emit::{Emitter, OutgoingEvent};
use super::{is_transient, payload};
use crate::domain::activity::Actor;
use crate::domain::webhooks::derive::{self, Change, Derived};
use crate::domain::webhooks::EventType;
use crate::store::timers::Timer;
use crate::{Result, Services};

/// How many times a record failing for a transient reason is retried (Lambda's
/// `MaximumRetryAttempts`; the local stream worker counts the same).
pub const MAX_RETRY_ATTEMPTS: u32 = 1000;

/// How old a record failing for a transient reason may get before it is given up to the
/// dead-letter queue (Lambda's `MaximumRecordAgeInSeconds`; the local stream worker too).
pub const MAX_RECORD_AGE: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// A batch of stream records, as Lambda's DynamoDB event source sends it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StreamEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<StreamRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamRecord {
    #[serde(rename = "eventID")]
    pub event_id: String,
    #[serde(rename = "eventName", default)]
    pub event_name: String,
    #[serde(rename = "eventSource", default)]
    pub event_source: Option<String>,
    pub dynamodb: StreamChange,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamChange {
    /// Seconds since the epoch (to the second on AWS).
    #[serde(default)]
    pub approximate_creation_date_time: Option<f64>,
    #[serde(default)]
    pub keys: Option<serde_dynamo::Item>,
    #[serde(default)]
    pub new_image: Option<serde_dynamo::Item>,
    #[serde(default)]
    pub old_image: Option<serde_dynamo::Item>,
    #[serde(default)]
    pub sequence_number: Option<String>,
}

/// The partial batch response: where Lambda retries from.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamResponse {
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemFailure {
    pub item_identifier: String,
}

impl StreamRecord {
    /// When the change was committed, as the stream says (to the second).
    pub fn created_at(&self) -> Option<OffsetDateTime> {
        self.dynamodb
            .approximate_creation_date_time
            .and_then(|secs| OffsetDateTime::from_unix_timestamp_nanos((secs * 1e9) as i128).ok())
    }

    /// The position to report or resume from.
    pub fn position(&self) -> String {
        self.dynamodb
            .sequence_number
            .clone()
            .unwrap_or_else(|| self.event_id.clone())
    }

    fn change(&self) -> Change {
        let at = self.created_at().unwrap_or_else(crate::time::now);
        Change {
            record_id: self.event_id.clone(),
            at,
            old: self.dynamodb.old_image.clone().map(Into::into),
            new: self.dynamodb.new_image.clone().map(Into::into),
        }
    }
}

/// How many of a batch's items are handled at once (each item's records stay in order).
pub const ITEMS_AT_ONCE: usize = 8;

/// Handles a batch: everything up to the first transient failure is done, the rest is
/// retried; a record that can never succeed is stepped over.
///
/// The records of different items are handled concurrently ([`ITEMS_AT_ONCE`]), each item's
/// in stream order (the order Lambda promises, per item). Each item stops at its own first
/// transient failure, and the earliest failed record in the batch is reported: every record
/// before it is done (its item failed later, or not at all). Records after it may be done
/// too; read again, they emit nothing new (ids derive from the records).
pub async fn handle(s: &Services, event: StreamEvent) -> StreamResponse {
    let records = &event.records;
    let mut emitter = Emitter::new(s);
    // The tenants' endpoints, read once per batch before the items fan out. A failure here
    // is left to the records (each reads what it needs, and fails or is stepped over).
    for tenant_id in batch_tenants(records) {
        // Boxed, as the records' futures: the consumer's future stays within rustc's layout depth.
        if let Err(e) = Box::pin(emitter.prefetch(&tenant_id)).await {
            tracing::warn!(tenant_id, error = %e, "endpoints not read ahead; read per record");
        }
    }
    let emitter = &emitter;
    let outcomes: Vec<(Emitter<'_>, Option<usize>)> =
        futures::stream::iter(by_item(records).into_iter().map(|indexes| {
            // Type-erased: keeps the consumer's future within rustc's layout depth.
            async move {
                let mut emitter = emitter.fork();
                for i in indexes {
                    let record = &records[i];
                    match handle_record(s, &mut emitter, record).await {
                        Ok(()) => {}
                        Err(e) if is_transient(&e) => {
                            tracing::error!(record = %record.event_id, error = %e, "stream record failed; retried from here");
                            return (emitter, Some(i));
                        }
                        Err(e) => {
                            tracing::error!(record = %record.event_id, error = %e, "stream record can never succeed; skipped");
                        }
                    }
                }
                (emitter, None)
            }
            .boxed()
        }))
        .buffer_unordered(ITEMS_AT_ONCE)
        .collect()
        .await;
    let enqueued: usize = outcomes.iter().map(|(e, _)| e.enqueued).sum();
    let failed: usize = outcomes.iter().map(|(e, _)| e.failed).sum();
    if enqueued > 0 || failed > 0 {
        tracing::info!(
            records = records.len(),
            deliveries = enqueued,
            failed,
            "stream batch handled"
        );
    }
    match outcomes.iter().filter_map(|(_, f)| *f).min() {
        Some(i) => StreamResponse {
            batch_item_failures: vec![ItemFailure {
                item_identifier: records[i].position(),
            }],
        },
        None => StreamResponse::default(),
    }
}

/// The batch's record indexes grouped by item (its keys), each group in stream order, the
/// groups in the order of their first record. Records without keys form one group.
fn by_item(records: &[StreamRecord]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        let key = r
            .dynamodb
            .keys
            .as_ref()
            .map(|k| {
                let sorted: BTreeMap<&String, String> =
                    k.iter().map(|(n, v)| (n, format!("{v:?}"))).collect();
                format!("{sorted:?}")
            })
            .unwrap_or_default();
        let g = *index.entry(key).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    groups
}

/// The tenants whose endpoints the batch's events may go to.
fn batch_tenants(records: &[StreamRecord]) -> BTreeSet<String> {
    let mut tenants = BTreeSet::new();
    for r in records {
        for d in derive::derive(&r.change()) {
            let tenant = match &d {
                Derived::Timer { .. } => continue,
                Derived::NewKeyRenewal { tenant_id, .. } => tenant_id,
                Derived::License { license, .. } => &license.tenant_id,
                Derived::TrialStarted { device, .. } => &device.tenant_id,
                Derived::PurchaseFailed { entry, .. } => &entry.tenant_id,
                Derived::EmailFailed { purchase, .. } => &purchase.tenant_id,
            };
            tenants.insert(tenant.clone());
        }
    }
    tenants
}

async fn handle_record(
    s: &Services,
    emitter: &mut Emitter<'_>,
    record: &StreamRecord,
) -> Result<()> {
    let change = record.change();
    if let Some(license_id) = derive::pending_meter_reports(&change) {
        // Boxed: keeps the stream consumer's future shallow enough for rustc's layout query.
        Box::pin(crate::services::meter_reports::report_pending(
            s,
            &license_id,
        ))
        .await?;
    }
    for d in derive::derive(&change) {
        let (tenant_id, kind, id) = match &d {
            Derived::Timer {
                tenant_id,
                license_id,
                kind,
                at,
            } => {
                s.store
                    .put_timer(&Timer {
                        tenant_id: tenant_id.clone(),
                        license_id: license_id.clone(),
                        kind: kind.as_str().to_string(),
                        at: *at,
                    })
                    .await?;
                continue;
            }
            Derived::NewKeyRenewal { .. } => {
                new_key_renewal(s, emitter, &d, change.at).await?;
                continue;
            }
            Derived::License {
                id, kind, license, ..
            } => (license.tenant_id.clone(), *kind, id.clone()),
            Derived::TrialStarted { id, device } => (
                device.tenant_id.clone(),
                EventType::TrialStarted,
                id.clone(),
            ),
            Derived::PurchaseFailed { id, entry } => (
                entry.tenant_id.clone(),
                EventType::PurchaseFailed,
                id.clone(),
            ),
            Derived::EmailFailed { id, purchase } => (
                purchase.tenant_id.clone(),
                EventType::EmailFailed,
                id.clone(),
            ),
        };
        let endpoints = emitter.wanting(&tenant_id, kind).await?;
        if endpoints.is_empty() {
            continue;
        }
        let event = OutgoingEvent {
            id,
            kind,
            at: change.at,
            data: payload::reference_of(&d, change.at),
        };
        emitter
            .emit_read(&endpoints, event, payload::data(s, &d).await)
            .await?;
    }
    Ok(())
}

/// A subscription's licenses replaced by a newer period's: `license.renewed` for each new one.
async fn new_key_renewal(
    s: &Services,
    emitter: &mut Emitter<'_>,
    d: &Derived,
    at: OffsetDateTime,
) -> Result<()> {
    let Derived::NewKeyRenewal {
        id,
        tenant_id,
        subscription_id,
        license_ids,
        previous_license_ids,
    } = d
    else {
        return Ok(());
    };
    let endpoints = emitter
        .wanting(tenant_id, EventType::LicenseRenewed)
        .await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let renewal = |mut data: serde_json::Value| {
        data["subscriptionId"] = json!(subscription_id);
        data["previousLicenseIds"] = json!(previous_license_ids);
        data
    };
    for license in s.store.get_tenant_licenses(tenant_id, license_ids).await? {
        let event = OutgoingEvent {
            id: derive::event_id(&[id, &license.id]),
            kind: EventType::LicenseRenewed,
            at,
            data: payload::reference(&renewal(payload::license_reference(
                &license,
                at,
                Some(Actor::Stripe),
            ))),
        };
        let read = payload::license(s, license, Some(Actor::Stripe))
            .await
            .map(renewal);
        emitter.emit_read(&endpoints, event, read).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u32, pk: &str, sk: &str) -> StreamRecord {
        let keys: serde_dynamo::Item = serde_dynamo::to_item(json!({"pk": pk, "sk": sk})).unwrap();
        StreamRecord {
            event_id: format!("ev-{seq}"),
            event_name: "MODIFY".into(),
            event_source: None,
            dynamodb: StreamChange {
                keys: Some(keys),
                sequence_number: Some(seq.to_string()),
                ..Default::default()
            },
        }
    }

    #[test]
    fn a_batch_is_grouped_by_item_each_in_stream_order() {
        let records = [
            record(1, "T#1", "LIC#a"),
            record(2, "T#1", "LIC#b"),
            record(3, "T#1", "LIC#a"),
            record(4, "T#2", "LIC#a"),
            record(5, "T#1", "LIC#b"),
            StreamRecord {
                dynamodb: StreamChange::default(),
                ..record(6, "", "")
            },
        ];
        assert_eq!(
            by_item(&records),
            vec![vec![0, 2], vec![1, 4], vec![3], vec![5]]
        );
    }
}
