//! The top of the application: what turns the handlers into one HTTP service. Every operation
//! declared once ([`operations`]: method, path, function, handler, OpenAPI description), the
//! route matching and the dispatcher ([`routes`]), the OpenAPI document generated from them
//! ([`openapi`], checked in by [`published`]'s test) and its browsable reference ([`docs`]),
//! `Idempotency-Key` on creates ([`idempotency`]) and the Lambda adapter ([`lambda`]). A Lambda converts API Gateway's
//! event into an [`ApiRequest`](crate::http::ApiRequest) ([`lambda`]); the local server
//! converts its own request the same way, so both run exactly the same handlers.
//!
//! This layer sits above [`handlers`](crate::handlers) and [`dashboard`](crate::dashboard)
//! and imports them; [`http`](crate::http) below is plumbing only and imports none of them.

pub mod docs;
pub mod idempotency;
pub mod lambda;
pub mod openapi;
pub mod operations;
#[cfg(test)]
mod published;
pub mod routes;

pub use routes::{dispatch, Function, Route, ROUTES};
