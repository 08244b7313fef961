//! # keyhook-client
//!
//! Licensing for apps sold through [Keyhook](https://github.com/keyhook/keyhook): validate a
//! license key, activate and deactivate devices, start trials, and check out **license files**
//! that keep the app working offline. Every answer is verified before you see it: its Ed25519
//! signature against the tenant's published keys (embedded in your app), and that it is an
//! answer to *this* request — the product, the device (by hash), the license, the fresh random
//! nonce sent with it — and recent; and that its signing key was not retired before it says it
//! was signed, and that a live build is not handed a test license. A cached answer or license
//! file carries the app through a grace period you choose when Keyhook cannot be reached; a
//! clock set back is refused offline, even to a day inside a file's life: the client keeps a
//! MAC'd clock mark (the highest local time observed, see `keyhook_format::clock_mark`), and a
//! missing or altered mark counts as a clock set back until an online check succeeds.
//!
//! ```no_run
//! # async fn run() -> Result<(), keyhook_client::Error> {
//! use keyhook_client::{Client, Config};
//! let keys = include_str!("../../test-vectors/keys.json"); // GET /api/tenants/{id}/signing-keys
//! let client = Client::new(Config::new("https://keyhook.example.com", "42", keys)?)?;
//! let device = keyhook_client::fingerprint::device_id("42")?;
//! let status = client.validate(Some("ABCDE-FGHJK-MNPQR-STVWX-YZ012"), &device).await?;
//! if status.valid { /* unlock */ }
//! # Ok(()) }
//! ```
//!
//! Nothing here depends on AWS: the signed formats live in the small `keyhook-format` crate,
//! shared with the server.

pub mod cache;
pub mod client;
pub mod config;
pub mod error;
pub mod fingerprint;
pub mod lease;

pub use client::{Client, Source, Status};
pub use config::{Config, Environment};
pub use error::Error;
pub use keyhook_format::{Answer, FilePayload, PublicKeySet};
pub use lease::{LeaseGuard, SeatState};
