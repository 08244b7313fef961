//! The signed form of validation answers, and its verification (what a client app does
//! offline with the tenant's public key).
//!
//! Canonical form (version 1): the answer is a compact JSON object whose **last** member is
//! `"signature"`. The signature is Ed25519 over the exact bytes of the body with that last
//! member removed, i.e. the body up to (not including) its final `,"signature":"` followed by a
//! closing `}`. Nothing is re-serialised, so verification needs no JSON canonicalisation: take
//! the raw body text, cut at the last `,"signature":"`, append `}`, verify. The signature is
//! base64 (standard alphabet, padded); the public key is the raw 32-byte Ed25519 key, base64.
//! An answer no tenant could sign (its product does not exist) ends in `"signature":null`.
//!
//! Every other field (`valid`, `code`, `nonce`, `signedAt`, `license`, …) is inside the signed
//! bytes. A client sends a fresh `nonce` and checks it is echoed (replay), and may bound the age
//! of `signedAt`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

/// What precedes the signature in a signed body.
const SIGNATURE_MEMBER: &[u8] = b",\"signature\":\"";

/// Appends the `signature` member to an unsigned answer (a compact JSON object with at least
/// one member): signed with `key`, or `null` when there is none.
pub fn sign_answer(key: Option<&SigningKey>, mut unsigned: Vec<u8>) -> Vec<u8> {
    debug_assert_eq!(unsigned.last(), Some(&b'}'));
    let signature = key.map(|k| STANDARD.encode(k.sign(&unsigned).to_bytes()));
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

/// Why an answer does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    #[error("the answer carries no signature")]
    Unsigned,
    #[error("the public key is not a base64 Ed25519 key")]
    BadPublicKey,
    #[error("the signature does not match the answer and key")]
    BadSignature,
}

/// The signed message and the base64 signature of a signed body.
pub fn signed_parts(body: &[u8]) -> Result<(Vec<u8>, &str), AnswerError> {
    let start = body
        .windows(SIGNATURE_MEMBER.len())
        .rposition(|w| w == SIGNATURE_MEMBER)
        .ok_or(AnswerError::Unsigned)?;
    let rest = &body[start + SIGNATURE_MEMBER.len()..];
    let signature = rest
        .strip_suffix(b"\"}")
        .and_then(|s| std::str::from_utf8(s).ok())
        .ok_or(AnswerError::BadSignature)?;
    let mut message = body[..start].to_vec();
    message.push(b'}');
    Ok((message, signature))
}

/// Verifies a validation answer (the raw response body) against a tenant's public key (base64,
/// as `GET /api/tenants/{tenantId}/signing-key` gives it). `Ok` means the tenant's Keyhook
/// produced exactly these bytes; the caller then reads the JSON and checks `nonce`/`signedAt`.
pub fn verify_answer(public_key_b64: &str, body: &[u8]) -> Result<(), AnswerError> {
    let key: [u8; 32] = STANDARD
        .decode(public_key_b64)
        .ok()
        .and_then(|k| k.try_into().ok())
        .ok_or(AnswerError::BadPublicKey)?;
    let key = VerifyingKey::from_bytes(&key).map_err(|_| AnswerError::BadPublicKey)?;
    let (message, signature) = signed_parts(body)?;
    let signature = STANDARD
        .decode(signature)
        .ok()
        .and_then(|s| Signature::from_slice(&s).ok())
        .ok_or(AnswerError::BadSignature)?;
    key.verify(&message, &signature)
        .map_err(|_| AnswerError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::OsRng;

    fn keypair() -> (SigningKey, String) {
        let k = SigningKey::generate(&mut OsRng);
        let public = STANDARD.encode(k.verifying_key().as_bytes());
        (k, public)
    }

    #[test]
    fn signed_answers_verify_and_stay_valid_json() {
        let (k, public) = keypair();
        let body = sign_answer(
            Some(&k),
            br#"{"valid":true,"code":"VALID","nonce":"n1"}"#.to_vec(),
        );
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["code"], "VALID");
        assert!(v["signature"].as_str().unwrap().len() > 80);
        assert_eq!(verify_answer(&public, &body), Ok(()));
    }

    #[test]
    fn any_change_or_another_key_fails() {
        let (k, public) = keypair();
        let body = sign_answer(Some(&k), br#"{"valid":false,"code":"EXPIRED"}"#.to_vec());
        let forged = String::from_utf8(body.clone())
            .unwrap()
            .replace("false", "true ")
            .replace("EXPIRED", "VALID");
        assert_eq!(
            verify_answer(&public, forged.as_bytes()),
            Err(AnswerError::BadSignature)
        );
        let (_, other) = keypair();
        assert_eq!(verify_answer(&other, &body), Err(AnswerError::BadSignature));
        assert_eq!(verify_answer("nope", &body), Err(AnswerError::BadPublicKey));
    }

    #[test]
    fn a_signature_look_alike_inside_a_string_does_not_confuse_the_split() {
        let (k, public) = keypair();
        let body = sign_answer(
            Some(&k),
            br#"{"detail":"x\",\"signature\":\"AAAA","code":"VALID"}"#.to_vec(),
        );
        assert_eq!(verify_answer(&public, &body), Ok(()));
    }

    #[test]
    fn unsigned_answers_are_reported_as_such() {
        let (_, public) = keypair();
        let body = sign_answer(None, br#"{"valid":false,"code":"NOT_FOUND"}"#.to_vec());
        assert!(body.ends_with(b",\"signature\":null}"));
        assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok());
        assert_eq!(verify_answer(&public, &body), Err(AnswerError::Unsigned));
    }
}
