//! Purchase records: the idempotency anchor of issuance, and the state of the license email.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use time::OffsetDateTime;

use super::applied;
use super::{dynamo_err, keys, Store};
use crate::domain::{EmailStatus, Purchase};
use crate::{Error, Result};

impl Store {
    pub async fn get_purchase(
        &self,
        tenant_id: &str,
        purchase_ref: &str,
    ) -> Result<Option<Purchase>> {
        self.get(keys::purchase(tenant_id, purchase_ref)).await
    }

    /// Takes the right to send a purchase's email until `until`. `Ok(false)` when the email was
    /// already sent, is not wanted, or another mailer holds an unexpired claim.
    pub async fn claim_email(
        &self,
        tenant_id: &str,
        purchase_ref: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(keys::purchase(tenant_id, purchase_ref))))
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

    /// Gives a claim back after a failed send, so the next delivery can try again.
    pub async fn release_email_claim(&self, tenant_id: &str, purchase_ref: &str) -> Result<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(keys::purchase(
                tenant_id,
                purchase_ref,
            ))))
            .update_expression("REMOVE emailClaimUntil")
            .send()
            .await
            .map_err(dynamo_err)?;
        Ok(())
    }

    /// Records the outcome of the email on the purchase and each of its licenses, atomically,
    /// and releases the claim.
    pub async fn set_email_status(&self, purchase: &Purchase, status: EmailStatus) -> Result<()> {
        let status_value = AttributeValue::S(status.as_str().into());
        let update = |key: keys::Key, remove_claim: bool| {
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
        let mut items = vec![update(
            keys::purchase(&purchase.tenant_id, &purchase.purchase_ref),
            true,
        )?];
        for id in &purchase.license_ids {
            items.push(update(keys::license(id), false)?);
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

impl Store {
    /// Sets a purchase's email back to `pending` (to `email`), for a resend; the record after.
    pub async fn request_email(
        &self,
        tenant_id: &str,
        purchase_ref: &str,
        email: &str,
    ) -> Result<Purchase> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(keys::purchase(
                tenant_id,
                purchase_ref,
            ))))
            .update_expression(
                "SET emailStatus = :pending, customerEmail = :e REMOVE emailClaimUntil",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
            .expression_attribute_values(":e", AttributeValue::S(email.into()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await
            .map_err(dynamo_err)?;
        out.attributes
            .map(Self::record)
            .transpose()?
            .ok_or_else(|| Error::internal("purchase update returned nothing"))
    }
}
