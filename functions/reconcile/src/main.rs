//! The reconcile Lambda: on a schedule, lists each active app's recent Stripe events and
//! processes those Keyhook never recorded (webhooks that never arrived). Wiring only: see
//! `keyhook_shared::consumers::reconcile`.

use keyhook_shared::lambda_runtime::{self, service_fn, LambdaEvent};
use keyhook_shared::{consumers::reconcile, Services};
use serde_json::Value;

// Lambda sends one invocation at a time: one thread, no worker threads to start (docs/deploy.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    keyhook_shared::logging::init_json();
    let services = Services::from_env()?;
    let services = &services;
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| async move {
        let runs = reconcile::run(services, &reconcile::Options::default()).await?;
        // A failed app fails the invocation (and its alarm); the others were still reconciled.
        if let Some(failed) = runs.iter().find(|r| r.error.is_some()) {
            return Err(format!("reconciliation of app {} failed", failed.app_id).into());
        }
        Ok::<Value, lambda_runtime::Error>(serde_json::to_value(runs)?)
    }))
    .await
}
