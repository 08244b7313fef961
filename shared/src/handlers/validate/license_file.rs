//! License files (`keyhook-license-file-v1`, format in `keyhook_format::file`): what an app
//! keeps to run offline.
//! - `POST /api/licenses/checkout` (public) `{ licenseKey, productId, deviceId, ttl?, encrypt?,
//!   environment? }`: activates the device exactly like `activate` (same rules, limits and
//!   per-IP budget), then answers `200 { file, expiresAt, kid }`; a refusal is answered with
//!   the signed answer `activate` would give (`valid: false` and its code), without a file.
//! - `GET /api/licenses/{licenseId}/file?deviceId=&ttl=&encrypt=` (admin): a file for a device
//!   already activated on the license (any device when the license has no device limit), for
//!   machines that never go online. It changes nothing.
//!
//! `ttl` (seconds) must lie within the product's bounds: 3600 to `licenseFileMaxTtl` (default
//! 30 days); without it the product's `licenseFileTtl` (default 7 days) applies.

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use super::input::{self, ValidationInput};
use super::license::{self, Route};
use crate::crypto::signing_keys::Signer;
use crate::crypto::SealContext;
use crate::domain::activity::Actor;
use crate::domain::license::KEY_SEAL_FIELD;
use crate::domain::license_key::AnyKey;
use crate::domain::product::MIN_FILE_TTL_SECONDS;
use crate::domain::validation::ips::client_ip_key;
use crate::domain::validation::rules::effective_status;
use crate::domain::validation::DeviceId;
use crate::domain::{License, LicenseStatus, Product};
use crate::http::auth::Caller;
use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result, Services};
use keyhook_format::file::{Encryption, FileLicense, FILE_FORMAT};
use keyhook_format::{FilePayload, LicenseFile};

/// `200` of a checkout.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LicenseFileView {
    /// The armoured license file (`-----BEGIN KEYHOOK LICENSE FILE-----` …).
    pub file: String,
    /// When the file stops being valid (its TTL).
    pub expires_at: String,
    /// The key that signed it.
    pub kid: String,
}

/// The lifetime of a file: `requested` seconds within the product's bounds, else its default.
pub fn ttl_of(product: &Product, requested: Option<u64>) -> Result<Duration> {
    let max = product.license_file_max_ttl;
    match requested {
        None => Ok(Duration::seconds(product.license_file_ttl.min(max) as i64)),
        Some(t) if (u64::from(MIN_FILE_TTL_SECONDS)..=u64::from(max)).contains(&t) => {
            Ok(Duration::seconds(t as i64))
        }
        // A whole number of seconds, but outside this product's bounds: a conflict.
        Some(_) => Err(Error::conflict_at(
            "ttl",
            format!(
                "must be {MIN_FILE_TTL_SECONDS} to {max} seconds (the product's licenseFileMaxTtl)"
            ),
        )),
    }
}

/// What a file is made of.
pub struct FileOrder<'a> {
    pub signer: &'a Signer,
    pub license: &'a License,
    pub product: &'a Product,
    pub device: &'a DeviceId,
    pub livemode: bool,
    pub ttl: Duration,
    /// The license key to encrypt the file to, when asked.
    pub encrypt_to: Option<&'a str>,
    pub now: OffsetDateTime,
}

/// Signs a license file.
pub fn build(order: FileOrder) -> (LicenseFile, OffsetDateTime) {
    let expires_at = order.now + order.ttl;
    let l = order.license;
    let payload = FilePayload {
        format: FILE_FORMAT.into(),
        kid: order.signer.kid.clone(),
        tenant_id: l.tenant_id.clone(),
        license_id: l.id.clone(),
        product_id: l.product_id.clone(),
        device_hash: keyhook_format::device_hash(&l.product_id, order.device.as_str()),
        livemode: order.livemode,
        license: FileLicense {
            status: effective_status(l, order.now).as_str().into(),
            expires_at: l.expires_at.map(crate::time::format),
            max_devices: l.max_devices,
            max_ips: l.max_ips,
        },
        entitlements: order.product.entitlements.clone(),
        issued_at: crate::time::format(order.now),
        expires_at: crate::time::format(expires_at),
    };
    let encryption = order.encrypt_to.map(|key| Encryption {
        license_key: key,
        nonce: rand::random(),
    });
    (
        LicenseFile::sign(&order.signer.key, &payload, encryption),
        expires_at,
    )
}

pub(super) fn file_view(
    signer: &Signer,
    file: LicenseFile,
    expires_at: OffsetDateTime,
) -> LicenseFileView {
    LicenseFileView {
        file: file.0,
        expires_at: crate::time::format(expires_at),
        kid: signer.kid.clone(),
    }
}

/// `POST /api/licenses/checkout`.
pub async fn checkout(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let input: ValidationInput = input::parse_requiring(req, input::CHECKOUT_REQUIRED)?;
    let Some(key_text) = input.license_key.as_deref() else {
        return Err(Error::validation("licenseKey", "is required"));
    };
    let Some(device) = input.device.as_ref() else {
        return Err(Error::validation(
            "deviceId",
            "is required: a license file is for one device",
        ));
    };
    if !s.ip_budgets.churn.allow(&client_ip_key(req.source_ip)) {
        return Err(Error::RateLimited(
            "too many activations and checkouts from this address; retry in a minute".into(),
        ));
    }
    let device_hash = input.device_hash();
    let Ok(key) = AnyKey::parse(key_text) else {
        return license::not_found(s, &input, device_hash.as_deref(), None).await;
    };
    let Some(product) = s.store.get_product(&input.product_id).await? else {
        return license::not_found(
            s,
            &input,
            device_hash.as_deref(),
            Some(&key.license_id(&input.product_id)),
        )
        .await;
    };
    let ttl = ttl_of(&product, input.ttl)?;
    let Some(decided) =
        license::decide(s, req.source_ip, Route::Activate, &input, &key, Actor::App).await?
    else {
        return license::not_found(
            s,
            &input,
            device_hash.as_deref(),
            Some(&key.license_id(&input.product_id)),
        )
        .await;
    };
    if !decided.verdict.code.is_valid() || decided.license.tenant_id != product.tenant_id {
        return license::respond_decided(s, &input, device_hash.as_deref(), &decided).await;
    }
    let signer = s.signing_keys.get(&decided.license.tenant_id).await?;
    let (file, expires_at) = build(FileOrder {
        signer: &signer,
        license: &decided.license,
        product: &product,
        device,
        livemode: decided.livemode,
        ttl,
        encrypt_to: input.encrypt.then_some(key_text),
        now: decided.now,
    });
    tracing::info!(license_id = %decided.license.id, kid = %signer.kid, "license file issued");
    Ok(ApiResponse::ok(&file_view(&signer, file, expires_at)))
}

/// What an admin asks a license file for: the device (activated on the license) and the file's
/// lifetime and encryption.
#[derive(Debug, Clone)]
pub struct FileQuery {
    pub device: DeviceId,
    /// Seconds, within the product's bounds; `None`: the product's default.
    pub ttl: Option<u64>,
    /// Encrypt the file to the license key.
    pub encrypt: bool,
}

impl FileQuery {
    /// `?deviceId=&ttl=&encrypt=`.
    pub fn of(req: &ApiRequest) -> Result<FileQuery> {
        let device = req
            .query_param("deviceId")
            .ok_or_else(|| {
                Error::validation("deviceId", "is required: a license file is for one device")
            })
            .and_then(|d| {
                DeviceId::parse(d).map_err(|e| Error::validation("deviceId", e.to_string()))
            })?;
        let ttl = req
            .query_param("ttl")
            .map(|t| {
                t.parse::<u64>()
                    .map_err(|_| Error::validation("ttl", "must be a whole number of seconds"))
            })
            .transpose()?;
        let encrypt = req
            .query_param("encrypt")
            .map(|e| crate::http::input::bool_param("encrypt", e))
            .transpose()?
            .unwrap_or(false);
        Ok(FileQuery {
            device,
            ttl,
            encrypt,
        })
    }
}

/// `GET /api/licenses/{licenseId}/file?deviceId=&ttl=&encrypt=` (admin).
pub async fn admin_file(s: &Services, req: &ApiRequest, license_id: &str) -> Result<ApiResponse> {
    let c = crate::handlers::admin::caller(s, req).await?;
    // Another tenant's license is not found, whatever the query says: read before the query.
    let license = tenant_license(s, &c, license_id).await?;
    let query = FileQuery::of(req)?;
    Ok(ApiResponse::ok(&file_of(s, license, query).await?))
}

/// A license file for a device already activated on a license of the caller's tenant (any
/// device when the license has no device limit). It changes nothing.
pub async fn license_file(
    s: &Services,
    c: &Caller,
    license_id: &str,
    query: FileQuery,
) -> Result<LicenseFileView> {
    let license = tenant_license(s, c, license_id).await?;
    file_of(s, license, query).await
}

async fn tenant_license(s: &Services, c: &Caller, license_id: &str) -> Result<License> {
    s.store
        .get_tenant_license(&c.tenant_id, license_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("License {license_id}")))
}

/// [`license_file`] of a license already read for its tenant (the admin API, the portal).
pub async fn file_of(s: &Services, license: License, query: FileQuery) -> Result<LicenseFileView> {
    let FileQuery {
        device,
        ttl,
        encrypt,
    } = query;
    let license_id = license.id.as_str();
    let product = s
        .store
        .get_tenant_product(&license.tenant_id, &license.product_id)
        .await?
        .ok_or_else(|| Error::internal(format!("license {license_id} without its product")))?;
    let ttl = ttl_of(&product, ttl)?;
    let now = crate::time::now();
    let status = effective_status(&license, now);
    if status != LicenseStatus::Active {
        return Err(Error::Conflict(format!(
            "license {license_id} is {}; only active licenses get files",
            status.as_str()
        )));
    }
    if license.max_devices > 0
        && !license
            .devices
            .iter()
            .any(|d| d.device_id == device.as_str())
    {
        return Err(Error::Conflict(format!(
            "device {} is not activated on license {license_id}; activate it first (POST /api/licenses/activate)",
            device.as_str()
        )));
    }
    let key = if encrypt {
        Some(
            s.keyring
                .open_secret(
                    SealContext {
                        tenant_id: &license.tenant_id,
                        owner: &license.id,
                        field: KEY_SEAL_FIELD,
                    },
                    &license.key_sealed,
                )
                .await?
                .ok_or_else(|| {
                    Error::internal(format!("license {license_id} key does not open"))
                })?,
        )
    } else {
        None
    };
    let livemode = license::livemode_of(s, &license).await?;
    let signer = s.signing_keys.get(&license.tenant_id).await?;
    let (file, expires_at) = build(FileOrder {
        signer: &signer,
        license: &license,
        product: &product,
        device: &device,
        livemode,
        ttl,
        encrypt_to: key.as_ref().map(|k| k.expose()),
        now,
    });
    Ok(file_view(&signer, file, expires_at))
}
