//! AES-256-GCM sealing of one value under one tenant data key.
//!
//! Sealed text is `v1.<keyId>.<base64url(nonce ‖ ciphertext ‖ tag)>`: the key id says which
//! tenant key opens it (old keys keep opening old values after a key change), and the
//! associated data binds the value to its tenant, owner and field, so a sealed value copied to
//! another tenant, record or field does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::{rngs::OsRng, RngCore};
use std::fmt;
use zeroize::Zeroizing;

/// An unwrapped tenant data key. `Debug` shows only its id.
pub struct DataKey {
    pub id: String,
    key: Zeroizing<[u8; 32]>,
}

impl DataKey {
    pub fn new(id: impl Into<String>, bytes: &[u8]) -> Option<Self> {
        let key: [u8; 32] = bytes.try_into().ok()?;
        Some(DataKey {
            id: id.into(),
            key: Zeroizing::new(key),
        })
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataKey({})", self.id)
    }
}

/// What a sealed value is bound to.
#[derive(Debug, Clone, Copy)]
pub struct SealContext<'a> {
    pub tenant_id: &'a str,
    /// The record that holds the value, e.g. `app_…` or `lic_…`.
    pub owner: &'a str,
    /// The field, e.g. `secretKey`.
    pub field: &'a str,
}

impl SealContext<'_> {
    fn aad(&self) -> Vec<u8> {
        format!(
            "keyhook/v1|{}|{}|{}",
            self.tenant_id, self.owner, self.field
        )
        .into_bytes()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed value was made with key {0}, not the one given")]
    WrongKey(String),
    #[error("sealed value does not open (tampered, or bound to another record)")]
    Unauthentic,
}

const VERSION: &str = "v1";

pub fn seal(key: &DataKey, ctx: SealContext<'_>, plaintext: &[u8]) -> String {
    let cipher = Aes256Gcm::new_from_slice(key.key.as_ref()).expect("32-byte key");
    let mut nonce = [0u8; 12];
    OsRng.fill_bytes(&mut nonce);
    let aad = ctx.aad();
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .expect("AES-GCM encryption cannot fail for in-memory buffers");
    let mut blob = Vec::with_capacity(12 + ct.len());
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&ct);
    format!("{VERSION}.{}.{}", key.id, URL_SAFE_NO_PAD.encode(blob))
}

/// The id of the tenant key a sealed value needs.
pub fn sealed_key_id(sealed: &str) -> Result<&str, SealError> {
    let mut parts = sealed.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(VERSION), Some(id), Some(_)) if !id.is_empty() => Ok(id),
        _ => Err(SealError::Malformed),
    }
}

pub fn open(
    key: &DataKey,
    ctx: SealContext<'_>,
    sealed: &str,
) -> Result<Zeroizing<Vec<u8>>, SealError> {
    let key_id = sealed_key_id(sealed)?;
    if key_id != key.id {
        return Err(SealError::WrongKey(key_id.to_string()));
    }
    let blob = URL_SAFE_NO_PAD
        .decode(sealed.rsplit('.').next().unwrap_or_default())
        .map_err(|_| SealError::Malformed)?;
    if blob.len() < 12 + 16 {
        return Err(SealError::Malformed);
    }
    let (nonce, ct) = blob.split_at(12);
    let cipher = Aes256Gcm::new_from_slice(key.key.as_ref()).expect("32-byte key");
    let aad = ctx.aad();
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
        .map(Zeroizing::new)
        .map_err(|_| SealError::Unauthentic)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, b: u8) -> DataKey {
        DataKey::new(id, &[b; 32]).unwrap()
    }

    fn ctx<'a>(tenant: &'a str, owner: &'a str, field: &'a str) -> SealContext<'a> {
        SealContext {
            tenant_id: tenant,
            owner,
            field,
        }
    }

    #[test]
    fn seals_and_opens() {
        let k = key("tk_1", 7);
        let s = seal(&k, ctx("ten_a", "app_1", "secretKey"), b"sk_test_123");
        assert!(s.starts_with("v1.tk_1."));
        assert!(!s.contains("sk_test_123"));
        let p = open(&k, ctx("ten_a", "app_1", "secretKey"), &s).unwrap();
        assert_eq!(&p[..], b"sk_test_123");
    }

    #[test]
    fn binding_to_tenant_owner_and_field_is_enforced() {
        let k = key("tk_1", 7);
        let s = seal(&k, ctx("ten_a", "app_1", "secretKey"), b"x");
        for c in [
            ctx("ten_b", "app_1", "secretKey"),
            ctx("ten_a", "app_2", "secretKey"),
            ctx("ten_a", "app_1", "webhookSecret"),
        ] {
            assert_eq!(open(&k, c, &s), Err(SealError::Unauthentic));
        }
    }

    #[test]
    fn wrong_key_and_tampering_are_refused() {
        let k = key("tk_1", 7);
        let c = ctx("ten_a", "app_1", "f");
        let s = seal(&k, c, b"hello");
        assert_eq!(open(&key("tk_1", 8), c, &s), Err(SealError::Unauthentic));
        assert!(matches!(
            open(&key("tk_2", 7), c, &s),
            Err(SealError::WrongKey(_))
        ));
        let mut t = s.clone().into_bytes();
        let last = t.len() - 2;
        t[last] = if t[last] == b'A' { b'B' } else { b'A' };
        assert!(open(&k, c, &String::from_utf8(t).unwrap()).is_err());
        assert_eq!(open(&k, c, "garbage"), Err(SealError::Malformed));
    }
}
