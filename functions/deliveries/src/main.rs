//! The deliveries Lambda: outgoing webhooks. Triggered by the table's DynamoDB stream (derive
//! events, write deliveries), the delivery queue (signed attempts, partial batch failures) and
//! a schedule (`{"task": "sweep"}`: licenses that expired by themselves). Wiring only: see
//! `keyhook_shared::consumers::deliveries`.

use keyhook_shared::lambda_runtime::{self, service_fn, LambdaEvent};
use keyhook_shared::{consumers::deliveries, Services};
use serde_json::Value;

// Lambda sends one invocation at a time: one thread, no worker threads to start (docs/deploy.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    keyhook_shared::logging::init_json();
    let services = Services::from_env()?;
    let services = &services;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        deliveries::handle_lambda_event(services, event.payload)
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .await
}
