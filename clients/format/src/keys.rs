//! Public key sets: the Ed25519 keys a tenant signs with, by key id (`kid`).
//!
//! `kid = hex(SHA-256(raw 32-byte public key))[..16]`: derived, so anyone holding a public key
//! (e.g. from the older `GET /api/tenants/{tenantId}/signing-key`) knows its kid. A set is what
//! `GET /api/tenants/{tenantId}/signing-keys` publishes, `{ keys: [{ kid, alg, publicKey, status,
//! createdAt, retiredAt? }] }`; an app embeds it and may refresh it online.
//!
//! **Retired keys.** A key published with `retiredAt` stopped signing then; it stays published
//! so what it signed before keeps verifying. A signature it made is trusted only when the
//! document says it was signed (`signedAt` of an answer, `issuedAt` of a file) no later than
//! `retiredAt` + [`RETIREMENT_TOLERANCE`]: the server's warm processes may sign with a key for
//! a few minutes after its retirement (their key cache), never longer than half this tolerance.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::VerifyError;

/// How long after its `retiredAt` a key's signatures are still trusted: the server stops
/// signing with a retired key within its key cache's lifetime, which it caps at half of this.
pub const RETIREMENT_TOLERANCE: Duration = Duration::minutes(10);

/// The key id of a raw Ed25519 public key.
pub fn key_id(public_key: &[u8; 32]) -> String {
    hex::encode(&Sha256::digest(public_key)[..8])
}

/// Verification keys by kid.
#[derive(Debug, Clone, Default)]
pub struct PublicKeySet {
    keys: Vec<KnownKey>,
}

#[derive(Debug, Clone)]
struct KnownKey {
    kid: String,
    key: VerifyingKey,
    /// When it stopped signing (published for retired keys).
    retired_at: Option<OffsetDateTime>,
}

#[derive(Deserialize)]
struct Published {
    keys: Vec<PublishedKey>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublishedKey {
    kid: String,
    alg: String,
    public_key: String,
    #[serde(default)]
    retired_at: Option<String>,
}

fn decode_key(public_key_b64: &str) -> Result<VerifyingKey, VerifyError> {
    let raw: [u8; 32] = STANDARD
        .decode(public_key_b64.trim())
        .ok()
        .and_then(|k| k.try_into().ok())
        .ok_or(VerifyError::BadPublicKey)?;
    VerifyingKey::from_bytes(&raw).map_err(|_| VerifyError::BadPublicKey)
}

impl PublicKeySet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A set of one base64 public key (its kid derived).
    pub fn single(public_key_b64: &str) -> Result<Self, VerifyError> {
        let mut set = Self::new();
        set.add(public_key_b64)?;
        Ok(set)
    }

    /// Adds a base64 public key; returns its kid.
    pub fn add(&mut self, public_key_b64: &str) -> Result<String, VerifyError> {
        let key = decode_key(public_key_b64)?;
        let kid = key_id(key.as_bytes());
        if self.get(&kid).is_none() {
            self.keys.push(KnownKey {
                kid: kid.clone(),
                key,
                retired_at: None,
            });
        }
        Ok(kid)
    }

    /// Records that the key `kid` stopped signing at `retired_at` (what the published set says
    /// of a retired key).
    pub fn retire(&mut self, kid: &str, retired_at: OffsetDateTime) {
        if let Some(k) = self.keys.iter_mut().find(|k| k.kid == kid) {
            k.retired_at = Some(retired_at);
        }
    }

    /// When the key `kid` was retired, if the set says it was.
    pub fn retired_at(&self, kid: &str) -> Option<OffsetDateTime> {
        self.keys
            .iter()
            .find(|k| k.kid == kid)
            .and_then(|k| k.retired_at)
    }

    /// The set from the JSON body of `GET /api/tenants/{tenantId}/signing-keys`. Each key's
    /// kid must be the one its public key derives (a mislabelled key is refused).
    pub fn from_json(body: &[u8]) -> Result<Self, VerifyError> {
        let published: Published = serde_json::from_slice(body)
            .map_err(|e| VerifyError::Malformed(format!("key set: {e}")))?;
        let mut set = Self::new();
        for k in published.keys {
            if k.alg != "Ed25519" {
                continue;
            }
            let kid = set.add(&k.public_key)?;
            if kid != k.kid {
                return Err(VerifyError::Malformed(format!(
                    "key set: kid {} does not match its public key",
                    k.kid
                )));
            }
            if let Some(retired_at) = &k.retired_at {
                set.retire(
                    &kid,
                    crate::time_fmt::parse("key set: retiredAt", retired_at)?,
                );
            }
        }
        Ok(set)
    }

    /// The key with this kid.
    pub fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.iter().find(|k| k.kid == kid).map(|k| &k.key)
    }

    /// The kids in the set.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.kid.as_str())
    }

    /// That the key `kid` was not retired (beyond [`RETIREMENT_TOLERANCE`]) when the document
    /// it signed says it was signed (`signed_at`, as written in the document).
    pub fn check_signed_in_service(&self, kid: &str, signed_at: &str) -> Result<(), VerifyError> {
        let Some(retired_at) = self.retired_at(kid) else {
            return Ok(());
        };
        if crate::time_fmt::parse("signedAt", signed_at)? > retired_at + RETIREMENT_TOLERANCE {
            return Err(VerifyError::RetiredKey {
                kid: kid.to_string(),
                signed_at: signed_at.to_string(),
                retired_at: crate::time_fmt::format(retired_at),
            });
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Verifies a base64 signature over `message` with the key `kid`.
    pub fn verify(
        &self,
        kid: &str,
        message: &[u8],
        signature_b64: &str,
    ) -> Result<(), VerifyError> {
        let key = self
            .get(kid)
            .ok_or_else(|| VerifyError::UnknownKey(kid.to_string()))?;
        let signature = STANDARD
            .decode(signature_b64)
            .ok()
            .and_then(|s| Signature::from_slice(&s).ok())
            .ok_or(VerifyError::BadSignature)?;
        key.verify_strict(message, &signature)
            .map_err(|_| VerifyError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w=";

    fn set(retired_at: &str) -> Result<PublicKeySet, VerifyError> {
        let kid = PublicKeySet::single(KEY)?
            .kids()
            .next()
            .unwrap()
            .to_string();
        PublicKeySet::from_json(
            format!(
                r#"{{"keys":[{{"kid":"{kid}","alg":"Ed25519","publicKey":"{KEY}","status":"retired","retiredAt":{retired_at}}}]}}"#
            )
            .as_bytes(),
        )
    }

    #[test]
    fn a_retired_key_is_trusted_only_on_what_it_signed_before_its_retirement() {
        let keys = set(r#""2026-11-20T00:00:00.000Z""#).unwrap();
        let kid = keys.kids().next().unwrap().to_string();
        assert!(keys
            .check_signed_in_service(&kid, "2026-11-19T00:00:00.000Z")
            .is_ok());
        assert!(keys
            .check_signed_in_service(&kid, "2026-11-20T00:10:00.000Z")
            .is_ok());
        assert_eq!(
            keys.check_signed_in_service(&kid, "2026-11-20T00:10:00.001Z"),
            Err(VerifyError::RetiredKey {
                kid: kid.clone(),
                signed_at: "2026-11-20T00:10:00.001Z".into(),
                retired_at: "2026-11-20T00:00:00.000Z".into(),
            })
        );
        // Keys without retiredAt (active, next) are not bounded.
        let active = set("null").unwrap();
        assert!(active
            .check_signed_in_service(&kid, "2099-01-01T00:00:00.000Z")
            .is_ok());
        assert!(matches!(
            set(r#""yesterday""#),
            Err(VerifyError::Malformed(_))
        ));
    }
}
