//! The mailer Lambda: consumes the mail queue (SQS) and sends license emails with SES,
//! reporting partial batch failures. Wiring only: see `keyhook_shared::consumers::mailer`.

use keyhook_shared::aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use keyhook_shared::lambda_runtime::{self, service_fn, LambdaEvent};
use keyhook_shared::{consumers::mailer, Services};

// Lambda sends one invocation at a time: one thread, no worker threads to start (docs/deploy.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    keyhook_shared::logging::init_json();
    let services = Services::from_env()?;
    let services = &services;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<SqsBatchResponse, lambda_runtime::Error>(
            mailer::handle_batch(services, event.payload).await,
        )
    }))
    .await
}
