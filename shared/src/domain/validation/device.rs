//! Devices: the client-supplied fingerprint an app sends as `deviceId`, and what Keyhook
//! remembers about one device for one product, forever (was it ever activated? its trial).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::time::serde_ts;

/// Longest `deviceId` accepted, in characters.
pub const MAX_DEVICE_ID_CHARS: usize = 256;

/// A device id: 1–256 printable characters, kept exactly as sent (it is a fingerprint, so no
/// trimming or case folding: two ids that differ are two devices).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceIdError {
    #[error("must be 1 to {MAX_DEVICE_ID_CHARS} characters")]
    Length,
    #[error("must contain only printable characters")]
    NotPrintable,
}

impl DeviceId {
    pub fn parse(s: &str) -> Result<Self, DeviceIdError> {
        let chars = s.chars().count();
        if chars == 0 || chars > MAX_DEVICE_ID_CHARS {
            return Err(DeviceIdError::Length);
        }
        if s.chars().any(char::is_control) || s.trim().is_empty() {
            return Err(DeviceIdError::NotPrintable);
        }
        Ok(DeviceId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the per-product device record is keyed by: 128 bits of SHA-256, hex. Keys stay
    /// short and free of the client's characters, and the fingerprint itself is not stored
    /// outside the license it was activated on.
    pub fn key_hash(&self) -> String {
        hex::encode(&Sha256::digest(self.0.as_bytes())[..16])
    }
}

/// What Keyhook remembers about one device for one product, across all licenses: whether it was
/// ever activated (then it never gets a trial) and its trial, if one was started (one per
/// device and product, ever).
///
/// Every field has a default: the record is built up by partial updates (activation, trial),
/// and a reader must never fail on one it does not fully recognise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductDevice {
    #[serde(default)]
    pub tenant_id: String,
    #[serde(default)]
    pub product_id: String,
    /// [`DeviceId::key_hash`] of the device.
    #[serde(default)]
    pub device_hash: String,
    #[serde(with = "serde_ts::option", default)]
    pub first_activated_at: Option<OffsetDateTime>,
    #[serde(with = "serde_ts::option", default)]
    pub trial_started_at: Option<OffsetDateTime>,
    #[serde(with = "serde_ts::option", default)]
    pub trial_expires_at: Option<OffsetDateTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_are_one_to_256_printable_characters() {
        assert!(DeviceId::parse("a").is_ok());
        assert!(DeviceId::parse("MacBook Pro (Ada) — 7f3a").is_ok());
        assert!(DeviceId::parse(&"é".repeat(256)).is_ok());
        assert_eq!(DeviceId::parse(""), Err(DeviceIdError::Length));
        assert_eq!(
            DeviceId::parse(&"x".repeat(257)),
            Err(DeviceIdError::Length)
        );
        assert_eq!(DeviceId::parse("a\nb"), Err(DeviceIdError::NotPrintable));
        assert_eq!(DeviceId::parse("a\u{0}"), Err(DeviceIdError::NotPrintable));
        assert_eq!(DeviceId::parse("   "), Err(DeviceIdError::NotPrintable));
    }

    #[test]
    fn key_hash_is_stable_short_and_distinct() {
        let a = DeviceId::parse("device-a").unwrap();
        assert_eq!(
            a.key_hash(),
            DeviceId::parse("device-a").unwrap().key_hash()
        );
        assert_eq!(a.key_hash().len(), 32);
        assert_ne!(
            a.key_hash(),
            DeviceId::parse("device-A").unwrap().key_hash()
        );
    }
}
