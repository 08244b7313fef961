//! The one transaction that issues a purchase: the purchase record (only if new), its licenses,
//! and the event log entry turning `verified` (created if the event was not recorded before),
//! all or nothing. Concurrent deliveries of events
//! for the same purchase race on the purchase record's condition; exactly one wins.
//!
//! A subscription's first purchase may be named two ways (its Checkout Session when the session
//! does not name its invoice, and that invoice): it also claims `FIRST#<sub_…>` in the same
//! transaction, so whichever of the two events commits first issues and the other finds the
//! purchase through the claim.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};

use super::{dynamo_err, table_keys, Store};
use crate::domain::activity::{Action, ActivityEntry, Origin};
use crate::domain::{EventLogEntry, License, Purchase};
use crate::{Error, Result};

/// What committing a purchase did.
#[derive(Debug)]
pub enum IssueOutcome {
    /// This call issued the licenses; `logged` when the event's log entry turned `verified`
    /// in the same transaction (it is left out when the transaction would be too large).
    Issued { logged: bool },
    /// The purchase had already issued; nothing was written. Its record is returned.
    AlreadyIssued(Box<Purchase>),
}

/// DynamoDB's limit of actions in one transaction.
const MAX_TRANSACTION_ITEMS: usize = 100;

/// The claim on a subscription's first purchase (`FIRST#<sub_…>` in the tenant's partition).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct FirstPurchase<'a> {
    tenant_id: &'a str,
    purchase_ref: &'a str,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct FirstPurchaseRecord {
    purchase_ref: String,
}

impl Store {
    pub async fn commit_purchase(
        &self,
        purchase: &Purchase,
        licenses: &[License],
        first_purchase_of: Option<&str>,
        event: Option<&EventLogEntry>,
        origin: &Origin,
    ) -> Result<IssueOutcome> {
        let put_new = |item| {
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map(|p| TransactWriteItem::builder().put(p).build())
                .map_err(|e| Error::internal(e.to_string()))
        };
        let mut items = vec![put_new(Self::item(
            purchase,
            table_keys::purchase(&purchase.tenant_id, &purchase.purchase_ref),
        )?)?];
        if let Some(subscription_id) = first_purchase_of {
            let claim = FirstPurchase {
                tenant_id: &purchase.tenant_id,
                purchase_ref: &purchase.purchase_ref,
            };
            items.push(put_new(Self::item(
                &claim,
                table_keys::first_purchase(&purchase.tenant_id, subscription_id),
            )?)?);
        }
        for l in licenses {
            let issued = ActivityEntry::new(Action::Issued, origin, l.created_at);
            items.push(put_new(Self::new_license_item(l, issued)?)?);
        }
        // The log entry (recorded here if it was not yet: the purchase webhook records an
        // event first only when it must) fits unless the purchase is as large as a
        // transaction allows; then the handler records it after the commit (a redelivery
        // finds the purchase either way).
        let logged = match event {
            Some(entry) if items.len() < MAX_TRANSACTION_ITEMS => {
                items.push(self.event_verified_update(purchase, entry)?);
                true
            }
            _ => false,
        };
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let failed_at = |i: usize| {
            matches!(
                result.as_ref().err().and_then(|e| e.as_service_error()),
                Some(TransactWriteItemsError::TransactionCanceledException(c))
                    if c.cancellation_reasons().get(i)
                        .and_then(|r| r.code()) == Some("ConditionalCheckFailed")
            )
        };
        // The purchase exists under its own name, or (a subscription's first purchase) under
        // the other name its other event gives it.
        let existing_ref = if failed_at(0) {
            Some(purchase.purchase_ref.clone())
        } else if let (Some(subscription_id), true) = (first_purchase_of, failed_at(1)) {
            let claim: Option<FirstPurchaseRecord> = self
                .get(table_keys::first_purchase(
                    &purchase.tenant_id,
                    subscription_id,
                ))
                .await?;
            Some(
                claim
                    .ok_or_else(|| {
                        Error::aws(
                            "dynamodb",
                            "first-purchase condition failed but claim not found",
                        )
                    })?
                    .purchase_ref,
            )
        } else {
            None
        };
        match (result, existing_ref) {
            (Ok(_), _) => Ok(IssueOutcome::Issued { logged }),
            (Err(e), None) => Err(dynamo_err(e)),
            (Err(_), Some(existing_ref)) => {
                let existing = self
                    .get_purchase(&purchase.tenant_id, &existing_ref)
                    .await?
                    .ok_or_else(|| {
                        Error::aws("dynamodb", "purchase condition failed but record not found")
                    })?;
                Ok(IssueOutcome::AlreadyIssued(Box::new(existing)))
            }
        }
    }

    /// The event log entry of the issuing event turns `verified` (recorded now if it was not
    /// yet), with its licenses.
    fn event_verified_update(
        &self,
        purchase: &Purchase,
        entry: &EventLogEntry,
    ) -> Result<TransactWriteItem> {
        let update = super::events::VerifiedUpsert::new(
            entry,
            Some(&purchase.purchase_ref),
            &purchase.license_ids,
        )?;
        let event_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::event(
                &purchase.tenant_id,
                &entry.event_id,
            ))))
            .update_expression(update.expression)
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values))
            .build()
            .map_err(|e| Error::internal(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(event_update).build())
    }
}
