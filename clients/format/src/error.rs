//! Why something signed is not trusted.

/// Every reason a signed answer or license file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the answer carries no signature (the product is unknown to Keyhook)")]
    Unsigned,
    #[error("malformed: {0}")]
    Malformed(String),
    #[error("unsupported format {0:?} (this verifier knows keyhook-answer-v2 and keyhook-license-file-v1)")]
    UnsupportedFormat(String),
    #[error("signed by key {0:?}, which is not in the key set")]
    UnknownKey(String),
    #[error("the public key is not a base64 Ed25519 key")]
    BadPublicKey,
    #[error("the signature does not match")]
    BadSignature,
    #[error("it is about product {found:?}, not {expected:?}")]
    WrongProduct { expected: String, found: String },
    #[error("it is about another device")]
    WrongDevice,
    #[error("it answers another request (nonce mismatch)")]
    WrongNonce,
    #[error("it is about another license")]
    WrongLicense,
    #[error("it expired at {0}")]
    Expired(String),
    #[error("it was signed at {0}, too long ago")]
    Stale(String),
    #[error("it is dated in the future ({0}): the clock is wrong or was set back")]
    NotYetValid(String),
    #[error("the file is encrypted: the license key is needed to read it")]
    KeyRequired,
    #[error("the file does not decrypt with this license key")]
    Decrypt,
    /// Signed by a key after it was retired (beyond [`crate::keys::RETIREMENT_TOLERANCE`]):
    /// a retired key's signature is trusted only on what it signed while it was in use.
    #[error("signed by key {kid:?} at {signed_at}, after the key was retired at {retired_at}")]
    RetiredKey {
        kid: String,
        signed_at: String,
        retired_at: String,
    },
    /// A license file that claims to live longer than any file Keyhook issues
    /// ([`crate::file::MAX_FILE_LIFETIME`]).
    #[error("the file claims to live from {issued_at} to {expires_at}, longer than 366 days")]
    LifetimeTooLong {
        issued_at: String,
        expires_at: String,
    },
    /// A test license (issued by a Stripe test-mode payment) granted in a live build.
    #[error("it is about a test license (Stripe test mode), and this is a live build")]
    TestLicense,
}
