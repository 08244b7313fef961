//! Licenses. Keyed by license id, which is derived from the key's lookup hash, so validating a
//! key is one read; listed per tenant through `gsi1`, newest first.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::{applied, updated_record};
use super::{table_keys, Filter, Item, Page, Store};
use crate::backoff::Backoff;
use crate::domain::activity::{self, Origin};
use crate::domain::License;
use crate::{Error, Result};

impl Store {
    pub(crate) fn license_item(l: &License) -> Result<Item> {
        let item = Self::item(l, table_keys::license(&l.id))?;
        let mut item = Self::with_gsi1(item, &l.tenant_id, license_sort_key(l));
        item.extend(buyer_keys(l));
        Ok(item)
    }

    /// Puts the tenant's licenses written before the buyer index (owner address, no `gsi2`
    /// keys) into it; how many. Idempotent: each write is conditional on the keys being absent
    /// and the address unchanged, so it never undoes a concurrent change of the address.
    pub async fn index_buyers(&self, tenant_id: &str) -> Result<usize> {
        let mut cursor = None;
        let mut indexed = 0;
        loop {
            let page = self
                .list_licenses(tenant_id, 200, cursor.as_deref(), &[])
                .await?;
            for l in &page.items {
                let Some(email) = &l.customer_email else {
                    continue;
                };
                let mut update = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(Self::key_attrs(table_keys::license(&l.id))))
                    .update_expression("SET #pk2 = :pk2, #sk2 = :sk2")
                    .condition_expression("attribute_not_exists(#pk2) AND customerEmail = :e")
                    .expression_attribute_names("#pk2", table_keys::GSI2_PK)
                    .expression_attribute_names("#sk2", table_keys::GSI2_SK)
                    .expression_attribute_values(":e", AttributeValue::S(email.clone()));
                for (name, value) in buyer_keys(l) {
                    let placeholder = if name == table_keys::GSI2_PK {
                        ":pk2"
                    } else {
                        ":sk2"
                    };
                    update = update.expression_attribute_values(placeholder, value);
                }
                if applied(update.send().await)? {
                    indexed += 1;
                }
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(indexed),
            }
        }
    }

    /// A buyer's licenses with one tenant, newest first (`gsi2`, by owner address, every page).
    pub async fn buyer_licenses(&self, tenant_id: &str, email: &str) -> Result<Vec<License>> {
        let partition = table_keys::buyer_partition(tenant_id, email);
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
                .expression_attribute_values(":pk", AttributeValue::S(partition.clone()))
                .scan_index_forward(false)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(super::dynamo_err)?;
            for item in out.items.unwrap_or_default() {
                let l: License = Self::record(item)?;
                // The index is eventually consistent: an address changed a moment ago may
                // still list the license under the old one.
                if l.tenant_id == tenant_id && owned_by(&l, email) {
                    all.push(l);
                }
            }
            match out.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return Ok(all),
            }
        }
    }

    /// A new license's item, its activity log opened with `entry` (issued, imported).
    pub(crate) fn new_license_item(l: &License, entry: activity::ActivityEntry) -> Result<Item> {
        let mut item = Self::license_item(l)?;
        let (name, value) = super::activity::initial(&[entry])?;
        item.insert(name, value);
        Ok(item)
    }

    /// A license by id, whoever owns it (validation).
    pub async fn get_license(&self, license_id: &str) -> Result<Option<License>> {
        self.get(table_keys::license(license_id)).await
    }

    pub async fn get_tenant_license(
        &self,
        tenant_id: &str,
        license_id: &str,
    ) -> Result<Option<License>> {
        self.get_owned(table_keys::license(license_id), tenant_id)
            .await
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
            .batch_get(ids.iter().map(|id| table_keys::license(id)).collect())
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

    /// A purchase email's records in one read (BatchGetItem, strongly consistent): the
    /// tenant's licenses of these ids (missing or foreign ones are an error), in the order
    /// asked, and those of these products that exist.
    pub async fn get_licenses_and_products(
        &self,
        tenant_id: &str,
        license_ids: &[String],
        product_ids: &[String],
    ) -> Result<(Vec<License>, Vec<crate::domain::Product>)> {
        let wanted = license_ids
            .iter()
            .map(|id| table_keys::license(id))
            .chain(product_ids.iter().map(|id| table_keys::product(id)))
            .collect();
        let mut licenses: HashMap<String, License> = HashMap::new();
        let mut products = Vec::new();
        for item in self.batch_get(wanted).await? {
            let is_product =
                matches!(item.get(table_keys::SK), Some(AttributeValue::S(sk)) if sk == "PRODUCT");
            if is_product {
                let p: crate::domain::Product = Self::record(item)?;
                if p.tenant_id == tenant_id {
                    products.push(p);
                }
            } else {
                let l: License = Self::record(item)?;
                if l.tenant_id == tenant_id {
                    licenses.insert(l.id.clone(), l);
                }
            }
        }
        let licenses = license_ids
            .iter()
            .map(|id| {
                licenses
                    .remove(id)
                    .ok_or_else(|| Error::internal(format!("license {id} is missing")))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((licenses, products))
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
            table_keys::listing::LICENSES,
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
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::license(license_id))))
            .update_expression("SET keySealed = :new")
            .condition_expression("keySealed = :old")
            .expression_attribute_values(":new", AttributeValue::S(new.into()))
            .expression_attribute_values(":old", AttributeValue::S(old.into()))
            .send()
            .await;
        applied(result)
    }

    /// Changes a license by read-modify-write: reads it (strongly consistent) with its
    /// version, lets `edit` change it, and writes only the fields `edit` changed, on condition
    /// that the version read is still current; on a conflict it reads again and re-runs `edit`
    /// (at most [`EDIT_ATTEMPTS`] times, then `409 conflict`, which Stripe retries).
    ///
    /// Every writer of a license outside validation (admin PATCH, subscription state, renewals,
    /// refunds and disputes) goes through here; validation's own writes are conditional on the
    /// same version (`license_usage`). So no write is decided on a stale read, and a write
    /// never puts back a value another writer replaced meanwhile (a PATCH of the name cannot
    /// undo an activation's expiry or a refund's revocation).
    ///
    /// The same write appends what changed to the license's activity log, made by `origin`
    /// (`domain::activity`).
    ///
    /// `Ok(None)` when the license does not exist for `tenant_id`; else the license as written.
    pub async fn edit_license<F>(
        &self,
        tenant_id: &str,
        license_id: &str,
        origin: &Origin,
        mut edit: F,
    ) -> Result<Option<License>>
    where
        F: FnMut(&mut License) -> Result<()>,
    {
        for attempt in 0..EDIT_ATTEMPTS {
            let Some((before, usage)) = self.get_license_with_usage(license_id).await? else {
                return Ok(None);
            };
            if before.tenant_id != tenant_id {
                return Ok(None);
            }
            let mut after = before.clone();
            edit(&mut after)?;
            let changes = edited_fields(&before, &after);
            if changes.is_empty() {
                return Ok(Some(before));
            }
            after.updated_at = crate::time::now();
            let entries = activity::describe(&before, &after, origin, after.updated_at);
            if let Some(written) = self
                .write_edit(&after, Some(usage.version), changes, &entries)
                .await?
            {
                self.trim_activity(license_id, usage.activity.len() + entries.len())
                    .await;
                return Ok(Some(written));
            }
            tracing::info!(license_id, attempt, "license changed meanwhile; read again");
            EDIT_BACKOFF.sleep(attempt + 1).await;
        }
        Err(Error::Conflict(format!(
            "license {license_id} is being changed by other requests; retry"
        )))
    }

    /// Sets the buyer's contact details on a license (`Some(None)` removes one). No rule reads
    /// them and no writer derives them from what it read, so they are written as given,
    /// conditional only on the license being the tenant's: not on the version, unlike
    /// [`Store::edit_license`], and without moving it. A stream of renames therefore never
    /// makes an activation or a refund decide again, and no other field is written, so a
    /// concurrent change of one stays. The answer is the license as written (`ALL_NEW`).
    ///
    /// The same write appends the change to the activity log, made by `origin`.
    ///
    /// `Ok(None)` when the license does not exist for `tenant_id`.
    pub async fn set_license_contact(
        &self,
        tenant_id: &str,
        license_id: &str,
        email: Option<Option<String>>,
        name: Option<Option<String>>,
        origin: &Origin,
    ) -> Result<Option<License>> {
        let Some((before, usage)) = self
            .get_license_with_usage(license_id)
            .await?
            .filter(|(l, _)| l.tenant_id == tenant_id)
        else {
            return Ok(None);
        };
        let mut after = before.clone();
        if let Some(email) = email {
            after.customer_email = email;
        }
        if let Some(name) = name {
            after.customer_name = name;
        }
        let changes = edited_fields(&before, &after);
        if changes.is_empty() {
            return Ok(Some(before));
        }
        after.updated_at = crate::time::now();
        let entries = activity::describe(&before, &after, origin, after.updated_at);
        let written = self.write_edit(&after, None, changes, &entries).await?;
        if written.is_some() {
            self.trim_activity(license_id, usage.activity.len() + entries.len())
                .await;
        }
        Ok(written)
    }

    /// Writes `changes` (and `updatedAt`) if the license is still the tenant's and, for a
    /// write decided on a read (`version: Some`), its version is still the one read (0: none
    /// yet); such a write moves the version. `version: None` writes the fields as given and
    /// leaves the version. `entries` are appended to the activity log in the same write. The
    /// license as written, or `None` when the condition failed.
    async fn write_edit(
        &self,
        license: &License,
        version: Option<u64>,
        changes: Vec<(&'static str, AttributeValue)>,
        entries: &[activity::ActivityEntry],
    ) -> Result<Option<License>> {
        let mut sets = vec!["#updatedAt = :up".to_string()];
        let mut names = HashMap::from([
            ("#updatedAt".to_string(), "updatedAt".to_string()),
            ("#tenantId".to_string(), "tenantId".to_string()),
        ]);
        let mut values = HashMap::from([
            (
                ":up".to_string(),
                AttributeValue::S(crate::time::format(license.updated_at)),
            ),
            (
                ":t".to_string(),
                AttributeValue::S(license.tenant_id.clone()),
            ),
        ]);
        let email_changed = changes.iter().any(|(f, _)| *f == "customerEmail");
        for (i, (field, value)) in changes.into_iter().enumerate() {
            sets.push(format!("#f{i} = :f{i}"));
            names.insert(format!("#f{i}"), field.to_string());
            values.insert(format!(":f{i}"), value);
        }
        // The buyer's list follows the owner address (an index key cannot be null: removed).
        let mut removes = Vec::new();
        if email_changed {
            let keys = buyer_keys(license);
            if keys.is_empty() {
                removes.extend([table_keys::GSI2_PK, table_keys::GSI2_SK]);
            }
            for (i, (attribute, value)) in keys.into_iter().enumerate() {
                sets.push(format!("#b{i} = :b{i}"));
                names.insert(format!("#b{i}"), attribute);
                values.insert(format!(":b{i}"), value);
            }
        }
        if !entries.is_empty() {
            let (n, v) = super::activity::append_values(entries)?;
            sets.push(super::activity::APPEND.into());
            names.extend(n);
            values.extend(v);
        }
        let condition = match version {
            None => "attribute_exists(pk) AND #tenantId = :t",
            Some(version) => {
                sets.push("#version = :next".into());
                names.insert("#version".into(), "version".into());
                values.insert(":next".into(), AttributeValue::N((version + 1).to_string()));
                if version == 0 {
                    "attribute_exists(pk) AND #tenantId = :t AND attribute_not_exists(#version)"
                } else {
                    values.insert(":version".into(), AttributeValue::N(version.to_string()));
                    "attribute_exists(pk) AND #tenantId = :t AND #version = :version"
                }
            }
        };
        updated_record(
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(Self::key_attrs(table_keys::license(&license.id))))
                .update_expression(if removes.is_empty() {
                    format!("SET {}", sets.join(", "))
                } else {
                    format!("SET {} REMOVE {}", sets.join(", "), removes.join(", "))
                })
                .condition_expression(condition)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values))
                .return_values(ReturnValue::AllNew)
                .send()
                .await,
        )
    }
}

fn license_sort_key(l: &License) -> String {
    format!(
        "{}{}#{}",
        table_keys::listing::LICENSES,
        crate::time::format(l.created_at),
        l.id
    )
}

/// The license's `gsi2` keys (its buyer's list), none without an owner address.
fn buyer_keys(l: &License) -> Vec<(String, AttributeValue)> {
    let Some(email) = l.customer_email.as_deref() else {
        return Vec::new();
    };
    vec![
        (
            table_keys::GSI2_PK.to_string(),
            AttributeValue::S(table_keys::buyer_partition(&l.tenant_id, email)),
        ),
        (
            table_keys::GSI2_SK.to_string(),
            AttributeValue::S(license_sort_key(l)),
        ),
    ]
}

/// Whether `email` is the license's owner address (compared normalised).
pub fn owned_by(l: &License, email: &str) -> bool {
    use crate::domain::member::normalize_email;
    l.customer_email
        .as_deref()
        .is_some_and(|e| normalize_email(e) == normalize_email(email))
}

/// Read-modify-write attempts of [`Store::edit_license`].
pub const EDIT_ATTEMPTS: u32 = 8;

/// The pause before reading again after a lost race, growing with the attempts (5 ms
/// doubling, at most 80 ms, jittered).
pub const EDIT_BACKOFF: Backoff = Backoff::new(
    std::time::Duration::from_millis(5),
    std::time::Duration::from_millis(80),
);

/// The fields a license edit may change, as item attributes, where `after` differs from
/// `before`. Devices, usage and the key are validation's and issuance's, never edited here.
fn edited_fields(before: &License, after: &License) -> Vec<(&'static str, AttributeValue)> {
    let text = |v: &Option<String>| {
        v.clone()
            .map(AttributeValue::S)
            .unwrap_or(AttributeValue::Null(true))
    };
    let time = |t: Option<time::OffsetDateTime>| {
        t.map(|t| AttributeValue::S(crate::time::format(t)))
            .unwrap_or(AttributeValue::Null(true))
    };
    let mut changes = Vec::new();
    if before.status != after.status {
        changes.push(("status", AttributeValue::S(after.status.as_str().into())));
    }
    if before.expires_at != after.expires_at {
        changes.push(("expiresAt", time(after.expires_at)));
    }
    if before.suspend_at != after.suspend_at {
        changes.push(("suspendAt", time(after.suspend_at)));
    }
    if before.max_devices != after.max_devices {
        changes.push((
            "maxDevices",
            AttributeValue::N(after.max_devices.to_string()),
        ));
    }
    if before.max_ips != after.max_ips {
        changes.push(("maxIps", AttributeValue::N(after.max_ips.to_string())));
    }
    let number = |n: Option<u32>| {
        n.map(|n| AttributeValue::N(n.to_string()))
            .unwrap_or(AttributeValue::Null(true))
    };
    for (field, b, a) in [
        ("maxConcurrent", before.max_concurrent, after.max_concurrent),
        ("leaseSeconds", before.lease_seconds, after.lease_seconds),
        (
            "maxBorrowSeconds",
            before.max_borrow_seconds,
            after.max_borrow_seconds,
        ),
    ] {
        if b != a {
            changes.push((field, number(a)));
        }
    }
    if before.customer_email != after.customer_email {
        changes.push(("customerEmail", text(&after.customer_email)));
    }
    if before.customer_name != after.customer_name {
        changes.push(("customerName", text(&after.customer_name)));
    }
    changes
}
