//! Identifiers: random, prefixed ids for our own resources (`app_…`, `tok_…`), drawn from the
//! OS CSPRNG and written in lowercase Crockford base32 so they are URL- and log-safe.

use rand::{rngs::OsRng, RngCore};

/// Crockford's base32 alphabet (no I, L, O, U).
pub const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// `n` random Crockford symbols (5 bits each) from the OS CSPRNG.
pub fn random_symbols(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    OsRng.fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| CROCKFORD[(b & 0x1f) as usize] as char)
        .collect()
}

/// A new id such as `app_7k2m9q4x1c8v3b6n0d5f` (100 random bits).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_symbols(20).to_ascii_lowercase())
}

/// Crockford base32 of arbitrary bytes (no padding), used for ids derived from hashes: the
/// encoding of the client crate (`keyhook-format`), which derives license ids the same way.
pub use keyhook_format::license_key::crockford_encode;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_and_unique() {
        let a = new_id("app");
        let b = new_id("app");
        assert!(a.starts_with("app_"));
        assert_eq!(a.len(), 24);
        assert_ne!(a, b);
    }

    #[test]
    fn crockford_encodes_known_vector() {
        // 0xFF 0x00 = 11111111 00000000 -> 11111 11100 00000 0(pad 0000)
        assert_eq!(crockford_encode(&[0xff, 0x00]), "ZW00");
    }
}
