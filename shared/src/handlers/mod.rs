//! Request handlers: one module per route family, each thin over the rules in `domain`,
//! `stripe`, `store`, `crypto` and `mail` and the shared operations in `services`. Queue and
//! stream consumers are in `consumers`.

pub mod admin;
pub mod checkout;
pub mod self_service;
pub mod validate;
pub mod webhook;
