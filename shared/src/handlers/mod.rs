//! Request handlers: one module per route family, each thin over the rules in `domain`,
//! `stripe`, `store`, `crypto` and `mail`.

pub mod admin;
pub mod app_secrets;
pub mod checkout;
pub mod deliveries;
pub mod issuance;
pub mod mailer;
pub mod reconcile;
pub mod validate;
pub mod webhook;
