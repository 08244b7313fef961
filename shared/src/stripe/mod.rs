//! Stripe: webhook signatures, version-tolerant reading of events, and the metadata rules that
//! say what a purchase issues.

pub mod account;
pub mod catalog;
pub mod checkout;
pub mod client;
pub mod event;
pub mod metadata;
pub mod objects;
pub mod signature;
pub mod source_ips;
pub mod test_events;
pub mod webhook_endpoints;

pub use client::{RetryPolicy, StripeClient};
pub use event::{Event, EventObject};
