//! Tenants (merchants), their envelope keys and their API tokens.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::time::serde_ts;

/// A merchant. Everything else belongs to exactly one tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    pub id: String,
    pub name: String,
    /// The tenant key new secrets are sealed under.
    pub active_key_id: String,
    /// Ed25519 signing key for validation answers, sealed under the tenant key.
    pub signing_key_sealed: String,
    /// Ed25519 public key, base64 (standard, padded).
    pub signing_public_key: String,
    #[serde(with = "serde_ts")]
    pub created_at: OffsetDateTime,
    /// Optimistic concurrency for the key fields (active tenant key, signing key): each
    /// rotation writes them on condition that the version it read is still current.
    #[serde(default)]
    pub version: u64,
    /// The customer portal's settings (defaults when never set).
    #[serde(default)]
    pub portal: crate::domain::portal::PortalSettings,
    /// Optimistic concurrency for [`Tenant::portal`], apart from the key fields' `version`.
    #[serde(default)]
    pub portal_version: u64,
}

/// A tenant data key as stored: only its KMS-wrapped form.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantKeyRecord {
    pub id: String,
    pub tenant_id: String,
    /// KMS `CiphertextBlob`, base64.
    pub wrapped_key: String,
    #[serde(with = "serde_ts")]
    pub created_at: OffsetDateTime,
}

/// Who a request acts for, and so who answers for an API token it creates: a team member (in
/// the dashboard, or through an API token that member answers for), or the operator
/// (`keyhook tenant create`, and tokens created with the operator's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Principal {
    Member { email: String },
    Operator,
}

impl Principal {
    /// The member's email, if a member.
    pub fn member(&self) -> Option<&str> {
        match self {
            Principal::Member { email } => Some(email),
            Principal::Operator => None,
        }
    }

    /// How pages and the API name it: the member's email, or `operator`.
    pub fn label(&self) -> &str {
        self.member().unwrap_or("operator")
    }
}

/// An API token as stored: its SHA-256 only; the token itself is shown once at creation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    /// The first characters of the token, so a merchant can tell tokens apart.
    pub prefix: String,
    pub token_hash: String,
    #[serde(with = "serde_ts")]
    pub created_at: OffsetDateTime,
    /// Who created it; `None` for a token stored before creators were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<Principal>,
    /// The member it was handed over to when its creator left the team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handed_over_to: Option<String>,
}

impl ApiToken {
    /// Who answers for the token now: the member it was handed over to, else its creator.
    /// Removing that member revokes it (or hands it over again).
    pub fn answerable(&self) -> Option<Principal> {
        match &self.handed_over_to {
            Some(email) => Some(Principal::Member {
                email: email.clone(),
            }),
            None => self.created_by.clone(),
        }
    }
}
