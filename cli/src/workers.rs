//! The local stack's background workers, as `keyhook dev` and `keyhook serve` run them beside
//! the server in one process: the mailer (mail queue), the stream consumer (the table's stream)
//! and the sender (delivery queue, with the sweep). The local-stack benchmark starts them
//! through here too, so it measures the same process layout.

use std::sync::Arc;

use keyhook_shared::Services;

use crate::stream_worker::{StreamReader, StreamStats};
use crate::{delivery_worker, mail_worker};

/// Starts the mailer on the mail queue.
pub fn spawn_mail_worker(services: &Services, sqs: aws_sdk_sqs::Client) {
    tokio::spawn(mail_worker::run(
        services.clone(),
        sqs,
        services.config.mail_queue_url.clone(),
    ));
}

/// Starts the outgoing-webhook workers: the stream consumer on `stream_arn` (given-up records
/// to the delivery queue's dead-letter queue, `<name>-dlq` as provision.rs names it) and the
/// sender. Returns the stream consumer's counters.
pub fn spawn_webhook_workers(
    services: &Services,
    streams: aws_sdk_dynamodbstreams::Client,
    sqs: aws_sdk_sqs::Client,
    stream_arn: String,
) -> Arc<StreamStats> {
    let reader = StreamReader::new(streams, stream_arn).with_dead_letter_queue(
        sqs.clone(),
        format!("{}-dlq", services.config.delivery_queue_url),
    );
    let stats = reader.stats();
    tokio::spawn(reader.run(services.clone()));
    tokio::spawn(delivery_worker::run(services.clone(), sqs));
    stats
}
