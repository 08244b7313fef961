//! `GET /api/tenants/{tenantId}/signing-key`: the public half of a tenant's answer-signing key,
//! which a merchant embeds in their app to check answers offline. Public, like the key itself.

use serde::Serialize;

use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result, Services};

/// The answers' canonical form, named so a client can tell if it ever changes.
pub const ANSWER_FORMAT: &str = "keyhook-answer-v1";

#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SigningKeyView {
    pub tenant_id: String,
    pub algorithm: &'static str,
    /// The raw 32-byte Ed25519 public key, base64 (standard, padded).
    pub public_key: String,
    pub format: &'static str,
}

pub async fn signing_key(s: &Services, _req: &ApiRequest, tenant_id: &str) -> Result<ApiResponse> {
    let tenant = s
        .store
        .get_tenant(tenant_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("Tenant {tenant_id}")))?;
    Ok(ApiResponse::ok(&SigningKeyView {
        tenant_id: tenant.id,
        algorithm: "Ed25519",
        public_key: tenant.signing_public_key,
        format: ANSWER_FORMAT,
    }))
}
