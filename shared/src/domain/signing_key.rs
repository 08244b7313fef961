//! A tenant's signing keys (Ed25519) for validation answers and license files, by key id.
//!
//! The **active** key signs; it lives in the tenant record (`signingKeySealed`,
//! `signingPublicKey`), so a warm validation opens it without a listing. Every other key is a
//! [`SigningKeyRecord`] in the tenant's partition: `next` keys (created, published, not signing
//! yet, so apps can ship them ahead of a rotation) and `retired` keys (no longer signing; their
//! seed is dropped; published for [`RETIRED_KEY_VALIDITY`] after retirement, so every license
//! file they signed verifies until it expires). They are kept together in one
//! [`SigningKeySet`] item per tenant.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::domain::product::MAX_FILE_TTL_SECONDS;
use crate::time::serde_ts;

/// The seal field of a tenant's Ed25519 signing key (its seed is sealed under the tenant key
/// with this field in the context).
pub const SIGNING_KEY_FIELD: &str = "signingKey";

/// How long a retired key stays published: the longest life of a license file.
pub const RETIRED_KEY_VALIDITY: Duration = Duration::seconds(MAX_FILE_TTL_SECONDS as i64);

/// Where a key stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SigningKeyStatus {
    /// Signs answers and files now.
    Active,
    /// Created and published; signs once activated.
    Next,
    /// Signed before; still published until its files have expired.
    Retired,
}

/// A signing key other than the active one, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SigningKeyRecord {
    pub kid: String,
    pub tenant_id: String,
    /// Raw Ed25519 public key, base64.
    pub public_key: String,
    /// The seed sealed under the tenant key (like the tenant record's); dropped at retirement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed_sealed: Option<String>,
    pub status: SigningKeyStatus,
    #[serde(with = "serde_ts")]
    pub created_at: OffsetDateTime,
    #[serde(with = "serde_ts::option", default)]
    pub retired_at: Option<OffsetDateTime>,
}

/// Every recorded key of a tenant, kept in one item.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SigningKeySet {
    pub tenant_id: String,
    #[serde(default)]
    pub keys: Vec<SigningKeyRecord>,
    /// Optimistic concurrency: incremented by every write.
    #[serde(default)]
    pub version: u64,
}

impl SigningKeySet {
    pub fn get(&self, kid: &str) -> Option<&SigningKeyRecord> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// Inserts or replaces the record of `record.kid`.
    pub fn put(&mut self, record: SigningKeyRecord) {
        match self.keys.iter_mut().find(|k| k.kid == record.kid) {
            Some(slot) => *slot = record,
            None => self.keys.push(record),
        }
    }
}

impl SigningKeyRecord {
    /// Until when a key is published (`None`: as long as it is not retired).
    pub fn valid_until(&self) -> Option<OffsetDateTime> {
        self.retired_at.map(|t| t + RETIRED_KEY_VALIDITY)
    }

    /// Whether apps should still trust the key at `now`.
    pub fn is_published(&self, now: OffsetDateTime) -> bool {
        self.valid_until().is_none_or(|until| until > now)
    }
}
