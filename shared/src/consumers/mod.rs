//! Queue, stream and schedule consumers: what runs on an event source rather than on an HTTP
//! request. The mailer (the mail queue), the outgoing webhooks (the table's stream, the delivery
//! queue and the sweep) and the reconciliation with Stripe (scheduled, or the CLI).

pub mod deliveries;
pub mod mailer;
pub mod reconcile;
