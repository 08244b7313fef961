//! Public key sets: the Ed25519 keys a tenant signs with, by key id (`kid`).
//!
//! `kid = hex(SHA-256(raw 32-byte public key))[..16]`: derived, so anyone holding a public key
//! (e.g. from the older `GET /api/tenants/{tenantId}/signing-key`) knows its kid. A set is what
//! `GET /api/tenants/{tenantId}/signing-keys` publishes, `{ keys: [{ kid, alg, publicKey, status,
//! createdAt }] }`; an app embeds it and may refresh it online.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::VerifyError;

/// The key id of a raw Ed25519 public key.
pub fn key_id(public_key: &[u8; 32]) -> String {
    hex::encode(&Sha256::digest(public_key)[..8])
}

/// Verification keys by kid.
#[derive(Debug, Clone, Default)]
pub struct PublicKeySet {
    keys: Vec<(String, VerifyingKey)>,
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
            self.keys.push((kid.clone(), key));
        }
        Ok(kid)
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
        }
        Ok(set)
    }

    /// The key with this kid.
    pub fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.iter().find(|(k, _)| k == kid).map(|(_, v)| v)
    }

    /// The kids in the set.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(k, _)| k.as_str())
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
