//! The license item as the validation routes use it: the license and its
//! [`LicenseUsage`] in one strongly consistent read, and a decided [`LicenseChange`] in one
//! conditional UpdateItem. The condition is the version and status read: a write decided on a
//! stale read fails, and the caller re-reads and decides again.
//!
//! A device newly activated on the license is recorded per (product, device) in the same
//! `TransactWriteItems` as the license write, so the record that makes "never activated for
//! this product" exact for trials never misses an activation. (The emulator's transactions are
//! not isolated on their own; `scripts/moto_server.py` serialises its DynamoDB operations, see
//! docs/validation.md.)

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use serde::Serialize;
use time::OffsetDateTime;

use super::applied;
use super::{dynamo_err, table_keys, Store};
use crate::domain::activity::{self, Origin};
use crate::domain::validation::usage::ATTRIBUTES;
use crate::domain::validation::{LicenseChange, LicenseUsage};
use crate::domain::License;
use crate::{Error, Result};

/// What writing a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeWrite {
    Written,
    /// The license changed since it was read (or vanished); nothing was written.
    Stale,
}

fn value<T: Serialize>(v: &T) -> Result<AttributeValue> {
    serde_dynamo::to_attribute_value(v)
        .map_err(|e| Error::internal(format!("serialising attribute: {e}")))
}

impl Store {
    /// Writes `part` as the license item's `attribute` if the item's `version_attribute` is
    /// still `version` (0: never written) and its status the one read, and bumps the version:
    /// the seats (`leases`) and the usage counts (`meters`) each change under their own version,
    /// so neither makes the other retry.
    pub(super) async fn write_versioned<T: Serialize>(
        &self,
        license: &License,
        attribute: &str,
        version_attribute: &str,
        version: u64,
        part: &T,
    ) -> Result<ChangeWrite> {
        let mut values = HashMap::from([
            (":part".to_string(), value(part)?),
            (
                ":next".to_string(),
                AttributeValue::N((version + 1).to_string()),
            ),
            (":status".to_string(), value(&license.status)?),
        ]);
        let condition = if version == 0 {
            "attribute_exists(pk) AND #status = :status AND attribute_not_exists(#v)"
        } else {
            values.insert(":v".into(), AttributeValue::N(version.to_string()));
            "attribute_exists(pk) AND #status = :status AND #v = :v"
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::license(&license.id))))
            .update_expression("SET #part = :part, #v = :next")
            .condition_expression(condition)
            .expression_attribute_names("#part", attribute)
            .expression_attribute_names("#v", version_attribute)
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        Ok(if applied(result)? {
            ChangeWrite::Written
        } else {
            ChangeWrite::Stale
        })
    }

    /// The license with this id and its usage: one GetItem (strongly consistent), the hot
    /// path of the validation routes, signed directly (`signed_get`).
    pub async fn get_license_with_usage(
        &self,
        license_id: &str,
    ) -> Result<Option<(License, LicenseUsage)>> {
        let Some(mut item) = self
            .get_item_signed(table_keys::license(license_id))
            .await?
        else {
            return Ok(None);
        };
        let usage: HashMap<String, serde_dynamo::AttributeValue> = ATTRIBUTES
            .iter()
            .filter_map(|a| item.remove_entry(*a))
            .collect();
        Ok(Some((Self::record(item)?, Self::record(usage)?)))
    }

    /// Writes `change`, decided from `license` and `usage` as read, if neither the version nor
    /// the status changed since. A device activated or freed is recorded in the license's
    /// activity log by the same write, made by `origin`.
    pub async fn write_license_change(
        &self,
        license: &License,
        usage: &LicenseUsage,
        change: &LicenseChange,
        now: OffsetDateTime,
        origin: &Origin,
    ) -> Result<ChangeWrite> {
        let mut sets = vec!["#version = :next", "updatedAt = :now"];
        let mut names = HashMap::from([
            ("#version".to_string(), "version".to_string()),
            ("#status".to_string(), "status".to_string()),
        ]);
        let mut values = HashMap::from([
            (
                ":next".to_string(),
                AttributeValue::N((usage.version + 1).to_string()),
            ),
            (
                ":now".to_string(),
                AttributeValue::S(crate::time::format(now)),
            ),
            (":status".to_string(), value(&license.status)?),
        ]);
        let mut entries = Vec::new();
        if let Some(devices) = &change.devices {
            sets.push("devices = :devices");
            values.insert(":devices".into(), value(devices)?);
            entries = activity::describe_devices(&license.devices, devices, origin, now);
        }
        if !entries.is_empty() {
            let (n, v) = super::activity::append_values(&entries)?;
            sets.push(super::activity::APPEND);
            names.extend(n);
            values.extend(v);
        }
        if let Some(ips) = &change.ips {
            sets.push("ips = :ips");
            values.insert(":ips".into(), value(ips)?);
        }
        if let Some(frees) = &change.self_service_frees {
            sets.push("selfServiceFrees = :frees");
            values.insert(":frees".into(), value(frees)?);
        }
        if let Some(budget) = &change.device_changes {
            sets.push("deviceChanges = :changes");
            values.insert(":changes".into(), value(budget)?);
        }
        if let Some(expires_at) = change.expires_at {
            sets.push("expiresAt = :expires");
            values.insert(
                ":expires".into(),
                AttributeValue::S(crate::time::format(expires_at)),
            );
        }
        let condition = if usage.version == 0 {
            "attribute_exists(pk) AND #status = :status AND attribute_not_exists(#version)"
        } else {
            values.insert(
                ":version".into(),
                AttributeValue::N(usage.version.to_string()),
            );
            "attribute_exists(pk) AND #status = :status AND #version = :version"
        };
        let key = Self::key_attrs(table_keys::license(&license.id));
        let expression = format!("SET {}", sets.join(", "));
        let Some(device) = &change.activated else {
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key))
                .update_expression(expression)
                .condition_expression(condition)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values))
                .send()
                .await;
            if !applied(result)? {
                return Ok(ChangeWrite::Stale);
            }
            self.trim_activity(&license.id, usage.activity.len() + entries.len())
                .await;
            return Ok(ChangeWrite::Written);
        };
        let license_update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(expression)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| Error::internal(e.to_string()))?;
        // A new device: the license and the product's device record change together, in one
        // conditional write (the device record is what makes "never activated" trials exact).
        let device_update = self.activation_update(
            &license.tenant_id,
            &license.product_id,
            device,
            &license.id,
            now,
        )?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(license_update).build())
            .transact_items(TransactWriteItem::builder().update(device_update).build())
            .send()
            .await;
        match result {
            Ok(_) => {}
            // The license changed since it was read (condition failed), or another write raced
            // this one (conflict): decide again from a fresh read.
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(TransactWriteItemsError::TransactionCanceledException(_))
                ) =>
            {
                return Ok(ChangeWrite::Stale)
            }
            Err(e) => return Err(dynamo_err(e)),
        }
        self.trim_activity(&license.id, usage.activity.len() + entries.len())
            .await;
        Ok(ChangeWrite::Written)
    }
}
