//! Licenses. Keyed by license id, which is derived from the key's lookup hash, so validating a
//! key is one read; listed per tenant through `gsi1`, newest first.

use std::collections::HashMap;

use super::applied;
use super::{keys, Filter, Item, Page, Store};
use crate::domain::License;
use crate::{Error, Result};

impl Store {
    pub(crate) fn license_item(l: &License) -> Result<Item> {
        let item = Self::item(l, keys::license(&l.id))?;
        Ok(Self::with_gsi1(
            item,
            &l.tenant_id,
            format!(
                "{}{}#{}",
                keys::listing::LICENSES,
                crate::time::format(l.created_at),
                l.id
            ),
        ))
    }

    /// A license by id, whoever owns it (validation).
    pub async fn get_license(&self, license_id: &str) -> Result<Option<License>> {
        self.get(keys::license(license_id)).await
    }

    pub async fn get_tenant_license(
        &self,
        tenant_id: &str,
        license_id: &str,
    ) -> Result<Option<License>> {
        self.get_owned(keys::license(license_id), tenant_id).await
    }

    /// Several licenses of a tenant by id (BatchGetItem, strongly consistent), in the order
    /// asked; missing or foreign ones are an error.
    pub async fn get_tenant_licenses(
        &self,
        tenant_id: &str,
        ids: &[String],
    ) -> Result<Vec<License>> {
        let mut found: HashMap<String, License> = HashMap::new();
        for item in self
            .batch_get(ids.iter().map(|id| keys::license(id)).collect())
            .await?
        {
            let l: License = Self::record(item)?;
            if l.tenant_id == tenant_id {
                found.insert(l.id.clone(), l);
            }
        }
        ids.iter()
            .map(|id| {
                found
                    .remove(id)
                    .ok_or_else(|| Error::internal(format!("license {id} is missing")))
            })
            .collect()
    }

    pub async fn list_licenses(
        &self,
        tenant_id: &str,
        limit: usize,
        cursor: Option<&str>,
        filters: &[Filter],
    ) -> Result<Page<License>> {
        self.list_tenant(
            tenant_id,
            keys::listing::LICENSES,
            limit,
            cursor,
            true,
            filters,
        )
        .await
    }
}

impl Store {
    /// Replaces a license's sealed key if it is still `old` (a concurrent change wins).
    pub async fn reseal_license(&self, license_id: &str, old: &str, new: &str) -> Result<bool> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(keys::license(license_id))))
            .update_expression("SET keySealed = :new")
            .condition_expression("keySealed = :old")
            .expression_attribute_values(":new", AttributeValue::S(new.into()))
            .expression_attribute_values(":old", AttributeValue::S(old.into()))
            .send()
            .await;
        applied(result)
    }

    /// Writes the fields an admin may change (status, expiry, limits, customer), leaving the
    /// rest (devices in particular, which activations change concurrently) untouched.
    pub async fn update_license_admin_fields(&self, l: &License) -> Result<()> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let opt = |v: Option<String>| {
            v.map(AttributeValue::S)
                .unwrap_or(AttributeValue::Null(true))
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(keys::license(&l.id))))
            .update_expression(
                "SET #st = :st, expiresAt = :exp, maxDevices = :md, maxIps = :mi, \
                 customerEmail = :ce, customerName = :cn, updatedAt = :up ADD #version :one",
            )
            .condition_expression("attribute_exists(pk) AND tenantId = :t")
            .expression_attribute_names("#st", "status")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":st", AttributeValue::S(l.status.as_str().into()))
            .expression_attribute_values(":exp", opt(l.expires_at.map(crate::time::format)))
            .expression_attribute_values(":md", AttributeValue::N(l.max_devices.to_string()))
            .expression_attribute_values(":mi", AttributeValue::N(l.max_ips.to_string()))
            .expression_attribute_values(":ce", opt(l.customer_email.clone()))
            .expression_attribute_values(":cn", opt(l.customer_name.clone()))
            .expression_attribute_values(
                ":up",
                AttributeValue::S(crate::time::format(l.updated_at)),
            )
            .expression_attribute_values(":t", AttributeValue::S(l.tenant_id.clone()))
            .send()
            .await;
        if !applied(result)? {
            return Err(Error::not_found(format!("License {}", l.id)));
        }
        Ok(())
    }
}
