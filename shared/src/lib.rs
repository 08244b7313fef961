//! Keyhook's core crate. Every Lambda in `functions/` and the local server in `cli/` link it and
//! call the same handlers, so behaviour lives here exactly once.
//!
//! A newcomer finds any behaviour in two hops: from the route's row ([`app::operations`]) to its
//! handler ([`handlers`]; what runs on a queue, a stream or a schedule is in [`consumers`]),
//! and from there to the one module that owns the rule ([`domain`], [`services`], [`stripe`],
//! [`store`], [`crypto`], [`mail`]). Imports only point down the layers `tests/layers.rs`
//! lists.

pub mod app;
pub mod backoff;
pub mod cache;
pub mod clock;
pub mod config;
pub mod consumers;
pub mod crypto;
pub mod dashboard;
pub mod domain;
pub mod error;
pub mod handlers;
pub mod http;
pub mod ids;
pub mod logging;
pub mod mail;
pub mod portal;
pub mod sdk;
pub mod services;
pub mod store;
pub mod stripe;
pub mod time;

pub use config::Config;
pub use error::{Error, Result};
pub use services::Services;

// Re-exported so the thin Lambda crates need no runtime dependencies of their own.
pub use aws_lambda_events;
pub use lambda_http;
pub use lambda_runtime;
