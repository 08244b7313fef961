//! The `keyhook` command's library: provisioning of the AWS resources (idempotent), the local
//! server that serves every route through the same dispatcher as the Lambdas, the local mail
//! worker that feeds the mail queue to the same mailer handler, the stream and delivery workers
//! that do the same for outgoing webhooks, `trigger`, which builds and signs Stripe events
//! exactly as Stripe does, and `import`, which reads other licensing services' exports. The
//! integration tests use it too.

pub mod delivery_worker;
pub mod import;
pub mod mail_worker;
pub mod provision;
pub mod server;
pub mod stream_worker;
pub mod trigger;
pub mod workers;
