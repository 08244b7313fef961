//! Checkout sessions: `POST /api/stripe/checkout/session` creates a Stripe Checkout session
//! with the tenant app's secret key, so a merchant's site needs one call and a redirect;
//! `GET /api/stripe/checkout/sessions/{sessionId}` shows what Keyhook recorded of it and the
//! purchase it led to. The rules live in `domain::checkout`, the wire format in
//! `stripe::checkout`.

pub mod create;
pub mod prices;
pub mod request;
pub mod view;

pub use create::create;
pub use request::CheckoutInput;
pub use view::{get, CheckoutSessionDetail, CheckoutSessionView};
