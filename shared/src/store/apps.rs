//! Stripe apps. Keyed by app id (the direct webhook URL names only the app); listed per tenant
//! through `gsi1`; apps able to receive webhooks are also in the sparse `gsi2`, by mode.

use aws_sdk_dynamodb::types::AttributeValue;

use super::{applied, dynamo_err, table_keys, Page, Store};
use crate::domain::StripeApp;
use crate::Result;

/// The stored attributes of an app's sealed secrets (as `StripeApp` serialises them).
pub mod sealed_attributes {
    pub const SECRET_KEY: &str = "secretKeySealed";
    pub const WEBHOOK_SECRET: &str = "webhookSecretSealed";
    pub const PREVIOUS_WEBHOOK_SECRET: &str = "previousWebhookSecretSealed";
}

impl Store {
    fn app_item(app: &StripeApp) -> Result<super::Item> {
        let item = Self::item(app, table_keys::app(&app.id))?;
        let mut item = Self::with_gsi1(
            item,
            &app.tenant_id,
            format!(
                "{}{}#{}",
                table_keys::listing::APPS,
                crate::time::format(app.created_at),
                app.id
            ),
        );
        if app.active && app.webhook_secret_sealed.is_some() {
            item.insert(
                table_keys::GSI2_PK.into(),
                AttributeValue::S(table_keys::webhook_partition(app.is_live)),
            );
            item.insert(
                table_keys::GSI2_SK.into(),
                AttributeValue::S(app.id.clone()),
            );
        }
        Ok(item)
    }

    /// An app by id, whoever owns it (webhook routing by URL).
    pub async fn get_app(&self, app_id: &str) -> Result<Option<StripeApp>> {
        self.get(table_keys::app(app_id)).await
    }

    /// An app of this tenant.
    pub async fn get_tenant_app(&self, tenant_id: &str, app_id: &str) -> Result<Option<StripeApp>> {
        self.get_owned(table_keys::app(app_id), tenant_id).await
    }

    /// Replaces one sealed secret of an app (its stored attribute, e.g. `webhookSecretSealed`)
    /// if it is still `old`: a re-seal never puts back a secret changed meanwhile. `Ok(false)`
    /// when it changed (or the app is gone or not the tenant's).
    pub async fn reseal_app_secret(
        &self,
        tenant_id: &str,
        app_id: &str,
        attribute: &str,
        old: &str,
        new: &str,
    ) -> Result<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::app(app_id))))
            .update_expression("SET #f = :new")
            .condition_expression("#f = :old AND tenantId = :t")
            .expression_attribute_names("#f", attribute)
            .expression_attribute_values(":new", AttributeValue::S(new.into()))
            .expression_attribute_values(":old", AttributeValue::S(old.into()))
            .expression_attribute_values(":t", AttributeValue::S(tenant_id.into()))
            .send()
            .await;
        applied(result)
    }

    /// Writes the result of a check with Stripe on an app (only those attributes, so a check
    /// never undoes an edit made meanwhile). `Ok(false)` when the app is gone.
    pub async fn set_app_checks(
        &self,
        tenant_id: &str,
        app_id: &str,
        checked_at: time::OffsetDateTime,
        checks: &[crate::domain::stripe_app::AppCheck],
    ) -> Result<bool> {
        let checks = serde_dynamo::to_attribute_value(checks)
            .map_err(|e| crate::Error::internal(format!("writing checks: {e}")))?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::app(app_id))))
            .update_expression("SET checkedAt = :at, checks = :c")
            .condition_expression("attribute_exists(pk) AND tenantId = :t")
            .expression_attribute_values(":at", AttributeValue::S(crate::time::format(checked_at)))
            .expression_attribute_values(":c", checks)
            .expression_attribute_values(":t", AttributeValue::S(tenant_id.into()))
            .send()
            .await;
        applied(result)
    }

    /// Notes that an event Stripe sent for the app verified (its time only).
    pub async fn note_app_verified_event(
        &self,
        app_id: &str,
        at: time::OffsetDateTime,
    ) -> Result<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::app(app_id))))
            .update_expression("SET lastVerifiedEventAt = :at")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":at", AttributeValue::S(crate::time::format(at)))
            .send()
            .await;
        applied(result)
    }

    pub async fn delete_app(&self, tenant_id: &str, app_id: &str) -> Result<bool> {
        self.delete_owned(table_keys::app(app_id), tenant_id).await
    }

    pub async fn list_apps(
        &self,
        tenant_id: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<Page<StripeApp>> {
        self.list_tenant(
            tenant_id,
            table_keys::listing::APPS,
            limit,
            cursor,
            false,
            &[],
        )
        .await
    }

    /// Every app of a tenant (apps per tenant are few).
    pub async fn all_tenant_apps(&self, tenant_id: &str) -> Result<Vec<StripeApp>> {
        let mut all = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.list_apps(tenant_id, 200, cursor.as_deref()).await?;
            all.extend(page.items);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(all),
            }
        }
    }

    /// Every active app with a signing secret in one mode, across tenants: the candidates for
    /// the shared webhook URL.
    pub async fn webhook_apps(&self, is_live: bool) -> Result<Vec<StripeApp>> {
        let mut all = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(table_keys::GSI2)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", table_keys::GSI2_PK)
                .expression_attribute_values(
                    ":pk",
                    AttributeValue::S(table_keys::webhook_partition(is_live)),
                )
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(dynamo_err)?;
            for item in out.items.unwrap_or_default() {
                all.push(Self::record(item)?);
            }
            match out.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return Ok(all),
            }
        }
    }
}

impl Store {
    /// Saves an app (created when `is_new`) and the apps it demotes from default, atomically.
    pub async fn save_apps(
        &self,
        app: &StripeApp,
        is_new: bool,
        demoted: &[StripeApp],
    ) -> Result<()> {
        use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
        let put = |a: &StripeApp, new: bool| -> Result<TransactWriteItem> {
            let mut p = Put::builder()
                .table_name(&self.table)
                .set_item(Some(Self::app_item(a)?));
            p = if new {
                p.condition_expression("attribute_not_exists(pk)")
            } else {
                p.condition_expression("attribute_exists(pk) AND tenantId = :t")
                    .expression_attribute_values(":t", AttributeValue::S(a.tenant_id.clone()))
            };
            Ok(TransactWriteItem::builder()
                .put(
                    p.build()
                        .map_err(|e| crate::Error::internal(e.to_string()))?,
                )
                .build())
        };
        let mut items = vec![put(app, is_new)?];
        for d in demoted {
            items.push(put(d, false)?);
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

#[cfg(test)]
mod tests {
    use super::sealed_attributes;
    use crate::domain::stripe_app::{ConnectSettings, StripeApp};

    #[test]
    fn sealed_attributes_are_the_stored_names() {
        let now = crate::time::now();
        let app = StripeApp {
            id: "app_1".into(),
            tenant_id: "ten_1".into(),
            name: "App".into(),
            publishable_key: None,
            secret_key_sealed: Some("a".into()),
            webhook_secret_sealed: Some("b".into()),
            previous_webhook_secret_sealed: Some("c".into()),
            default_currency: "usd".into(),
            is_live: false,
            active: true,
            is_default: true,
            connect: ConnectSettings::default(),
            link: Default::default(),
            created_at: now,
            updated_at: now,
        };
        let stored = serde_json::to_value(&app).unwrap();
        assert_eq!(stored[sealed_attributes::SECRET_KEY], "a");
        assert_eq!(stored[sealed_attributes::WEBHOOK_SECRET], "b");
        assert_eq!(stored[sealed_attributes::PREVIOUS_WEBHOOK_SECRET], "c");
    }
}
