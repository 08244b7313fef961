//! The device hash: what answers and license files say about the device instead of its id.
//!
//! `deviceHash = hex(SHA-256("keyhook-device-v1" || 0x00 || productId || 0x00 || deviceId))`,
//! lowercase, 64 characters. Neither id may contain a NUL (the API refuses control
//! characters), so the input is unambiguous; the product is part of it, so one machine's hashes
//! for two products cannot be linked, and the raw id (often a hardware serial) never appears
//! in a signed document.

use sha2::{Digest, Sha256};

/// Domain separation of the device hash.
pub const DEVICE_HASH_DOMAIN: &[u8] = b"keyhook-device-v1";

/// The device hash of `device_id` for `product_id`.
pub fn device_hash(product_id: &str, device_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(DEVICE_HASH_DOMAIN);
    h.update([0u8]);
    h.update(product_id.as_bytes());
    h.update([0u8]);
    h.update(device_id.as_bytes());
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_bound_to_the_product_and_the_exact_id() {
        let a = device_hash("42", "machine-1");
        assert_eq!(a.len(), 64);
        assert_eq!(a, device_hash("42", "machine-1"));
        assert_ne!(a, device_hash("43", "machine-1"));
        assert_ne!(a, device_hash("42", "Machine-1"));
        // No ambiguity between the two parts.
        assert_ne!(device_hash("4", "2machine"), device_hash("42", "machine"));
    }
}
