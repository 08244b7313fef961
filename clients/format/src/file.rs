//! License files, `keyhook-license-file-v1`: what an app keeps to run offline.
//!
//! ```text
//! -----BEGIN KEYHOOK LICENSE FILE-----
//! base64 (standard, padded; wrapped at 64 columns) of the envelope JSON
//! -----END KEYHOOK LICENSE FILE-----
//! ```
//!
//! The envelope is `{"format":"keyhook-license-file-v1","alg":"Ed25519","kid","enc","payload",
//! "signature"}`. `payload` is base64 of the payload JSON ([`FilePayload`]) when `enc` is
//! `"none"`, or of `nonce (12 bytes) || AES-256-GCM ciphertext || tag` when `enc` is
//! `"aes-256-gcm"`. The signature (Ed25519, base64) covers the ASCII signing input
//! `keyhook-license-file-v1.<enc>.<kid>.<payload>` (the base64 text as it stands in the
//! envelope), so it is checked before anything is decrypted or parsed, and it covers `enc` and
//! `kid` too.
//!
//! Verification also refuses a file its key signed after its retirement (`issuedAt` later than
//! the key set's `retiredAt` + [`crate::keys::RETIREMENT_TOLERANCE`]) and a file that claims to
//! live longer than [`MAX_FILE_LIFETIME`].
//!
//! Encryption key: HKDF-SHA256 with an empty salt, input keying material the license key
//! (canonical form for Keyhook keys: 25 uppercase symbols without hyphens; other keys as
//! stored, trimmed) and info `keyhook-license-file-v1/aes-256-gcm`, 32 bytes. No associated
//! data. A file copied without its key is unreadable.

use aes_gcm::aead::Aead;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::{device_hash, key_id, license_key, PublicKeySet, VerifyError};

/// The `format` of license files and their payloads.
pub const FILE_FORMAT: &str = "keyhook-license-file-v1";
pub const BEGIN: &str = "-----BEGIN KEYHOOK LICENSE FILE-----";
pub const END: &str = "-----END KEYHOOK LICENSE FILE-----";
/// `enc` of an encrypted file.
pub const ENC_AES_256_GCM: &str = "aes-256-gcm";
/// `enc` of a plain file.
pub const ENC_NONE: &str = "none";
/// HKDF `info` of the file encryption key.
pub const HKDF_INFO: &[u8] = b"keyhook-license-file-v1/aes-256-gcm";
/// The longest life of a license file (`expiresAt - issuedAt`): the server's largest TTL, and
/// how long a retired key stays published. A file claiming more is refused, so a key leaked
/// before its retirement cannot sign a back-dated file that outlives it.
pub const MAX_FILE_LIFETIME: Duration = Duration::days(366);

/// The license as of the file's issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileLicense {
    pub status: String,
    /// When the license itself ends (`null`: perpetual).
    pub expires_at: Option<String>,
    pub max_devices: u32,
    pub max_ips: u32,
}

/// What a license file says (the signed payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilePayload {
    pub format: String,
    /// The key that signed the file (also in the envelope; they must agree).
    pub kid: String,
    pub tenant_id: String,
    pub license_id: String,
    pub product_id: String,
    /// [`crate::device_hash`] of the device the file was checked out for.
    pub device_hash: String,
    /// False for licenses issued by test-mode payments.
    pub livemode: bool,
    pub license: FileLicense,
    /// The product's entitlements (feature names the merchant defines).
    pub entitlements: Vec<String>,
    pub issued_at: String,
    /// When the file stops being valid (its TTL), whatever the license's own expiry.
    pub expires_at: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    format: String,
    alg: String,
    kid: String,
    enc: String,
    payload: String,
    signature: String,
}

fn signing_input(enc: &str, kid: &str, payload_b64: &str) -> Vec<u8> {
    format!("{FILE_FORMAT}.{enc}.{kid}.{payload_b64}").into_bytes()
}

fn file_key(license_key_text: &str) -> Zeroizing<[u8; 32]> {
    let ikm = Zeroizing::new(license_key::secret_bytes(license_key_text));
    let mut okm = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(None, &ikm)
        .expand(HKDF_INFO, &mut okm[..])
        .expect("32 bytes is a valid HKDF length");
    okm
}

/// Encryption of a file to its license key: the key text and a 12-byte nonce (random for
/// every file; fixed only for test vectors).
#[derive(Debug, Clone, Copy)]
pub struct Encryption<'a> {
    pub license_key: &'a str,
    pub nonce: [u8; 12],
}

/// A license file as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseFile(pub String);

impl LicenseFile {
    /// Signs `payload` with `key` (whose kid must be `payload.kid`), encrypting it when asked.
    pub fn sign(key: &SigningKey, payload: &FilePayload, encryption: Option<Encryption>) -> Self {
        let kid = key_id(key.verifying_key().as_bytes());
        debug_assert_eq!(kid, payload.kid);
        let plain = serde_json::to_vec(payload).expect("payloads serialise");
        let (enc, payload_b64) = match encryption {
            None => (ENC_NONE, STANDARD.encode(&plain)),
            Some(e) => {
                let k = file_key(e.license_key);
                let cipher = Aes256Gcm::new_from_slice(&k[..]).expect("32-byte key");
                let sealed = cipher
                    .encrypt(Nonce::from_slice(&e.nonce), plain.as_slice())
                    .expect("AES-GCM encrypts");
                let mut out = e.nonce.to_vec();
                out.extend_from_slice(&sealed);
                (ENC_AES_256_GCM, STANDARD.encode(out))
            }
        };
        let signature =
            STANDARD.encode(key.sign(&signing_input(enc, &kid, &payload_b64)).to_bytes());
        let envelope = serde_json::to_vec(&Envelope {
            format: FILE_FORMAT.into(),
            alg: "Ed25519".into(),
            kid,
            enc: enc.into(),
            payload: payload_b64,
            signature,
        })
        .expect("envelopes serialise");
        let b64 = STANDARD.encode(envelope);
        let mut text = String::with_capacity(b64.len() + b64.len() / 64 + 80);
        text.push_str(BEGIN);
        text.push('\n');
        for line in b64.as_bytes().chunks(64) {
            text.push_str(std::str::from_utf8(line).expect("base64 is ascii"));
            text.push('\n');
        }
        text.push_str(END);
        text.push('\n');
        LicenseFile(text)
    }

    /// The kid that signed the file (read without verifying; for choosing keys or messages).
    pub fn kid(&self) -> Result<String, VerifyError> {
        Ok(self.envelope()?.kid)
    }

    fn envelope(&self) -> Result<Envelope, VerifyError> {
        let text = self.0.trim();
        let inner = text
            .strip_prefix(BEGIN)
            .and_then(|t| t.strip_suffix(END))
            .ok_or_else(|| VerifyError::Malformed("not a Keyhook license file".into()))?;
        let b64: String = inner.chars().filter(|c| !c.is_whitespace()).collect();
        let raw = STANDARD
            .decode(b64)
            .map_err(|_| VerifyError::Malformed("license file: bad base64".into()))?;
        let envelope: Envelope = serde_json::from_slice(&raw)
            .map_err(|e| VerifyError::Malformed(format!("license file: {e}")))?;
        if envelope.format != FILE_FORMAT {
            return Err(VerifyError::UnsupportedFormat(envelope.format));
        }
        if envelope.alg != "Ed25519" {
            return Err(VerifyError::Malformed(format!(
                "license file: algorithm {}",
                envelope.alg
            )));
        }
        Ok(envelope)
    }

    /// Checks the signature against `keys` and returns the payload (decrypted with
    /// `license_key` when the file is encrypted). The caller then checks what it is about with
    /// [`FilePayload::check`].
    pub fn verify(
        &self,
        keys: &PublicKeySet,
        license_key: Option<&str>,
    ) -> Result<FilePayload, VerifyError> {
        let e = self.envelope()?;
        keys.verify(
            &e.kid,
            &signing_input(&e.enc, &e.kid, &e.payload),
            &e.signature,
        )?;
        let raw = STANDARD
            .decode(&e.payload)
            .map_err(|_| VerifyError::Malformed("license file: bad payload base64".into()))?;
        let plain = match e.enc.as_str() {
            ENC_NONE => raw,
            ENC_AES_256_GCM => {
                let key_text = license_key.ok_or(VerifyError::KeyRequired)?;
                if raw.len() < 12 + 16 {
                    return Err(VerifyError::Decrypt);
                }
                let k = file_key(key_text);
                let cipher = Aes256Gcm::new_from_slice(&k[..]).expect("32-byte key");
                cipher
                    .decrypt(Nonce::from_slice(&raw[..12]), &raw[12..])
                    .map_err(|_| VerifyError::Decrypt)?
            }
            other => {
                return Err(VerifyError::Malformed(format!(
                    "license file: encryption {other}"
                )))
            }
        };
        let payload: FilePayload = serde_json::from_slice(&plain)
            .map_err(|e| VerifyError::Malformed(format!("license file payload: {e}")))?;
        if payload.format != FILE_FORMAT {
            return Err(VerifyError::UnsupportedFormat(payload.format));
        }
        if payload.kid != e.kid {
            return Err(VerifyError::Malformed(
                "license file: payload and envelope name different keys".into(),
            ));
        }
        keys.check_signed_in_service(&payload.kid, &payload.issued_at)?;
        // A file dated before its key's retirement cannot outlive the key's publication.
        if payload.expires_at()? - payload.issued_at()? > MAX_FILE_LIFETIME {
            return Err(VerifyError::LifetimeTooLong {
                issued_at: payload.issued_at.clone(),
                expires_at: payload.expires_at.clone(),
            });
        }
        Ok(payload)
    }
}

impl FilePayload {
    /// That the file is for `product_id` on `device_id`, issued no later than `now + skew` and
    /// not expired at `now` (neither the file nor the license).
    pub fn check(
        &self,
        product_id: &str,
        device_id: &str,
        now: OffsetDateTime,
        skew: Duration,
    ) -> Result<(), VerifyError> {
        if self.product_id != product_id {
            return Err(VerifyError::WrongProduct {
                expected: product_id.into(),
                found: self.product_id.clone(),
            });
        }
        if self.device_hash != device_hash(product_id, device_id) {
            return Err(VerifyError::WrongDevice);
        }
        if self.issued_at()? > now + skew {
            return Err(VerifyError::NotYetValid(self.issued_at.clone()));
        }
        if self.expires_at()? <= now {
            return Err(VerifyError::Expired(self.expires_at.clone()));
        }
        if let Some(e) = &self.license.expires_at {
            if crate::time_fmt::parse("license.expiresAt", e)? <= now {
                return Err(VerifyError::Expired(e.clone()));
            }
        }
        Ok(())
    }

    pub fn issued_at(&self) -> Result<OffsetDateTime, VerifyError> {
        crate::time_fmt::parse("issuedAt", &self.issued_at)
    }

    pub fn expires_at(&self) -> Result<OffsetDateTime, VerifyError> {
        crate::time_fmt::parse("expiresAt", &self.expires_at)
    }

    /// That a build may trust the file: a live build (`accepts_test_licenses` false) refuses a
    /// file of a test license (`livemode: false`); live licenses' files are good in every build.
    pub fn check_livemode(&self, accepts_test_licenses: bool) -> Result<(), VerifyError> {
        if !self.livemode && !accepts_test_licenses {
            return Err(VerifyError::TestLicense);
        }
        Ok(())
    }

    /// Whether the product grants `entitlement`.
    pub fn has(&self, entitlement: &str) -> bool {
        self.entitlements.iter().any(|e| e == entitlement)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::OsRng;

    const KEY: &str = "ABCDE-FGHJK-MNPQR-STVWX-YZ012";

    fn t(s: &str) -> OffsetDateTime {
        crate::time_fmt::parse("t", s).unwrap()
    }

    fn payload(k: &SigningKey) -> FilePayload {
        FilePayload {
            format: FILE_FORMAT.into(),
            kid: key_id(k.verifying_key().as_bytes()),
            tenant_id: "ten_1".into(),
            license_id: license_key::license_id(KEY).unwrap(),
            product_id: "42".into(),
            device_hash: device_hash("42", "machine-1"),
            livemode: true,
            license: FileLicense {
                status: "active".into(),
                expires_at: Some("2027-12-01T00:00:00.000Z".into()),
                max_devices: 3,
                max_ips: 0,
            },
            entitlements: vec!["pro".into(), "export".into()],
            issued_at: "2026-11-01T00:00:00.000Z".into(),
            expires_at: "2026-12-01T00:00:00.000Z".into(),
        }
    }

    fn keys(k: &SigningKey) -> PublicKeySet {
        PublicKeySet::single(&STANDARD.encode(k.verifying_key().as_bytes())).unwrap()
    }

    #[test]
    fn files_round_trip_plain_and_encrypted() {
        let k = SigningKey::generate(&mut OsRng);
        let p = payload(&k);
        let plain = LicenseFile::sign(&k, &p, None);
        assert!(plain.0.starts_with(BEGIN) && plain.0.trim_end().ends_with(END));
        assert_eq!(plain.verify(&keys(&k), None).unwrap(), p);
        let enc = LicenseFile::sign(
            &k,
            &p,
            Some(Encryption {
                license_key: KEY,
                nonce: [7; 12],
            }),
        );
        assert_eq!(enc.verify(&keys(&k), None), Err(VerifyError::KeyRequired));
        // Lenient key input decrypts the same.
        assert_eq!(
            enc.verify(&keys(&k), Some("abcde fghjk mnpqr stvwx yz012"))
                .unwrap(),
            p
        );
        assert_eq!(
            enc.verify(&keys(&k), Some("ZZZZZ-FGHJK-MNPQR-STVWX-YZ012")),
            Err(VerifyError::Decrypt)
        );
        let other = SigningKey::generate(&mut OsRng);
        assert!(matches!(
            plain.verify(&keys(&other), None),
            Err(VerifyError::UnknownKey(_))
        ));
    }

    #[test]
    fn the_payload_is_checked_for_product_device_and_time() {
        let k = SigningKey::generate(&mut OsRng);
        let p = payload(&k);
        let skew = Duration::minutes(5);
        let now = t("2026-11-10T00:00:00Z");
        assert!(p.check("42", "machine-1", now, skew).is_ok());
        assert!(matches!(
            p.check("43", "machine-1", now, skew),
            Err(VerifyError::WrongProduct { .. })
        ));
        assert_eq!(
            p.check("42", "machine-2", now, skew),
            Err(VerifyError::WrongDevice)
        );
        assert!(matches!(
            p.check("42", "machine-1", t("2026-12-01T00:00:00Z"), skew),
            Err(VerifyError::Expired(_))
        ));
        assert!(matches!(
            p.check("42", "machine-1", t("2026-10-01T00:00:00Z"), skew),
            Err(VerifyError::NotYetValid(_))
        ));
        assert!(p.has("pro") && !p.has("enterprise"));
    }

    #[test]
    fn a_tampered_payload_fails_the_signature() {
        let k = SigningKey::generate(&mut OsRng);
        let file = LicenseFile::sign(&k, &payload(&k), None);
        let inner: String = file.0.lines().filter(|l| !l.starts_with("-----")).collect();
        let mut env: serde_json::Value =
            serde_json::from_slice(&STANDARD.decode(inner).unwrap()).unwrap();
        let mut p = payload(&k);
        p.entitlements.push("enterprise".into());
        env["payload"] = STANDARD.encode(serde_json::to_vec(&p).unwrap()).into();
        let forged = format!(
            "{BEGIN}\n{}\n{END}\n",
            STANDARD.encode(serde_json::to_vec(&env).unwrap())
        );
        assert_eq!(
            LicenseFile(forged).verify(&keys(&k), None),
            Err(VerifyError::BadSignature)
        );
    }
}
