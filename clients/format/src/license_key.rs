//! License keys as Keyhook issues them: 25 Crockford base32 symbols, shown in five groups of
//! five. Input is lenient (case, hyphens, spaces, `I/L` → `1`, `O` → `0`). The license id is
//! `lic_` + lowercase Crockford base32 of the first 128 bits of SHA-256 of the canonical key,
//! which lets a client check that an answer is about the key it sent.

use sha2::{Digest, Sha256};

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Number of symbols in a key.
pub const KEY_SYMBOLS: usize = 25;

/// Why text is not a Keyhook key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyParseError {
    #[error("a license key has 25 characters (hyphens and spaces aside), this one has {0}")]
    Length(usize),
    #[error("a license key contains only letters and digits (Crockford base32); found {0:?}")]
    Character(char),
}

/// The canonical form of a Keyhook key (25 uppercase symbols), or why the text is not one.
/// The one canonicalisation of keys: the service's and the clients'.
pub fn parse(input: &str) -> Result<String, KeyParseError> {
    let mut out = String::with_capacity(KEY_SYMBOLS);
    for c in input.chars() {
        if c == '-' || c.is_whitespace() {
            continue;
        }
        let c = match c.to_ascii_uppercase() {
            'I' | 'L' => '1',
            'O' => '0',
            c @ ('0'..='9' | 'A'..='Z') if c != 'U' => c,
            other => return Err(KeyParseError::Character(other)),
        };
        out.push(c);
    }
    if out.len() != KEY_SYMBOLS {
        return Err(KeyParseError::Length(out.len()));
    }
    Ok(out)
}

/// The canonical form of a Keyhook key (25 uppercase symbols), or `None` for text that is not
/// one (keys imported from another system may have any shape).
pub fn canonical(input: &str) -> Option<String> {
    parse(input).ok()
}

/// The license id of a Keyhook key, or `None` when the text is not a Keyhook key.
pub fn license_id(input: &str) -> Option<String> {
    let key = canonical(input)?;
    let hash = Sha256::digest(key.as_bytes());
    Some(format!(
        "lic_{}",
        crockford_encode(&hash[..16]).to_ascii_lowercase()
    ))
}

/// The bytes a license file's encryption key is derived from: the canonical key for Keyhook
/// keys, else the key as stored, trimmed.
pub fn secret_bytes(input: &str) -> Vec<u8> {
    canonical(input)
        .unwrap_or_else(|| input.trim().to_string())
        .into_bytes()
}

/// Crockford base32 of arbitrary bytes (no padding): license ids, and the ids the service
/// derives from hashes.
pub fn crockford_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(CROCKFORD[((buffer >> bits) & 0x1f) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(CROCKFORD[((buffer << (5 - bits)) & 0x1f) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_input_has_one_canonical_form() {
        let k = "abcde-fghjk-mnpqr-stvwx-yz012";
        assert_eq!(canonical(k).unwrap(), "ABCDEFGHJKMNPQRSTVWXYZ012");
        assert_eq!(
            canonical(" ABCDE FGHJK MNPQR STVWX YZ0I2 ").unwrap(),
            "ABCDEFGHJKMNPQRSTVWXYZ012"
        );
        assert_eq!(license_id(k), license_id("ABCDEFGHJKMNPQRSTVWXYZ012"));
        assert!(license_id(k).unwrap().starts_with("lic_"));
        assert_eq!(license_id(k).unwrap().len(), 4 + 26);
        assert_eq!(canonical("short"), None);
        assert_eq!(canonical("ABCDE-FGHJK-MNPQR-STVWX-YZ01U"), None);
        assert_eq!(secret_bytes("  legacy key 7 "), b"legacy key 7".to_vec());
    }

    #[test]
    fn text_that_is_not_a_key_says_why() {
        assert_eq!(parse("ab-c"), Err(KeyParseError::Length(3)));
        assert_eq!(
            parse("ABCDE-FGHJK-MNPQR-STVWX-YZ01U"),
            Err(KeyParseError::Character('U'))
        );
        assert_eq!(
            parse("abcde-fghjk-mnpqr-stvwx-yz0i2").as_deref(),
            Ok("ABCDEFGHJKMNPQRSTVWXYZ012")
        );
    }
}
