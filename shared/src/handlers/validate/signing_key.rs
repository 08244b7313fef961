//! The public halves of a tenant's signing keys, which a merchant embeds in their app to check
//! answers and license files offline. Public, like the keys themselves:
//! - `GET /api/tenants/{tenantId}/signing-keys`: every key still valid (`active`, `next`, and
//!   `retired` keys whose files may not have expired yet), by `kid`;
//! - `GET /api/tenants/{tenantId}/signing-key`: the active key alone (the first route; kept).

use serde::Serialize;
use time::OffsetDateTime;

use super::super::admin::ts;
use crate::domain::signing_key::{SigningKeyRecord, SigningKeyStatus};
use crate::domain::Tenant;
use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result, Services};

/// The answers' canonical form, named so a client can tell if it ever changes.
pub use crate::crypto::signed_answer::ANSWER_FORMAT;

#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SigningKeyView {
    pub tenant_id: String,
    pub algorithm: &'static str,
    /// The raw 32-byte Ed25519 public key, base64 (standard, padded).
    pub public_key: String,
    /// Its key id, as answers and license files name it.
    pub kid: String,
    pub format: &'static str,
}

/// One published key.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublicKeyView {
    /// `hex(SHA-256(raw public key))[..16]`.
    pub kid: String,
    /// Always `Ed25519`.
    pub alg: &'static str,
    /// The raw 32-byte public key, base64 (standard, padded).
    pub public_key: String,
    pub status: SigningKeyStatus,
    pub created_at: String,
    /// When it stopped signing (retired keys).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<String>,
    /// Until when apps should trust it (retired keys).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
}

/// `{ keys: [...] }`: the active key first, then the others, newest first.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct KeySetView {
    pub keys: Vec<PublicKeyView>,
}

/// The kid of a base64 public key (empty if it is not one, which a stored key never is).
pub fn kid_of(public_key_b64: &str) -> String {
    keyhook_format::PublicKeySet::single(public_key_b64)
        .ok()
        .and_then(|set| set.kids().next().map(str::to_string))
        .unwrap_or_default()
}

fn record_view(r: &SigningKeyRecord) -> PublicKeyView {
    PublicKeyView {
        kid: r.kid.clone(),
        alg: "Ed25519",
        public_key: r.public_key.clone(),
        status: r.status,
        created_at: ts(r.created_at),
        retired_at: r.retired_at.map(ts),
        valid_until: r.valid_until().map(ts),
    }
}

/// Every key of a tenant: the active one (from the tenant record) and the recorded others;
/// with `all = false`, only those still published at `now`.
pub fn key_set(
    tenant: &Tenant,
    records: &[SigningKeyRecord],
    now: OffsetDateTime,
    all: bool,
) -> Vec<PublicKeyView> {
    let active_kid = kid_of(&tenant.signing_public_key);
    let active_record = records.iter().find(|r| r.kid == active_kid);
    let mut keys = vec![PublicKeyView {
        kid: active_kid.clone(),
        alg: "Ed25519",
        public_key: tenant.signing_public_key.clone(),
        status: SigningKeyStatus::Active,
        created_at: ts(active_record.map_or(tenant.created_at, |r| r.created_at)),
        retired_at: None,
        valid_until: None,
    }];
    let mut others: Vec<&SigningKeyRecord> = records
        .iter()
        .filter(|r| r.kid != active_kid && (all || r.is_published(now)))
        .collect();
    others.sort_by_key(|r| std::cmp::Reverse(r.created_at));
    keys.extend(others.into_iter().map(|r| {
        let mut v = record_view(r);
        // A record left `active` by an interrupted rotation is not the active key.
        if v.status == SigningKeyStatus::Active {
            v.status = SigningKeyStatus::Retired;
        }
        v
    }));
    keys
}

async fn tenant(s: &Services, tenant_id: &str) -> Result<Tenant> {
    s.store
        .get_tenant(tenant_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("Tenant {tenant_id}")))
}

/// `GET /api/tenants/{tenantId}/signing-key`.
pub async fn signing_key(s: &Services, _req: &ApiRequest, tenant_id: &str) -> Result<ApiResponse> {
    let tenant = tenant(s, tenant_id).await?;
    Ok(ApiResponse::ok(&SigningKeyView {
        kid: kid_of(&tenant.signing_public_key),
        tenant_id: tenant.id,
        algorithm: "Ed25519",
        public_key: tenant.signing_public_key,
        format: ANSWER_FORMAT,
    }))
}

/// `GET /api/tenants/{tenantId}/signing-keys`.
pub async fn signing_keys(s: &Services, _req: &ApiRequest, tenant_id: &str) -> Result<ApiResponse> {
    Ok(ApiResponse::ok(&published_key_set(s, tenant_id).await?))
}

/// The keys a tenant publishes now (what apps embed): the dashboard's Integrate page shows the
/// same set this route answers.
pub async fn published_key_set(s: &Services, tenant_id: &str) -> Result<KeySetView> {
    let tenant = tenant(s, tenant_id).await?;
    let set = s.store.signing_key_set(tenant_id).await?;
    Ok(KeySetView {
        keys: key_set(&tenant, &set.keys, crate::time::now(), false),
    })
}
