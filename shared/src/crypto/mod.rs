//! Cryptography: tenant secrets sealed with AES-256-GCM under per-tenant data keys, which are
//! themselves wrapped by KMS (envelope encryption); Ed25519 signatures on validation answers.

pub mod envelope;
pub mod seal;
pub mod secret;
pub mod signed_answer;
pub mod signing;
pub mod signing_keys;
pub mod standard_webhooks;

pub use envelope::Keyring;
pub use seal::{DataKey, SealContext};
pub use secret::Secret;
pub use signing_keys::SigningKeys;
