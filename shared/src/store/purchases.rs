//! Purchase records: the idempotency anchor of issuance, and the state of the license email.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem, Update};
use time::OffsetDateTime;

use super::{applied, updated_record};
use super::{dynamo_err, table_keys, Store};
use crate::domain::{EmailStatus, Purchase};
use crate::{Error, Result};

impl Store {
    pub async fn get_purchase(
        &self,
        tenant_id: &str,
        purchase_ref: &str,
    ) -> Result<Option<Purchase>> {
        self.get(table_keys::purchase(tenant_id, purchase_ref))
            .await
    }

    /// Takes the right to send an email until `until`. `Ok(false)` when it was already sent,
    /// is not wanted, or another mailer holds an unexpired claim.
    pub async fn claim_email(
        &self,
        anchor: &EmailAnchor,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(anchor.key())))
            .update_expression("SET emailClaimUntil = :until")
            .condition_expression(
                "emailStatus IN (:pending, :failed) AND (attribute_not_exists(emailClaimUntil) OR emailClaimUntil < :now)",
            )
            .expression_attribute_values(":until", AttributeValue::S(crate::time::format(until)))
            .expression_attribute_values(":now", AttributeValue::S(crate::time::format(now)))
            .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
            .expression_attribute_values(":failed", AttributeValue::S("failed".into()))
            .send()
            .await;
        applied(result)
    }

    /// Takes the right to send a purchase's email until `until`, in one write that also reads
    /// the purchase (the mailer's first call): `Ok(Some(purchase))` as it stands with the
    /// claim, `Ok(None)` when there is nothing to claim (no such purchase; its email is not
    /// pending, i.e. sent, failed or not wanted; or another mailer holds an unexpired claim).
    pub async fn claim_purchase_email(
        &self,
        tenant_id: &str,
        purchase_ref: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Option<Purchase>> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::purchase(tenant_id, purchase_ref))))
            .update_expression("SET emailClaimUntil = :until")
            .condition_expression(
                "emailStatus = :pending AND (attribute_not_exists(emailClaimUntil) OR emailClaimUntil < :now)",
            )
            .expression_attribute_values(":until", AttributeValue::S(crate::time::format(until)))
            .expression_attribute_values(":now", AttributeValue::S(crate::time::format(now)))
            .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        updated_record(result)
    }

    /// Gives a claim back after a failed send (or an unrecorded one), so the next delivery can
    /// try again at once.
    pub async fn release_email_claim(&self, anchor: &EmailAnchor) -> Result<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(anchor.key())))
            .update_expression("REMOVE emailClaimUntil")
            .condition_expression("attribute_exists(pk)")
            .send()
            .await
            .map_err(dynamo_err)?;
        Ok(())
    }

    /// Records the outcome of an email on its anchor and on each license it carried,
    /// atomically, and releases the claim.
    pub async fn set_email_status(
        &self,
        anchor: &EmailAnchor,
        license_ids: &[String],
        status: EmailStatus,
    ) -> Result<()> {
        let status_value = AttributeValue::S(status.as_str().into());
        let update = |key: table_keys::Key, remove_claim: bool| {
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(Self::key_attrs(key)))
                .update_expression(if remove_claim {
                    "SET emailStatus = :s REMOVE emailClaimUntil"
                } else {
                    "SET emailStatus = :s"
                })
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":s", status_value.clone())
                .build()
                .map(|u| TransactWriteItem::builder().update(u).build())
                .map_err(|e| Error::internal(e.to_string()))
        };
        let mut items = vec![update(anchor.key(), true)?];
        for id in license_ids {
            if !matches!(anchor, EmailAnchor::License { license_id, .. } if license_id == id) {
                items.push(update(table_keys::license(id), false)?);
            }
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(dynamo_err)?;
        Ok(())
    }
}

/// The record that holds an email's state and claim: the purchase, for the email of a
/// purchase; the license, for a resend of one license's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailAnchor {
    Purchase {
        tenant_id: String,
        purchase_ref: String,
    },
    License {
        license_id: String,
    },
}

impl EmailAnchor {
    fn key(&self) -> table_keys::Key {
        match self {
            EmailAnchor::Purchase {
                tenant_id,
                purchase_ref,
            } => table_keys::purchase(tenant_id, purchase_ref),
            EmailAnchor::License { license_id } => table_keys::license(license_id),
        }
    }
}

impl Store {
    /// Sets a license's email back to `pending` for a resend (the license's keys to its
    /// current customer email). `Ok(false)` when the license is not the tenant's.
    pub async fn request_license_email(
        &self,
        tenant_id: &str,
        license_id: &str,
        origin: &crate::domain::activity::Origin,
    ) -> Result<bool> {
        use crate::domain::activity::{Action, ActivityEntry};
        let entry = ActivityEntry::new(Action::EmailResent, origin, crate::time::now());
        let (names, values) = super::activity::append_values(&[entry])?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::license(license_id))))
            .update_expression(format!(
                "SET emailStatus = :pending, {} REMOVE emailClaimUntil",
                super::activity::APPEND
            ))
            .condition_expression("attribute_exists(pk) AND tenantId = :t")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
            .expression_attribute_values(":t", AttributeValue::S(tenant_id.into()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await;
        // The log's length as written (the resend did not read the license item).
        let length = result.as_ref().ok().and_then(|out| {
            out.attributes
                .as_ref()?
                .get("activity")?
                .as_l()
                .ok()
                .map(Vec::len)
        });
        let written = applied(result)?;
        if let Some(length) = length {
            self.trim_activity(license_id, length).await;
        }
        Ok(written)
    }
}
