//! Checkout sessions Keyhook created: tenant-partition records (`CHECKOUT#<cs_…>`, see
//! `tenant_items`), keyed by the same Stripe id as the purchase the webhook records, so a
//! session and what it issued are two reads by key apart.

use super::table_keys::{self, kind};
use super::Store;
use crate::domain::checkout::CheckoutSessionRecord;
use crate::Result;

impl Store {
    /// Records a created session (replacing it, e.g. when an idempotent retry returns it again).
    pub async fn put_checkout_session(&self, record: &CheckoutSessionRecord) -> Result<()> {
        self.put_tenant_item(
            &record.tenant_id,
            kind::CHECKOUT_SESSION,
            &record.session_id,
            record,
        )
        .await
    }

    pub async fn get_checkout_session(
        &self,
        tenant_id: &str,
        session_id: &str,
    ) -> Result<Option<CheckoutSessionRecord>> {
        self.get_tenant_item(tenant_id, kind::CHECKOUT_SESSION, session_id)
            .await
    }

    /// Records on a session Keyhook created which purchase its webhook issued. `Ok(false)` for
    /// sessions Keyhook did not create (Payment Links, merchants' own): nothing is written.
    pub async fn link_checkout_session(
        &self,
        tenant_id: &str,
        session_id: &str,
        purchase_ref: &str,
    ) -> Result<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs((
                table_keys::tenant_partition(tenant_id),
                format!("{}{session_id}", kind::CHECKOUT_SESSION),
            ))))
            .update_expression("SET purchaseRef = :p")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(
                ":p",
                aws_sdk_dynamodb::types::AttributeValue::S(purchase_ref.into()),
            )
            .send()
            .await;
        super::applied(result)
    }
}
