//! Keyhook's signed formats, shared by the server (which signs) and the clients (which verify
//! offline): no AWS, no HTTP, no async.
//!
//! - [`answer`]: validation answers (`keyhook-answer-v2`): the canonical signed form and the
//!   checks a client makes before trusting one (key, signature, format, product, device, nonce);
//! - [`file`]: license files (`keyhook-license-file-v1`): an armoured, signed (optionally
//!   encrypted) payload verified offline against the tenant's key set;
//! - [`keys`]: public key sets (`kid` → Ed25519 key, and when a retired key stopped signing) and
//!   key ids;
//! - [`clock_mark`]: the MAC'd high-water mark of the local clock an app keeps, so a clock set
//!   back cannot stretch an offline proof;
//! - [`device`]: the device hash answers and files carry instead of the raw device id;
//! - [`license_key`]: canonical license keys and the license id derived from them.

pub mod answer;
pub mod clock_mark;
pub mod device;
pub mod error;
pub mod file;
pub mod keys;
pub mod license_key;
pub mod time_fmt;

pub use answer::{Answer, Expected};
pub use clock_mark::{MarkSlot, Rollback};
pub use device::device_hash;
pub use error::VerifyError;
pub use file::{FilePayload, LicenseFile};
pub use keys::{key_id, PublicKeySet};
