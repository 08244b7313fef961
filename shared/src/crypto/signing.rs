//! Ed25519 signatures: each tenant has a signing key (its seed sealed under the tenant key) so
//! that client apps can check validation answers offline with the tenant's public key.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use rand::rngs::OsRng;
use zeroize::Zeroizing;

/// A new signing key: (seed to seal, public key as base64).
pub fn generate() -> (Zeroizing<[u8; 32]>, String) {
    let key = SigningKey::generate(&mut OsRng);
    let public = STANDARD.encode(key.verifying_key().as_bytes());
    (Zeroizing::new(key.to_bytes()), public)
}

/// Signs `message` with the key of `seed`; base64 signature.
pub fn sign(seed: &[u8], message: &[u8]) -> Option<String> {
    let seed: [u8; 32] = seed.try_into().ok()?;
    let key = SigningKey::from_bytes(&seed);
    Some(STANDARD.encode(key.sign(message).to_bytes()))
}

/// Checks a base64 signature against a base64 public key: what a client app does offline.
pub fn verify(public_key_b64: &str, message: &[u8], signature_b64: &str) -> bool {
    let Ok(pk) = STANDARD.decode(public_key_b64) else {
        return false;
    };
    let Ok(pk): Result<[u8; 32], _> = pk.try_into() else {
        return false;
    };
    let Ok(vk) = VerifyingKey::from_bytes(&pk) else {
        return false;
    };
    let Ok(sig) = STANDARD.decode(signature_b64) else {
        return false;
    };
    let Ok(sig) = Signature::from_slice(&sig) else {
        return false;
    };
    vk.verify(message, &sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_round_trip() {
        let (seed, public) = generate();
        let sig = sign(&seed[..], b"hello").unwrap();
        assert!(verify(&public, b"hello", &sig));
        assert!(!verify(&public, b"hellO", &sig));
        let (_, other) = generate();
        assert!(!verify(&other, b"hello", &sig));
    }
}
