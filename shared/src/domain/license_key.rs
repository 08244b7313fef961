//! License keys: 25 Crockford base32 symbols (125 bits from the OS CSPRNG), shown as
//! `XXXXX-XXXXX-XXXXX-XXXXX-XXXXX`. Input is case-insensitive; hyphens and spaces are optional;
//! Crockford's look-alikes (`I`/`L` → `1`, `O` → `0`) are accepted.
//!
//! A key is stored only as its SHA-256 lookup hash plus a ciphertext; the license id is derived
//! from the hash so that one read by id serves validation.
//!
//! Keys imported from another licensing service keep their own text ([`AnyKey`]). The lookup
//! normalisation, for every key presented (validation, import):
//! 1. Text that reads as a Keyhook key (25 Crockford symbols once hyphens and spaces are
//!    removed, case and look-alikes forgiven) is that key: its hash is SHA-256 of the canonical
//!    25 symbols, exactly as for every key Keyhook ever issued.
//! 2. Any other text is an imported key: surrounding whitespace is trimmed and the rest is
//!    matched exactly (case-sensitive, as the services it came from match it). At most 128
//!    printable characters. An imported key belongs to the product it was imported for, and so
//!    to that product's tenant: its hash is SHA-256 of `"keyhook-imported-key/v2:"`, the
//!    product id's length and the product id (`<len>:<productId>:`), then the key's text. The
//!    same legacy key imported by two tenants is two licenses, and a request that names a
//!    product (every validation does) derives the license id without reading anything else.
//!    The prefix keeps it apart from native keys' hashes.
//!
//! Licenses imported before keys were scoped to their product stay where they were: their
//! hash is SHA-256 of `"keyhook-imported-key/v1:"` followed by the text
//! ([`AnyKey::unscoped_hash`]), one namespace for the deployment. Validation reads there only
//! when the product's own id finds nothing, and only accepts a license that covers the
//! product asked about (`handlers::validate::license`); see `docs/data-model.md`.

use sha2::{Digest, Sha256};
use std::fmt;

use crate::ids::{crockford_encode, random_symbols};

/// The canonicalisation of keys is `keyhook-format`'s, the clients' own.
pub use keyhook_format::license_key::{KeyParseError, KEY_SYMBOLS};

/// A license key in canonical form (25 uppercase symbols, no separators).
/// `Debug` redacts it, so a key cannot slip into a log through `{:?}`.
#[derive(Clone, PartialEq, Eq)]
pub struct LicenseKey(String);

impl LicenseKey {
    /// A new random key.
    pub fn generate() -> Self {
        LicenseKey(random_symbols(KEY_SYMBOLS))
    }

    /// Parses user input leniently (case, hyphens, spaces, look-alike letters).
    pub fn parse(input: &str) -> Result<Self, KeyParseError> {
        keyhook_format::license_key::parse(input).map(LicenseKey)
    }

    /// The key as shown to people: five groups of five.
    pub fn formatted(&self) -> String {
        let b = self.0.as_bytes();
        b.chunks(5)
            .map(|c| std::str::from_utf8(c).expect("ascii"))
            .collect::<Vec<_>>()
            .join("-")
    }

    /// SHA-256 of the canonical form: what we store and look keys up by.
    pub fn lookup_hash(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }

    /// The license id this key belongs to: `lic_` + 128 bits of the lookup hash.
    pub fn license_id(&self) -> String {
        license_id_from_hash(&self.lookup_hash())
    }
}

/// The license id for a lookup hash.
pub fn license_id_from_hash(hash: &[u8; 32]) -> String {
    format!("lic_{}", crockford_encode(&hash[..16]).to_ascii_lowercase())
}

/// Longest imported key, in characters.
pub const MAX_IMPORTED_KEY_CHARS: usize = 128;

/// Domain separation of imported keys' hashes from native ones (scoped to a product).
const IMPORTED_HASH_PREFIX: &str = "keyhook-imported-key/v2:";
/// The same, before imported keys were scoped: licenses imported then keep this hash.
const UNSCOPED_IMPORTED_HASH_PREFIX: &str = "keyhook-imported-key/v1:";

/// A key as presented: a native Keyhook key, or a key imported from another service.
/// `Debug` redacts it.
#[derive(Clone, PartialEq, Eq)]
pub enum AnyKey {
    Native(LicenseKey),
    Imported(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnyKeyError {
    #[error("a license key must not be empty")]
    Empty,
    #[error("a license key has at most {MAX_IMPORTED_KEY_CHARS} characters, this one has {0}")]
    TooLong(usize),
    #[error("a license key contains only printable characters")]
    NotPrintable,
}

impl AnyKey {
    /// Reads presented text by the normalisation in the module documentation.
    pub fn parse(input: &str) -> Result<Self, AnyKeyError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(AnyKeyError::Empty);
        }
        if let Ok(native) = LicenseKey::parse(text) {
            return Ok(AnyKey::Native(native));
        }
        let chars = text.chars().count();
        if chars > MAX_IMPORTED_KEY_CHARS {
            return Err(AnyKeyError::TooLong(chars));
        }
        if text.chars().any(char::is_control) {
            return Err(AnyKeyError::NotPrintable);
        }
        Ok(AnyKey::Imported(text.to_string()))
    }

    /// Whether the key's license is found through the product it is presented for (an
    /// imported key) rather than by the key alone (a Keyhook key).
    pub fn is_imported(&self) -> bool {
        matches!(self, AnyKey::Imported(_))
    }

    /// The lookup hash of the key presented for `product_id`: a native key's own hash (the
    /// product does not matter); an imported key's within that product.
    pub fn lookup_hash(&self, product_id: &str) -> [u8; 32] {
        match self {
            AnyKey::Native(k) => k.lookup_hash(),
            AnyKey::Imported(text) => {
                let mut h = Sha256::new();
                h.update(IMPORTED_HASH_PREFIX.as_bytes());
                h.update(format!("{}:{product_id}:", product_id.len()).as_bytes());
                h.update(text.as_bytes());
                h.finalize().into()
            }
        }
    }

    /// The license id of the key presented for `product_id` (see [`AnyKey::lookup_hash`]).
    pub fn license_id(&self, product_id: &str) -> String {
        license_id_from_hash(&self.lookup_hash(product_id))
    }

    /// The hash of the key alone, whatever the product: a native key's lookup hash; for an
    /// imported key, the hash licenses imported before keys were scoped are stored under.
    pub fn unscoped_hash(&self) -> [u8; 32] {
        match self {
            AnyKey::Native(k) => k.lookup_hash(),
            AnyKey::Imported(text) => {
                let mut h = Sha256::new();
                h.update(UNSCOPED_IMPORTED_HASH_PREFIX.as_bytes());
                h.update(text.as_bytes());
                h.finalize().into()
            }
        }
    }

    /// The license id of [`AnyKey::unscoped_hash`].
    pub fn unscoped_license_id(&self) -> String {
        license_id_from_hash(&self.unscoped_hash())
    }

    /// The key as the buyer knows it (native keys in five groups of five).
    pub fn display(&self) -> String {
        match self {
            AnyKey::Native(k) => k.formatted(),
            AnyKey::Imported(text) => text.clone(),
        }
    }
}

impl fmt::Debug for AnyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnyKey::Native(k) => write!(f, "AnyKey::Native({k:?})"),
            AnyKey::Imported(_) => write!(f, "AnyKey::Imported(…)"),
        }
    }
}

impl fmt::Debug for LicenseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LicenseKey({}-…)", &self.0[..5])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_documented_shape() {
        let k = LicenseKey::generate();
        let f = k.formatted();
        assert_eq!(f.len(), 29);
        assert_eq!(f.matches('-').count(), 4);
        assert!(f
            .chars()
            .all(|c| c == '-' || crate::ids::CROCKFORD.contains(&(c as u8))));
        assert_eq!(LicenseKey::parse(&f).unwrap(), k);
    }

    #[test]
    fn parsing_is_lenient_about_case_separators_and_lookalikes() {
        let k = LicenseKey::parse("ABCDE-FGH1K-MN0PQ-RSTVW-XYZ01").unwrap();
        assert_eq!(
            LicenseKey::parse("abcde fgh1k mn0pq rstvw xyz01").unwrap(),
            k
        );
        assert_eq!(LicenseKey::parse("ABCDEFGHIKMNOPQRSTVWXYZOL").unwrap(), k);
    }

    #[test]
    fn parsing_rejects_bad_input() {
        assert_eq!(LicenseKey::parse("ABC"), Err(KeyParseError::Length(3)));
        assert_eq!(
            LicenseKey::parse("UBCDE-FGH1K-MN0PQ-RSTVW-XYZ01"),
            Err(KeyParseError::Character('U'))
        );
        assert!(LicenseKey::parse("ABCDE-FGH1K-MN0PQ-RSTVW-XYZ0!").is_err());
    }

    #[test]
    fn license_id_is_stable_and_debug_redacts() {
        let k = LicenseKey::parse("ABCDE-FGH1K-MN0PQ-RSTVW-XYZ01").unwrap();
        assert_eq!(k.license_id(), k.license_id());
        assert!(k.license_id().starts_with("lic_"));
        assert_eq!(k.license_id().len(), 4 + 26);
        assert!(!format!("{k:?}").contains("FGH1K"));
    }

    #[test]
    fn native_keys_keep_their_hash_and_other_keys_are_exact() {
        let native = LicenseKey::parse("ABCDE-FGH1K-MN0PQ-RSTVW-XYZ01").unwrap();
        let any = AnyKey::parse(" abcde-fgh1k-mn0pq-rstvw-xyz01 ").unwrap();
        assert_eq!(any, AnyKey::Native(native.clone()));
        // A native key is one license whatever product it is presented for.
        for product in ["7", "42"] {
            assert_eq!(any.lookup_hash(product), native.lookup_hash());
            assert_eq!(any.license_id(product), native.license_id());
        }
        assert_eq!(any.unscoped_license_id(), native.license_id());
        assert!(!any.is_imported());

        // A Keygen-style key: exact, case-sensitive, trimmed.
        let keygen = AnyKey::parse(" key/eyJhIjoxfQ==.sig ").unwrap();
        assert_eq!(keygen, AnyKey::Imported("key/eyJhIjoxfQ==.sig".into()));
        assert_ne!(
            keygen.lookup_hash("7"),
            AnyKey::parse("KEY/EYJHIJOXFQ==.SIG")
                .unwrap()
                .lookup_hash("7")
        );
        // A Lukittu key with a U is not a Crockford key: imported as is.
        let lukittu = AnyKey::parse("UUUUU-AAAAA-BBBBB-CCCCC-DDDDD").unwrap();
        assert!(matches!(lukittu, AnyKey::Imported(_)));
        assert_eq!(lukittu.display(), "UUUUU-AAAAA-BBBBB-CCCCC-DDDDD");
        assert!(!format!("{lukittu:?}").contains("AAAAA"));

        assert_eq!(AnyKey::parse("  "), Err(AnyKeyError::Empty));
        assert_eq!(
            AnyKey::parse(&"x".repeat(129)),
            Err(AnyKeyError::TooLong(129))
        );
        assert!(AnyKey::parse(&"x".repeat(128)).is_ok());
        assert_eq!(AnyKey::parse("ab\u{7}c"), Err(AnyKeyError::NotPrintable));
    }

    #[test]
    fn an_imported_key_is_a_license_per_product() {
        let key = AnyKey::parse("EX7Q-4MZP-9KDL-2WTR").unwrap();
        assert!(key.is_imported());
        assert_eq!(key.license_id("7"), key.license_id("7"));
        assert_ne!(key.license_id("7"), key.license_id("8"));
        // Neither is where licenses imported before scoping are, nor a native key's.
        assert_ne!(key.license_id("7"), key.unscoped_license_id());
        assert!(key.license_id("7").starts_with("lic_"));
        // The product id is length-prefixed: no product and key pair reads as another.
        let a = AnyKey::Imported("2:x".into()).lookup_hash("1");
        let b = AnyKey::Imported("x".into()).lookup_hash("1:2");
        assert_ne!(a, b);
        // The unscoped hash is the one imports used before (v1), so those licenses are found.
        let mut h = Sha256::new();
        h.update(b"keyhook-imported-key/v1:EX7Q-4MZP-9KDL-2WTR");
        let v1: [u8; 32] = h.finalize().into();
        assert_eq!(key.unscoped_hash(), v1);
    }

    #[test]
    fn keys_are_distinct() {
        let keys: std::collections::HashSet<_> = (0..1000)
            .map(|_| LicenseKey::generate().formatted())
            .collect();
        assert_eq!(keys.len(), 1000);
    }
}
