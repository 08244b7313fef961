//! Typed errors: what went wrong, so the app can tell "refused" from "offline" from "tampered".

use keyhook_format::{Rollback, VerifyError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Keyhook could not be reached (and no offline proof was usable, when one was tried).
    #[error("Keyhook is unreachable: {0}")]
    Network(String),
    /// Keyhook answered an HTTP error (`{ error: { code, message } }`).
    #[error("Keyhook answered {status} {code}: {message}")]
    Server {
        status: u16,
        code: String,
        message: String,
    },
    /// An answer or file failed verification: never trusted.
    #[error("not trusted: {0}")]
    Verify(#[from] VerifyError),
    /// The clock cannot be trusted offline: it is behind the clock mark (the highest local
    /// time observed) or a signed time, or the mark is missing or altered. Kept proofs are
    /// refused until an online check succeeds (which resets the mark).
    #[error("the system clock was set back: {0}")]
    ClockRollback(#[from] Rollback),
    /// Offline, and the last good answer is older than the grace period.
    #[error("offline since {since}, longer than the grace period")]
    GraceExpired { since: String },
    /// Offline, and nothing cached for this license and device.
    #[error("Keyhook is unreachable and there is no offline proof: {0}")]
    NoOfflineProof(String),
    /// A license file was refused by Keyhook (the license's signed answer says why).
    /// `manage_url`: with `DEVICE_LIMIT_REACHED`, where the buyer frees a device.
    #[error("refused: {code}: {detail}")]
    Refused {
        code: String,
        detail: String,
        manage_url: Option<String>,
    },
    /// Every floating seat of the license is in use (`CONCURRENCY_LIMIT_REACHED`, signed).
    #[error("every seat is in use ({in_use} of {max_concurrent})")]
    ConcurrencyLimit { in_use: u32, max_concurrent: u32 },
    /// The quantity does not fit what remains of the meter this period (`USAGE_LIMIT_REACHED`,
    /// signed); nothing was recorded.
    #[error("the {meter} limit is reached ({used} of {limit} used, {remaining} left)")]
    UsageLimit {
        meter: String,
        used: u64,
        limit: u64,
        remaining: u64,
    },
    #[error("configuration: {0}")]
    Config(String),
    #[error("cache: {0}")]
    Cache(String),
    #[error("device fingerprint: {0}")]
    Fingerprint(String),
}
