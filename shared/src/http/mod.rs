//! HTTP plumbing shared by the Lambdas and the local server: one request type, one response
//! type, one route table, one dispatcher. A Lambda converts API Gateway's event into
//! [`ApiRequest`] ([`lambda`]); the local server converts its own request the same way, so both
//! run exactly the same handlers.

pub mod auth;
pub mod idempotency;
pub mod input;
pub mod lambda;
pub mod openapi;
pub mod outbound;
pub mod request;
pub mod response;
pub mod routes;
pub mod schema;

pub use request::ApiRequest;
pub use response::ApiResponse;
pub use routes::{dispatch, Function, Route, ROUTES};
