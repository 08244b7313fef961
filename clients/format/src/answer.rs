//! Validation answers, `keyhook-answer-v2`.
//!
//! **Canonical form.** The body is compact JSON whose last member is `"signature"` (base64,
//! standard alphabet, padded). The signature is Ed25519 over the exact bytes of the body with
//! that member removed: the body up to, not including, its **last** `,"signature":"`, followed
//! by `}`. Nothing is re-serialised, so there is no JSON canonicalisation to get wrong. The
//! signing key is named by `kid` inside the signed bytes. An answer no tenant can sign (the
//! product does not exist) ends in `"signature":null` and is never trusted.
//!
//! **What an answer says it answers** (all inside the signed bytes): `format`, `productId` (as
//! requested), `deviceHash` ([`crate::device_hash`] of the requested device, when one was
//! sent), `licenseId` (for requests with a key), `livemode`, `nonce` (echoed), `signedAt`,
//! `kid`; `trial` names its `productId` and `deviceHash`. [`verify_answer`] checks every one of
//! them against what the caller asked ([`Expected`]) before returning the answer, and that the
//! signing key was not retired before `signedAt` ([`PublicKeySet::check_signed_in_service`]).
//! The build's mode is checked with [`Answer::check_livemode`], freshness with
//! [`Answer::check_fresh`].

use ed25519_dalek::{Signer, SigningKey};
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use crate::{device_hash, license_key, PublicKeySet, VerifyError};

/// The `format` of the answers this crate signs and verifies.
pub const ANSWER_FORMAT: &str = "keyhook-answer-v2";

/// What precedes the signature in a signed body.
const SIGNATURE_MEMBER: &[u8] = b",\"signature\":\"";

/// Appends the `signature` member to an unsigned answer (a compact JSON object with at least
/// one member): signed with `key`, or `null` when there is none.
pub fn sign_answer(key: Option<&SigningKey>, mut unsigned: Vec<u8>) -> Vec<u8> {
    debug_assert_eq!(unsigned.last(), Some(&b'}'));
    use base64::Engine;
    let signature =
        key.map(|k| base64::engine::general_purpose::STANDARD.encode(k.sign(&unsigned).to_bytes()));
    unsigned.pop();
    match signature {
        Some(sig) => {
            unsigned.extend_from_slice(SIGNATURE_MEMBER);
            unsigned.extend_from_slice(sig.as_bytes());
            unsigned.extend_from_slice(b"\"}");
        }
        None => unsigned.extend_from_slice(b",\"signature\":null}"),
    }
    unsigned
}

/// The signed message and the base64 signature of a signed body.
pub fn signed_parts(body: &[u8]) -> Result<(Vec<u8>, &str), VerifyError> {
    let Some(start) = body
        .windows(SIGNATURE_MEMBER.len())
        .rposition(|w| w == SIGNATURE_MEMBER)
    else {
        return Err(if body.ends_with(b"\"signature\":null}") {
            VerifyError::Unsigned
        } else {
            VerifyError::Malformed("no signature member".into())
        });
    };
    let rest = &body[start + SIGNATURE_MEMBER.len()..];
    let signature = rest
        .strip_suffix(b"\"}")
        .and_then(|s| std::str::from_utf8(s).ok())
        .ok_or(VerifyError::BadSignature)?;
    let mut message = body[..start].to_vec();
    message.push(b'}');
    Ok((message, signature))
}

/// The license an answer describes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnswerLicense {
    pub id: String,
    pub product_id: String,
    pub status: String,
    pub expires_at: Option<String>,
    pub max_devices: u32,
    pub active_devices: u32,
}

/// The trial an answer describes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnswerTrial {
    pub product_id: String,
    pub device_hash: String,
    pub started_at: String,
    pub expires_at: String,
}

/// The lease a lease or heartbeat answer describes (floating licenses).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnswerLease {
    pub id: String,
    pub expires_at: String,
    pub heartbeat_seconds: u32,
    #[serde(default)]
    pub borrowed_until: Option<String>,
}

/// With `CONCURRENCY_LIMIT_REACHED`: the seats in use, of how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnswerSeats {
    pub in_use: u32,
    pub max_concurrent: u32,
}

/// A usage answer's meter (`POST /api/licenses/usage`): what the license used of it this
/// period, and what remains (with `USAGE_LIMIT_REACHED`: the numbers that refused it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnswerUsage {
    pub meter: String,
    /// `month`, `subscription` or `lifetime`.
    pub period: String,
    pub used: u64,
    pub limit: u64,
    pub remaining: u64,
    /// When the count starts again (absent for `lifetime`).
    #[serde(default)]
    pub resets_at: Option<String>,
}

/// A verified answer. Unknown fields are ignored (newer servers may add some).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    pub format: String,
    pub valid: bool,
    pub code: String,
    pub detail: String,
    pub livemode: bool,
    pub product_id: String,
    #[serde(default)]
    pub device_hash: Option<String>,
    #[serde(default)]
    pub license_id: Option<String>,
    #[serde(default)]
    pub license: Option<AnswerLicense>,
    /// With `DEVICE_LIMIT_REACHED`: the license's page in the merchant's customer portal,
    /// where the buyer frees a device (show it: "Too many devices — manage your devices").
    #[serde(default)]
    pub manage_url: Option<String>,
    /// Lease and heartbeat answers: the seat the device holds.
    #[serde(default)]
    pub lease: Option<AnswerLease>,
    /// With `CONCURRENCY_LIMIT_REACHED`.
    #[serde(default)]
    pub seats: Option<AnswerSeats>,
    /// Usage answers: the meter recorded on.
    #[serde(default)]
    pub usage: Option<AnswerUsage>,
    /// Validation with `include: ["usage"]`: each meter of the product, used this period.
    #[serde(default)]
    pub meters: Option<Vec<AnswerUsage>>,
    #[serde(default)]
    pub trial: Option<AnswerTrial>,
    #[serde(default)]
    pub nonce: Option<String>,
    pub signed_at: String,
    pub kid: String,
}

/// What the caller asked; an answer about anything else is refused.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The `productId` sent.
    pub product_id: &'a str,
    /// The `deviceId` sent, if any (the answer must carry its hash, or none when `None`).
    pub device_id: Option<&'a str>,
    /// The `nonce` sent, if any (the answer must echo it, or carry none when `None`).
    pub nonce: Option<&'a str>,
    /// The `licenseKey` sent, if any: a valid answer must name the license of this key.
    pub license_key: Option<&'a str>,
}

/// Checks the signature of an answer (the raw response body) against `keys`, then that it is a
/// `keyhook-answer-v2` answer to exactly the request described by `expected`. Returns the
/// answer; the caller decides on `valid`/`code` and may bound the age with
/// [`Answer::check_fresh`].
pub fn verify_answer(
    keys: &PublicKeySet,
    body: &[u8],
    expected: &Expected,
) -> Result<Answer, VerifyError> {
    let answer = verify_answer_signature(keys, body)?;
    answer.check(expected)?;
    Ok(answer)
}

/// The signature and format only (for tools that inspect answers; apps use
/// [`verify_answer`]).
pub fn verify_answer_signature(keys: &PublicKeySet, body: &[u8]) -> Result<Answer, VerifyError> {
    let (message, signature) = signed_parts(body)?;
    #[derive(Deserialize)]
    struct Header {
        #[serde(default)]
        format: Option<String>,
        #[serde(default)]
        kid: Option<String>,
    }
    let header: Header = serde_json::from_slice(&message)
        .map_err(|e| VerifyError::Malformed(format!("answer: {e}")))?;
    match header.format.as_deref() {
        Some(ANSWER_FORMAT) => {}
        other => {
            return Err(VerifyError::UnsupportedFormat(
                other.unwrap_or("keyhook-answer-v1").to_string(),
            ))
        }
    }
    let kid = header
        .kid
        .ok_or_else(|| VerifyError::Malformed("answer without kid".into()))?;
    keys.verify(&kid, &message, signature)?;
    let answer: Answer = serde_json::from_slice(&message)
        .map_err(|e| VerifyError::Malformed(format!("answer: {e}")))?;
    keys.check_signed_in_service(&answer.kid, &answer.signed_at)?;
    Ok(answer)
}

impl Answer {
    /// That this (signature-checked) answer answers `expected`.
    pub fn check(&self, expected: &Expected) -> Result<(), VerifyError> {
        let wrong_product = |found: &str| VerifyError::WrongProduct {
            expected: expected.product_id.to_string(),
            found: found.to_string(),
        };
        if self.product_id != expected.product_id {
            return Err(wrong_product(&self.product_id));
        }
        let device = expected
            .device_id
            .map(|d| device_hash(expected.product_id, d));
        if self.device_hash != device {
            return Err(VerifyError::WrongDevice);
        }
        if self.nonce.as_deref() != expected.nonce {
            return Err(VerifyError::WrongNonce);
        }
        if let Some(t) = &self.trial {
            if t.product_id != expected.product_id {
                return Err(wrong_product(&t.product_id));
            }
            if Some(&t.device_hash) != device.as_ref() {
                return Err(VerifyError::WrongDevice);
            }
        }
        if let Some(l) = &self.license {
            if l.product_id != expected.product_id {
                return Err(wrong_product(&l.product_id));
            }
            if Some(&l.id) != self.license_id.as_ref() {
                return Err(VerifyError::WrongLicense);
            }
        }
        match expected.license_key {
            None if self.license_id.is_some() || self.license.is_some() => {
                return Err(VerifyError::WrongLicense)
            }
            None if self.valid && self.trial.is_none() => return Err(VerifyError::WrongLicense),
            None => {}
            Some(key) => {
                if self.trial.is_some() {
                    return Err(VerifyError::WrongLicense);
                }
                match (&self.license_id, license_key::license_id(key)) {
                    (Some(found), Some(mine)) if *found != mine => {
                        return Err(VerifyError::WrongLicense)
                    }
                    (None, _) if self.valid => return Err(VerifyError::WrongLicense),
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// That the answer may be trusted by a build that accepts test licenses or not: a live
    /// build (`accepts_test_licenses` false) refuses a *valid* answer about a test license
    /// (`livemode: false`). A refusal grants nothing, so it is returned whatever its mode (a
    /// live build gets `TEST_LICENSE` answers that way); live licenses are good in every build.
    pub fn check_livemode(&self, accepts_test_licenses: bool) -> Result<(), VerifyError> {
        if self.valid && !self.livemode && !accepts_test_licenses {
            return Err(VerifyError::TestLicense);
        }
        Ok(())
    }

    /// `signedAt` as a time.
    pub fn signed_at(&self) -> Result<OffsetDateTime, VerifyError> {
        crate::time_fmt::parse("signedAt", &self.signed_at)
    }

    /// That the answer was signed at most `max_age` before `now` and not more than `skew` after
    /// it.
    pub fn check_fresh(
        &self,
        now: OffsetDateTime,
        max_age: Duration,
        skew: Duration,
    ) -> Result<(), VerifyError> {
        let at = self.signed_at()?;
        if at > now + skew {
            return Err(VerifyError::NotYetValid(self.signed_at.clone()));
        }
        if at + max_age < now {
            return Err(VerifyError::Stale(self.signed_at.clone()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use rand::rngs::OsRng;

    fn keypair() -> (SigningKey, PublicKeySet, String) {
        let k = SigningKey::generate(&mut OsRng);
        let set = PublicKeySet::single(&STANDARD.encode(k.verifying_key().as_bytes())).unwrap();
        let kid = crate::key_id(k.verifying_key().as_bytes());
        (k, set, kid)
    }

    fn trial_answer(kid: &str, product: &str, device: &str, nonce: &str) -> Vec<u8> {
        let h = device_hash(product, device);
        format!(
            r#"{{"format":"keyhook-answer-v2","valid":true,"code":"TRIAL","detail":"The trial is running.","livemode":true,"productId":"{product}","deviceHash":"{h}","trial":{{"productId":"{product}","deviceHash":"{h}","startedAt":"2026-11-01T00:00:00.000Z","expiresAt":"2026-11-15T00:00:00.000Z"}},"nonce":"{nonce}","signedAt":"2026-11-02T00:00:00.000Z","kid":"{kid}"}}"#
        )
        .into_bytes()
    }

    fn expect<'a>(product: &'a str, device: &'a str, nonce: &'a str) -> Expected<'a> {
        Expected {
            product_id: product,
            device_id: Some(device),
            nonce: Some(nonce),
            license_key: None,
        }
    }

    #[test]
    fn an_answer_verifies_only_for_what_was_asked() {
        let (k, keys, kid) = keypair();
        let body = sign_answer(Some(&k), trial_answer(&kid, "A", "X", "n1"));
        let a = verify_answer(&keys, &body, &expect("A", "X", "n1")).unwrap();
        assert_eq!(a.code, "TRIAL");
        assert!(matches!(
            verify_answer(&keys, &body, &expect("B", "X", "n1")),
            Err(VerifyError::WrongProduct { .. })
        ));
        assert_eq!(
            verify_answer(&keys, &body, &expect("A", "Y", "n1")),
            Err(VerifyError::WrongDevice)
        );
        assert_eq!(
            verify_answer(&keys, &body, &expect("A", "X", "n2")),
            Err(VerifyError::WrongNonce)
        );
        let keyed = Expected {
            license_key: Some("ABCDE-FGHJK-MNPQR-STVWX-YZ012"),
            ..expect("A", "X", "n1")
        };
        assert_eq!(
            verify_answer(&keys, &body, &keyed),
            Err(VerifyError::WrongLicense),
            "a trial answer is not an answer about a key"
        );
    }

    #[test]
    fn tampering_other_keys_and_old_formats_are_refused() {
        let (k, keys, kid) = keypair();
        let body = sign_answer(Some(&k), trial_answer(&kid, "A", "X", "n1"));
        let forged = String::from_utf8(body.clone())
            .unwrap()
            .replace("\"productId\":\"A\"", "\"productId\":\"B\"");
        assert_eq!(
            verify_answer(&keys, forged.as_bytes(), &expect("B", "X", "n1")),
            Err(VerifyError::BadSignature)
        );
        let (_, other, _) = keypair();
        assert!(matches!(
            verify_answer(&other, &body, &expect("A", "X", "n1")),
            Err(VerifyError::UnknownKey(_))
        ));
        let v1 = sign_answer(Some(&k), br#"{"valid":true,"code":"VALID"}"#.to_vec());
        assert_eq!(
            verify_answer(&keys, &v1, &expect("A", "X", "n1")),
            Err(VerifyError::UnsupportedFormat("keyhook-answer-v1".into()))
        );
        let unsigned = sign_answer(None, trial_answer(&kid, "A", "X", "n1"));
        assert_eq!(
            verify_answer(&keys, &unsigned, &expect("A", "X", "n1")),
            Err(VerifyError::Unsigned)
        );
    }

    #[test]
    fn a_signature_look_alike_inside_a_string_does_not_confuse_the_split() {
        let (k, keys, kid) = keypair();
        let mut unsigned = trial_answer(&kid, "A", "X", "n1");
        let s = String::from_utf8(unsigned)
            .unwrap()
            .replace("The trial is running.", r#"x\",\"signature\":\"AAAA"#);
        unsigned = s.into_bytes();
        let body = sign_answer(Some(&k), unsigned);
        assert!(verify_answer(&keys, &body, &expect("A", "X", "n1")).is_ok());
    }

    #[test]
    fn freshness_bounds_the_age_and_refuses_the_future() {
        let (k, keys, kid) = keypair();
        let body = sign_answer(Some(&k), trial_answer(&kid, "A", "X", "n1"));
        let a = verify_answer(&keys, &body, &expect("A", "X", "n1")).unwrap();
        let signed = a.signed_at().unwrap();
        let five = Duration::minutes(5);
        assert!(a
            .check_fresh(signed + Duration::minutes(1), five, five)
            .is_ok());
        assert!(matches!(
            a.check_fresh(signed + Duration::minutes(6), five, five),
            Err(VerifyError::Stale(_))
        ));
        assert!(matches!(
            a.check_fresh(signed - Duration::minutes(6), five, five),
            Err(VerifyError::NotYetValid(_))
        ));
    }
}
