//! Locally, this plays Lambda's SQS event source for the delivery queue (as the mail worker
//! does for the mail queue), and the sweep's schedule: batches go to the same sender the
//! deliveries Lambda runs.

use keyhook_shared::consumers::deliveries::send::{self, Handled};
use keyhook_shared::consumers::deliveries::sweep;
use keyhook_shared::{Result, Services};

use crate::mail_worker::poll_queue_once;

/// One receive-and-handle round: (messages received, attempts made).
pub async fn poll_once(
    services: &Services,
    sqs: &aws_sdk_sqs::Client,
    wait_seconds: i32,
) -> Result<(usize, usize)> {
    let mut attempts = 0;
    let received = poll_queue_once(
        sqs,
        services.deliveries.url(),
        wait_seconds,
        |event| async {
            let (response, handled) = send::handle_batch_counted(services, event).await;
            attempts = handled.iter().filter(|h| **h == Handled::Attempted).count();
            response
        },
    )
    .await?;
    Ok((received, attempts))
}

/// Handles messages until a round makes no attempt (what is left waits for its time); the
/// attempts made.
pub async fn drain(services: &Services, sqs: &aws_sdk_sqs::Client) -> Result<usize> {
    let mut total = 0;
    loop {
        let (received, attempts) = poll_once(services, sqs, 0).await?;
        total += attempts;
        if received == 0 || attempts == 0 {
            return Ok(total);
        }
    }
}

/// Runs forever (the local stack's sender), with the sweep every minute.
pub async fn run(services: Services, sqs: aws_sdk_sqs::Client) {
    let mut last_sweep: Option<std::time::Instant> = None;
    loop {
        if last_sweep.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(60)) {
            if let Err(e) = sweep::run(&services).await {
                tracing::warn!(error = %e, "sweep failed; retrying");
            }
            last_sweep = Some(std::time::Instant::now());
        }
        if let Err(e) = poll_once(&services, &sqs, 5).await {
            tracing::warn!(error = %e, "delivery worker poll failed; retrying");
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    }
}
