//! `POST /api/licenses/import`: licenses from another licensing service (ExisOne, Lukittu,
//! Keygen; `keyhook import` converts their exports), with their original keys, so keys already
//! in buyers' hands keep working. Batched and idempotent per external id:
//!
//! 0. each tenant has [`IMPORT_REQUESTS_PER_MINUTE`] requests a minute, dry runs included
//!    (an exact DynamoDB counter); past it, `429 rate_limited` with `Retry-After`;
//! 1. every entry is checked on its own (key, product by id or alias, customer, expiry,
//!    limits, devices, status); a bad entry fails alone, with its reason;
//! 2. one pass of BatchGetItem reads what exists: the licenses the keys derive and the
//!    tenant's import records of the external ids. An imported key derives its license id
//!    within its product, so within the tenant (`domain::license_key`): what is found there is
//!    the tenant's own, and another tenant's license with the same legacy key is never read,
//!    so neither the import nor its dry run can tell whether it exists. (A key that reads as a
//!    Keyhook key is one license across the deployment, as every key Keyhook issues; its 125
//!    random bits cannot be guessed.) A license imported before keys were scoped is read at
//!    its old id too, and counts only if it is this tenant's for this product;
//! 3. an external id imported before is `unchanged` (nothing is overwritten: the license may
//!    have changed in Keyhook since); a key that is already a license fails;
//! 4. the rest is written in transactions, each license and import record on the condition
//!    that it does not exist yet, keys sealed under the tenant key (unwrapped once, cached): a
//!    license created between the read and the write (a concurrent import, an issuance) is
//!    never overwritten, that entry fails with the reason. `dryRun` stops before writing and
//!    says what would be created.
//!
//! Imported licenses are ordinary licenses: validation derives the same id from the key and
//! the product it names, and finds them with one read.

pub mod exports;

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::caller;
use crate::crypto::{seal, SealContext};
use crate::domain::activity::{Actor, Origin};
use crate::domain::license::{Device, KEY_SEAL_FIELD};
use crate::domain::license_key::AnyKey;
use crate::domain::validation::rules::{device_bytes, MAX_DEVICE_LIST_BYTES};
use crate::domain::validation::DeviceId;
use crate::domain::{EmailStatus, ExpirationStart, License, LicenseSource, LicenseStatus, Product};
use crate::http::auth::Caller;
use crate::http::input::{is_email, json_body};
use crate::http::{ApiRequest, ApiResponse};
use crate::store::imports::{ImportWrite, LicenseImport};
use crate::{Error, Result, Services};

/// Most licenses in one request (the CLI sends batches of 500).
pub const MAX_IMPORT_BATCH: usize = 1000;
/// Most devices one imported license may carry.
pub const MAX_IMPORTED_DEVICES: usize = 1000;
const MAX_EXTERNAL_ID_CHARS: usize = 200;
const MAX_NAME_CHARS: usize = 200;

/// Import requests (dry runs included) one tenant may make in a minute: about 60,000 licenses
/// in `keyhook import`'s batches of 500, more than the table takes from one import; a
/// runaway script or a stolen token cannot do more.
pub const IMPORT_REQUESTS_PER_MINUTE: u32 = 60;
const RATE_WINDOW_SECONDS: i64 = 60;
/// The scope of the import counter (`RATE#import#<sha256(tenant id)>`).
const RATE_SCOPE: &str = "import";

/// The body.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportInput {
    /// 1 to 1000 licenses. Each entry is checked on its own: a bad one fails alone, in the
    /// report, so its fields carry no constraints here beyond their types.
    #[schemars(extend("minItems" = 1, "maxItems" = MAX_IMPORT_BATCH))]
    pub licenses: Vec<ImportLicense>,
    /// Say what would happen, change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// One license as exported by the service it comes from.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportLicense {
    /// The key as buyers have it: any printable text up to 128 characters.
    pub key: String,
    /// A Keyhook product id or one of a product's `externalIds`.
    pub product_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    /// RFC 3339, up to 9999-12-31T23:59:59Z in UTC; absent or null: never expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Absent: the product's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_devices: Option<u32>,
    /// Absent: the product's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ips: Option<u32>,
    /// Absent: `active`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<LicenseStatus>,
    /// Devices already activated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub devices: Option<Vec<ImportDevice>>,
    /// The license's id in the service it comes from; an import is idempotent per external id.
    #[schemars(extend("pattern" = crate::http::schema::PRINTABLE_NON_BLANK, "maxLength" = MAX_EXTERNAL_ID_CHARS))]
    pub external_id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportDevice {
    pub device_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    /// RFC 3339, up to 9999-12-31T23:59:59Z in UTC; absent: the time of the import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated_at: Option<String>,
}

/// What became of one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    Created,
    /// Dry run: would be created.
    WouldCreate,
    /// Imported before (same external id and key): left as it is.
    Unchanged,
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportResult {
    pub external_id: String,
    pub status: ImportStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The answer: counts, and one result per entry, in the order sent.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    pub dry_run: bool,
    /// Licenses created (in a dry run: that would be created).
    pub created: usize,
    /// External ids imported before, left as they are.
    pub unchanged: usize,
    /// Entries refused, each with its `error`.
    pub failed: usize,
    pub results: Vec<ImportResult>,
}

/// An entry that passed its own checks.
struct Checked {
    key: AnyKey,
    /// The id the key derives for its product (see `domain::license_key`).
    license_id: String,
    /// An imported key's id before keys were scoped: a license there may be this tenant's,
    /// imported earlier.
    unscoped_id: Option<String>,
    product: Product,
    customer_email: Option<String>,
    customer_name: Option<String>,
    expires_at: Option<OffsetDateTime>,
    max_devices: Option<u32>,
    max_ips: Option<u32>,
    status: LicenseStatus,
    devices: Vec<Device>,
}

fn optional_text(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// An entry's timestamp field: RFC 3339, within the dates Keyhook stores (up to the end of
/// year 9999, in UTC).
fn timestamp(field: &str, text: &str) -> std::result::Result<OffsetDateTime, String> {
    crate::time::parse(text).ok_or_else(|| {
        if OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).is_ok() {
            format!(
                "{field} {text:?} is later than 9999-12-31T23:59:59Z, the last date Keyhook stores"
            )
        } else {
            format!("{field} {text:?} is not an RFC 3339 timestamp such as 2027-01-31T00:00:00Z")
        }
    })
}

fn check_devices(
    input: &[ImportDevice],
    now: OffsetDateTime,
) -> std::result::Result<Vec<Device>, String> {
    if input.len() > MAX_IMPORTED_DEVICES {
        return Err(format!("at most {MAX_IMPORTED_DEVICES} devices"));
    }
    let mut devices: Vec<Device> = Vec::with_capacity(input.len());
    let mut bytes = 0;
    for d in input {
        let id = DeviceId::parse(&d.device_id).map_err(|e| format!("devices: deviceId {e}"))?;
        if devices.iter().any(|x| x.device_id == id.as_str()) {
            continue;
        }
        let activated_at = match d.activated_at.as_deref() {
            None => now,
            Some(t) => timestamp("devices: activatedAt", t)?,
        };
        let device_name: Option<String> =
            optional_text(&d.device_name).map(|n| n.chars().take(MAX_NAME_CHARS).collect());
        // The bound activations keep, so the license stays far below DynamoDB's item size.
        bytes += device_bytes(id.as_str(), device_name.as_deref());
        if bytes > MAX_DEVICE_LIST_BYTES {
            return Err(format!(
                "devices: at most {} KiB of device ids and names on one license",
                MAX_DEVICE_LIST_BYTES / 1024
            ));
        }
        devices.push(Device {
            device_id: id.as_str().to_string(),
            device_name,
            activated_at,
        });
    }
    Ok(devices)
}

/// An entry's own checks (its product looked up in `products`).
fn check(
    entry: &ImportLicense,
    products: &HashMap<String, Option<Product>>,
    now: OffsetDateTime,
) -> std::result::Result<Checked, String> {
    let key = AnyKey::parse(&entry.key).map_err(|e| format!("key: {e}"))?;
    let product = products
        .get(entry.product_id.trim())
        .cloned()
        .flatten()
        .ok_or_else(|| {
            format!(
                "productId {:?} is neither one of your product ids nor one of a product's externalIds",
                entry.product_id.trim()
            )
        })?;
    let customer_email = optional_text(&entry.customer_email);
    if let Some(e) = &customer_email {
        if !is_email(e) {
            return Err(format!("customerEmail {e:?} is not an email address"));
        }
    }
    let customer_name = optional_text(&entry.customer_name);
    if customer_name
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_NAME_CHARS)
    {
        return Err(format!(
            "customerName is longer than {MAX_NAME_CHARS} characters"
        ));
    }
    let expires_at = match optional_text(&entry.expires_at) {
        None => None,
        Some(t) => Some(timestamp("expiresAt", &t)?),
    };
    let devices = check_devices(entry.devices.as_deref().unwrap_or_default(), now)?;
    Ok(Checked {
        license_id: key.license_id(&product.id),
        unscoped_id: key.is_imported().then(|| key.unscoped_license_id()),
        key,
        product,
        customer_email,
        customer_name,
        expires_at,
        max_devices: entry.max_devices,
        max_ips: entry.max_ips,
        status: entry.status.unwrap_or(LicenseStatus::Active),
        devices,
    })
}

fn result(
    external_id: &str,
    status: ImportStatus,
    license_id: Option<String>,
    error: Option<String>,
) -> ImportResult {
    ImportResult {
        external_id: external_id.to_string(),
        status,
        license_id,
        error,
    }
}

/// `POST /api/licenses/import`. The request is counted before its body is read: a malformed
/// one counts too, and one over the rate is refused with `Retry-After` whatever it holds.
pub async fn import(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    if let Some(retry_after) = over_rate(s, &c.tenant_id).await? {
        return Ok(
            ApiResponse::error(&over_rate_error(retry_after)).with_header(
                http::header::RETRY_AFTER,
                http::HeaderValue::from(retry_after),
            ),
        );
    }
    let input: ImportInput = json_body(req)?;
    let report = run(s, &c.tenant_id, input).await?;
    Ok(ApiResponse::ok(&report))
}

/// Imports a batch for the caller's tenant, counted against the tenant's imports of the
/// minute (past them, `rate_limited`): what [`import`] does with a body already read.
pub async fn import_licenses(s: &Services, c: &Caller, input: ImportInput) -> Result<ImportReport> {
    if let Some(retry_after) = over_rate(s, &c.tenant_id).await? {
        return Err(over_rate_error(retry_after));
    }
    run_by(s, &c.tenant_id, input, &c.origin()).await
}

fn over_rate_error(retry_after: u64) -> Error {
    Error::RateLimited(format!(
        "more than {IMPORT_REQUESTS_PER_MINUTE} import requests this minute for this \
         tenant; retry in {retry_after} s"
    ))
}

/// Counts this request against the tenant's imports of the minute (exact under concurrency:
/// one conditional DynamoDB counter per tenant and minute). `Some(seconds until the next
/// minute)` when the minute's requests are spent.
async fn over_rate(s: &Services, tenant_id: &str) -> Result<Option<u64>> {
    let now = crate::time::now().unix_timestamp();
    let window = now - now.rem_euclid(RATE_WINDOW_SECONDS);
    let subject = hex::encode(&Sha256::digest(tenant_id.as_bytes())[..16]);
    let admitted = s
        .store
        .count_attempt(
            RATE_SCOPE,
            &subject,
            window,
            window + 2 * RATE_WINDOW_SECONDS,
            IMPORT_REQUESTS_PER_MINUTE,
        )
        .await?;
    Ok((!admitted).then(|| (window + RATE_WINDOW_SECONDS - now).max(1) as u64))
}

/// Imports a batch for a tenant (the handler without HTTP; benchmarks call it too), as the
/// merchant from no known address.
pub async fn run(s: &Services, tenant_id: &str, input: ImportInput) -> Result<ImportReport> {
    let origin = Origin::new(Actor::Merchant, None);
    run_by(s, tenant_id, input, &origin).await
}

/// Imports a batch for a tenant, each license's activity log opened as made by `origin`.
async fn run_by(
    s: &Services,
    tenant_id: &str,
    input: ImportInput,
    origin: &Origin,
) -> Result<ImportReport> {
    if input.licenses.is_empty() || input.licenses.len() > MAX_IMPORT_BATCH {
        return Err(Error::validation(
            "licenses",
            format!("must hold 1 to {MAX_IMPORT_BATCH} licenses (send larger imports in batches)"),
        ));
    }
    for (i, l) in input.licenses.iter().enumerate() {
        let id = l.external_id.trim();
        if id.is_empty()
            || id.chars().count() > MAX_EXTERNAL_ID_CHARS
            || id.chars().any(char::is_control)
        {
            return Err(Error::validation(
                format!("licenses[{i}].externalId"),
                format!("must be 1 to {MAX_EXTERNAL_ID_CHARS} printable characters"),
            ));
        }
    }
    let now = crate::time::now();

    // Products, each distinct reference resolved once.
    let mut products: HashMap<String, Option<Product>> = HashMap::new();
    for l in &input.licenses {
        let reference = l.product_id.trim();
        if !products.contains_key(reference) {
            let p = if crate::stripe::metadata::is_product_ref(reference) {
                s.store.resolve_product(tenant_id, reference).await?
            } else {
                None
            };
            products.insert(reference.to_string(), p);
        }
    }

    // Each entry's own checks, and duplicates within the batch.
    let mut outcomes: Vec<std::result::Result<Checked, String>> =
        Vec::with_capacity(input.licenses.len());
    let mut seen_keys = HashSet::new();
    let mut seen_ids = HashSet::new();
    for l in &input.licenses {
        let checked = check(l, &products, now).and_then(|c| {
            if !seen_ids.insert(l.external_id.trim().to_string()) {
                Err("this externalId appears twice in the import".into())
            } else if !seen_keys.insert(c.license_id.clone()) {
                Err("this key appears twice in the import".into())
            } else {
                Ok(c)
            }
        });
        outcomes.push(checked);
    }

    // What exists already: one pass of batch reads.
    let license_ids: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().ok())
        .flat_map(|c| std::iter::once(c.license_id.clone()).chain(c.unscoped_id.clone()))
        .collect();
    let external_ids: Vec<String> = input
        .licenses
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| o.is_ok())
        .map(|(l, _)| l.external_id.trim().to_string())
        .collect();
    let state = s
        .store
        .import_state(tenant_id, &license_ids, &external_ids)
        .await?;

    let mut results = Vec::with_capacity(input.licenses.len());
    let mut to_write: Vec<(usize, Checked)> = Vec::new();
    for (i, (entry, outcome)) in input.licenses.iter().zip(outcomes).enumerate() {
        let external_id = entry.external_id.trim();
        let c = match outcome {
            Err(e) => {
                results.push(result(external_id, ImportStatus::Failed, None, Some(e)));
                continue;
            }
            Ok(c) => c,
        };
        if let Some(record) = state.imports.get(external_id) {
            // The same key's license (imported before keys were scoped: at the unscoped id).
            if record.license_id == c.license_id
                || c.unscoped_id.as_ref() == Some(&record.license_id)
            {
                results.push(result(
                    external_id,
                    ImportStatus::Unchanged,
                    Some(record.license_id.clone()),
                    None,
                ));
            } else {
                results.push(result(
                    external_id,
                    ImportStatus::Failed,
                    None,
                    Some(format!(
                        "this externalId was imported before with another key (license {})",
                        record.license_id
                    )),
                ));
            }
            continue;
        }
        // The license the key derives here, else one this tenant imported for this product
        // before keys were scoped (another tenant's is none of this import's business).
        let existing = state.licenses.get(&c.license_id).or_else(|| {
            c.unscoped_id
                .as_ref()
                .and_then(|id| state.licenses.get(id))
                .filter(|l| l.tenant_id == tenant_id && l.covers(&c.product.id))
        });
        if let Some(existing) = existing {
            let error = if existing.tenant_id != tenant_id {
                // A Keyhook-format key of another tenant: say nothing about it.
                "this key is already in use in Keyhook; it cannot be imported".to_string()
            } else if existing.external_id.as_deref() == Some(external_id) {
                results.push(result(
                    external_id,
                    ImportStatus::Unchanged,
                    Some(existing.id.clone()),
                    None,
                ));
                continue;
            } else {
                format!("this key is already license {}", existing.id)
            };
            results.push(result(external_id, ImportStatus::Failed, None, Some(error)));
            continue;
        }
        results.push(result(
            external_id,
            if input.dry_run {
                ImportStatus::WouldCreate
            } else {
                ImportStatus::Created
            },
            Some(c.license_id.clone()),
            None,
        ));
        to_write.push((i, c));
    }

    if !input.dry_run && !to_write.is_empty() {
        let key = s.keyring.active_key(tenant_id).await?;
        let mut pairs = Vec::with_capacity(to_write.len());
        let mut positions = Vec::with_capacity(to_write.len());
        for (i, c) in to_write {
            let external_id = input.licenses[i].external_id.trim().to_string();
            let key_sealed = seal::seal(
                &key,
                SealContext {
                    tenant_id,
                    owner: &c.license_id,
                    field: KEY_SEAL_FIELD,
                },
                c.key.display().as_bytes(),
            );
            let record = LicenseImport {
                tenant_id: tenant_id.to_string(),
                external_id: external_id.clone(),
                license_id: c.license_id.clone(),
                imported_at: now,
            };
            let license = License {
                key_hash: hex::encode(c.key.lookup_hash(&c.product.id)),
                id: c.license_id,
                tenant_id: tenant_id.to_string(),
                key_sealed,
                product_id: c.product.id.clone(),
                status: c.status,
                customer_email: c.customer_email,
                customer_name: c.customer_name,
                expires_at: c.expires_at,
                suspend_at: None,
                expiration_start: ExpirationStart::Creation,
                license_days: None,
                max_devices: c.max_devices.unwrap_or(c.product.max_devices),
                max_ips: c.max_ips.unwrap_or(c.product.max_ips),
                devices: c.devices,
                source: LicenseSource::default(),
                purchase_ref: None,
                email_status: EmailStatus::Disabled,
                also_product_ids: Vec::new(),
                // Keys sold by another service to real customers: live.
                livemode: Some(true),
                external_id: Some(external_id),
                max_concurrent: None,
                lease_seconds: None,
                max_borrow_seconds: None,
                created_at: now,
                updated_at: now,
            };
            pairs.push((license, record));
            positions.push(i);
        }
        let written = s.store.write_imported(&pairs, origin).await?;
        for (i, outcome) in positions.into_iter().zip(written) {
            let error = match outcome {
                ImportWrite::Written => continue,
                ImportWrite::LicenseExists => {
                    "a license with this key was created while the import ran; nothing was \
                     overwritten (run the import again to see it)"
                }
                ImportWrite::ImportExists => {
                    "this externalId was imported by another request while this one ran; \
                     nothing was overwritten (run the import again to see it as unchanged)"
                }
            };
            results[i].status = ImportStatus::Failed;
            results[i].license_id = None;
            results[i].error = Some(error.to_string());
        }
        let created = results
            .iter()
            .filter(|r| r.status == ImportStatus::Created)
            .count();
        tracing::info!(tenant_id, licenses = created, "licenses imported");
    }

    let count = |st: ImportStatus| results.iter().filter(|r| r.status == st).count();
    Ok(ImportReport {
        dry_run: input.dry_run,
        created: count(ImportStatus::Created) + count(ImportStatus::WouldCreate),
        unchanged: count(ImportStatus::Unchanged),
        failed: count(ImportStatus::Failed),
        results,
    })
}
