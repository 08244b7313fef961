//! Stripe's webhook signature scheme, as Stripe documents and its libraries implement it:
//! header `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]`, where each `v1` is
//! HMAC-SHA256(secret, "<t>.<raw body>"). Any matching `v1` is accepted (Stripe sends several
//! while a secret is being rolled); other schemes (`v0`) are ignored; the timestamp must be
//! within the tolerance of now, in either direction.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header is malformed: {0}")]
    Malformed(&'static str),
    #[error("the signature timestamp is more than {0} seconds from now")]
    OutsideTolerance(u64),
}

/// A parsed `Stripe-Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    pub timestamp: i64,
    pub v1: Vec<[u8; 32]>,
}

impl SignatureHeader {
    pub fn parse(header: &str) -> Result<Self, SignatureError> {
        let mut timestamp = None;
        let mut v1 = Vec::new();
        for part in header.split(',') {
            let (k, v) = part
                .trim()
                .split_once('=')
                .ok_or(SignatureError::Malformed("items must be key=value"))?;
            match k {
                "t" => {
                    timestamp = Some(
                        v.parse::<i64>()
                            .map_err(|_| SignatureError::Malformed("t is not a unix timestamp"))?,
                    )
                }
                "v1" => {
                    let bytes = hex::decode(v)
                        .map_err(|_| SignatureError::Malformed("v1 is not hexadecimal"))?;
                    let sig: [u8; 32] = bytes
                        .try_into()
                        .map_err(|_| SignatureError::Malformed("v1 is not 32 bytes"))?;
                    v1.push(sig);
                }
                _ => {}
            }
        }
        let timestamp = timestamp.ok_or(SignatureError::Malformed("no timestamp (t=)"))?;
        if v1.is_empty() {
            return Err(SignatureError::Malformed("no v1 signature"));
        }
        Ok(SignatureHeader { timestamp, v1 })
    }

    /// Refuses timestamps further than `tolerance` from `now` (replays, badly skewed clocks).
    pub fn check_timestamp(
        &self,
        now_unix: i64,
        tolerance: Duration,
    ) -> Result<(), SignatureError> {
        let secs = tolerance.as_secs();
        // `abs_diff`: any i64 the header carries, however far off, is a refusal, not an overflow.
        if now_unix.abs_diff(self.timestamp) > secs {
            return Err(SignatureError::OutsideTolerance(secs));
        }
        Ok(())
    }

    /// True when any `v1` is the HMAC of this body under `secret` (constant-time compare).
    pub fn verifies(&self, secret: &str, body: &[u8]) -> bool {
        let mac = signed_payload_mac(secret, self.timestamp, body);
        self.v1
            .iter()
            .any(|sig| mac.clone().verify_slice(sig).is_ok())
    }
}

fn signed_payload_mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `Stripe-Signature` header Stripe would send for this body: what `keyhook trigger` and
/// the tests use to sign events exactly as Stripe does.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let sig = signed_payload_mac(secret, timestamp, body)
        .finalize()
        .into_bytes();
    format!("t={timestamp},v1={}", hex::encode(sig))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","object":"event"}"#;
    const TOL: Duration = Duration::from_secs(300);

    #[test]
    fn known_vector() {
        // Computed independently with Python:
        // hmac.new(b"whsec_test_secret", b"1700000000." + body, hashlib.sha256).hexdigest()
        assert_eq!(
            sign(SECRET, 1_700_000_000, BODY),
            "t=1700000000,v1=0c8670ed117751cc551a20e35839447075c42800ea3cf3e8a2fbda99cd1e6edd"
        );
    }

    #[test]
    fn valid_signature_verifies() {
        let h = SignatureHeader::parse(&sign(SECRET, 1_700_000_000, BODY)).unwrap();
        assert!(h.verifies(SECRET, BODY));
        assert!(h.check_timestamp(1_700_000_100, TOL).is_ok());
    }

    #[test]
    fn tampered_body_and_wrong_secret_fail() {
        let h = SignatureHeader::parse(&sign(SECRET, 1_700_000_000, BODY)).unwrap();
        assert!(!h.verifies(SECRET, br#"{"id":"evt_2","object":"event"}"#));
        assert!(!h.verifies("whsec_other", BODY));
    }

    #[test]
    fn stale_and_future_timestamps_are_refused() {
        let h = SignatureHeader::parse(&sign(SECRET, 1_700_000_000, BODY)).unwrap();
        assert_eq!(
            h.check_timestamp(1_700_000_301, TOL),
            Err(SignatureError::OutsideTolerance(300))
        );
        assert!(h.check_timestamp(1_699_999_699, TOL).is_err());
        assert!(h.check_timestamp(1_700_000_300, TOL).is_ok());
    }

    #[test]
    fn any_of_several_v1_values_is_accepted() {
        let good = sign(SECRET, 1_700_000_000, BODY);
        let good_v1 = good.split("v1=").nth(1).unwrap();
        let other = sign("whsec_old", 1_700_000_000, BODY);
        let other_v1 = other.split("v1=").nth(1).unwrap();
        let header = format!("t=1700000000,v1={other_v1},v0=abcd,v1={good_v1}");
        let h = SignatureHeader::parse(&header).unwrap();
        assert_eq!(h.v1.len(), 2);
        assert!(h.verifies(SECRET, BODY));
        assert!(h.verifies("whsec_old", BODY));
        assert!(!h.verifies("whsec_third", BODY));
    }

    #[test]
    fn malformed_headers_are_refused() {
        for bad in [
            "",
            "garbage",
            "t=abc,v1=00",
            "t=1700000000",
            "v1=0011",
            "t=1700000000,v1=zz",
            "t=1700000000,v1=0011",
            "t=1700000000,v0=00112233",
        ] {
            assert!(
                SignatureHeader::parse(bad).is_err(),
                "{bad:?} should not parse"
            );
        }
    }

    #[test]
    fn extreme_timestamps_are_refused_without_overflow() {
        let at = |t: i64| SignatureHeader::parse(&format!("t={t},v1={}", "ab".repeat(32))).unwrap();
        let refused = Err(SignatureError::OutsideTolerance(300));
        for t in [i64::MIN, i64::MIN + 1, -1, i64::MAX] {
            assert_eq!(at(t).check_timestamp(1_700_000_000, TOL), refused, "t={t}");
        }
        for now in [i64::MIN, i64::MAX] {
            assert_eq!(
                at(1_700_000_000).check_timestamp(now, TOL),
                refused,
                "now={now}"
            );
        }
        assert_eq!(at(i64::MAX).check_timestamp(i64::MIN, TOL), refused);
        assert_eq!(at(i64::MIN).check_timestamp(i64::MAX, TOL), refused);
    }
}
