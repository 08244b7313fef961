//! The one transaction that issues a purchase: the purchase record (only if new), its licenses,
//! and the event log entry turning `verified`, all or nothing. Concurrent deliveries of events
//! for the same purchase race on the purchase record's condition; exactly one wins.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};

use super::{dynamo_err, keys, Store};
use crate::domain::{License, Purchase};
use crate::{Error, Result};

/// What committing a purchase did.
#[derive(Debug)]
pub enum IssueOutcome {
    /// This call issued the licenses.
    Issued,
    /// The purchase had already issued; nothing was written. Its record is returned.
    AlreadyIssued(Box<Purchase>),
}

impl Store {
    pub async fn commit_purchase(
        &self,
        purchase: &Purchase,
        licenses: &[License],
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
            keys::purchase(&purchase.tenant_id, &purchase.purchase_ref),
        )?)?];
        for l in licenses {
            items.push(put_new(Self::license_item(l)?)?);
        }
        if let Some(event_id) = &purchase.event_id {
            items.push(self.event_verified_update(purchase, event_id)?);
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(IssueOutcome::Issued),
            Err(e) => {
                let purchase_exists = matches!(
                    e.as_service_error(),
                    Some(TransactWriteItemsError::TransactionCanceledException(c))
                        if c.cancellation_reasons().first()
                            .and_then(|r| r.code()) == Some("ConditionalCheckFailed")
                );
                if !purchase_exists {
                    return Err(dynamo_err(e));
                }
                let existing = self
                    .get_purchase(&purchase.tenant_id, &purchase.purchase_ref)
                    .await?
                    .ok_or_else(|| {
                        Error::aws("dynamodb", "purchase condition failed but record not found")
                    })?;
                Ok(IssueOutcome::AlreadyIssued(Box::new(existing)))
            }
        }
    }

    /// The event log entry of the issuing event turns `verified`, with its licenses.
    fn event_verified_update(
        &self,
        purchase: &Purchase,
        event_id: &str,
    ) -> Result<TransactWriteItem> {
        let update =
            super::events::VerifiedUpdate::new(Some(&purchase.purchase_ref), &purchase.license_ids);
        let event_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(keys::event(
                &purchase.tenant_id,
                event_id,
            ))))
            .update_expression(update.expression)
            .condition_expression("attribute_exists(pk)")
            .set_expression_attribute_names(Some(update.names))
            .set_expression_attribute_values(Some(update.values))
            .build()
            .map_err(|e| Error::internal(e.to_string()))?;
        Ok(TransactWriteItem::builder().update(event_update).build())
    }
}
