//! Contact-change requests and their confirmation links (`domain::contact_change`): the
//! request by its id (what the mail queue names), the link by the SHA-256 of its token, used
//! up by a conditional delete so exactly one confirmation gets it.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::{applied, dynamo_err, table_keys, Store};
use crate::domain::contact_change::ContactChange;
use crate::{Error, Result};

impl Store {
    pub async fn put_contact_change_request(&self, change: &ContactChange) -> Result<()> {
        let item = Self::item(change, table_keys::contact_change_request(&change.id))?;
        if !self.put_new(item).await? {
            return Err(Error::Conflict(
                "contact-change request already exists".into(),
            ));
        }
        Ok(())
    }

    pub async fn get_contact_change_request(&self, id: &str) -> Result<Option<ContactChange>> {
        self.get(table_keys::contact_change_request(id)).await
    }

    /// Claims the sending of a request's email; `Ok(false)` if it was already claimed.
    pub async fn mark_contact_change_sent(&self, id: &str) -> Result<bool> {
        applied(
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(Self::key_attrs(table_keys::contact_change_request(
                    id,
                ))))
                .update_expression("SET sentAt = :now")
                .condition_expression("attribute_exists(pk) AND attribute_not_exists(sentAt)")
                .expression_attribute_values(
                    ":now",
                    AttributeValue::S(crate::time::format(crate::time::now())),
                )
                .send()
                .await,
        )
    }

    pub async fn put_contact_change_link(
        &self,
        token_hash: &str,
        change: &ContactChange,
    ) -> Result<()> {
        let item = Self::item(change, table_keys::contact_change_link(token_hash))?;
        if !self.put_new(item).await? {
            return Err(Error::Conflict("contact-change link already exists".into()));
        }
        Ok(())
    }

    /// Uses a link of `tenant_id` up: deletes it and returns what it was, so exactly one
    /// request gets it; `None` when it never existed, was used, or is another tenant's (which
    /// stays). The caller checks the expiry.
    pub async fn take_contact_change_link(
        &self,
        tenant_id: &str,
        token_hash: &str,
    ) -> Result<Option<ContactChange>> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::contact_change_link(
                token_hash,
            ))))
            .condition_expression("attribute_exists(pk) AND tenantId = :t")
            .expression_attribute_values(":t", AttributeValue::S(tenant_id.to_string()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match out {
            Ok(out) => out.attributes.map(Self::record).transpose(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(dynamo_err(e)),
        }
    }
}
