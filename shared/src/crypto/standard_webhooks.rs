//! Signatures of outgoing webhooks, per the Standard Webhooks specification, so merchants
//! verify them with that project's libraries in any language: headers `webhook-id`,
//! `webhook-timestamp` (Unix seconds) and `webhook-signature` (`v1,<base64>`, several separated
//! by spaces while a rolled secret is still honoured), where the signature is HMAC-SHA256 over
//! `<id>.<timestamp>.<body>` keyed with the base64-decoded part of the `whsec_…` secret.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::{rngs::OsRng, RngCore};
use sha2::Sha256;

use super::Secret;

pub const PREFIX: &str = "whsec_";

/// A new secret: `whsec_` + base64 of 32 random bytes (the specification asks for 24 to 64).
pub fn new_secret() -> Secret {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    Secret::new(format!("{PREFIX}{}", STANDARD.encode(bytes)))
}

/// The HMAC key of a `whsec_…` secret.
fn key(secret: &str) -> Option<Vec<u8>> {
    STANDARD
        .decode(secret.strip_prefix(PREFIX).unwrap_or(secret))
        .ok()
}

/// One `v1,<base64>` signature of a message.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key(secret)?).ok()?;
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The `webhook-signature` header: one signature per secret, space-separated.
pub fn signature_header(
    secrets: &[&Secret],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Option<String> {
    let signatures: Option<Vec<String>> = secrets
        .iter()
        .map(|s| sign(s.expose(), msg_id, timestamp, body))
        .collect();
    Some(signatures?.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specifications_example_signs_as_published() {
        // The example of the Standard Webhooks specification (and of its libraries' tests).
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, id, 1614265330, body).unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn new_secrets_are_whsec_32_bytes_and_rolled_headers_carry_both() {
        let a = new_secret();
        assert!(a.expose().starts_with(PREFIX));
        assert_eq!(key(a.expose()).unwrap().len(), 32);
        let b = new_secret();
        let header = signature_header(&[&a, &b], "msg_1", 1, b"{}").unwrap();
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], sign(a.expose(), "msg_1", 1, b"{}").unwrap());
    }
}
