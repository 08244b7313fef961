//! Locally, this plays Lambda's SQS event source mapping: it receives batches from the mail
//! queue, hands them to the same mailer handler the mailer Lambda runs, and deletes the
//! messages the handler did not report as failed (failed ones reappear after the visibility
//! timeout, as on AWS).

use std::collections::HashMap;

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use keyhook_shared::aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use keyhook_shared::consumers::mailer;
use keyhook_shared::{Error, Result, Services};

/// One receive-and-handle round; how many messages it handled.
pub async fn poll_once(
    services: &Services,
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    wait_seconds: i32,
) -> Result<usize> {
    poll_queue_once(sqs, queue_url, wait_seconds, |event| {
        mailer::handle_batch(services, event)
    })
    .await
}

/// One receive-and-handle round on any queue, as Lambda's SQS event source does it: a batch
/// of up to 10 messages to `handle`, then the messages it did not report as failed deleted (in
/// one DeleteMessageBatch).
pub async fn poll_queue_once<F, Fut>(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    wait_seconds: i32,
    handle: F,
) -> Result<usize>
where
    F: FnOnce(SqsEvent) -> Fut,
    Fut: std::future::Future<Output = SqsBatchResponse>,
{
    let out = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait_seconds)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .map_err(|e| Error::aws("sqs", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
    let messages = out.messages.unwrap_or_default();
    if messages.is_empty() {
        return Ok(0);
    }
    let mut receipts = HashMap::new();
    let mut records = Vec::with_capacity(messages.len());
    for m in messages {
        let mut record = SqsMessage::default();
        record.message_id = m.message_id.clone();
        record.receipt_handle = m.receipt_handle.clone();
        record.body = m.body.clone();
        record.attributes = m
            .attributes
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.as_str().to_string(), v))
            .collect();
        record.event_source = Some("aws:sqs".into());
        if let (Some(id), Some(handle)) = (m.message_id, m.receipt_handle) {
            receipts.insert(id, handle);
        }
        records.push(record);
    }
    let count = records.len();
    let mut event = SqsEvent::default();
    event.records = records;
    let response = handle(event).await;
    for failure in &response.batch_item_failures {
        receipts.remove(&failure.item_identifier);
    }
    // One DeleteMessageBatch for the batch's handled messages, as Lambda's event source does.
    let entries = receipts
        .into_values()
        .enumerate()
        .map(|(i, handle)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(handle)
                .build()
                .map_err(|e| Error::internal(format!("delete entry: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    if entries.is_empty() {
        return Ok(count);
    }
    let out = sqs
        .delete_message_batch()
        .queue_url(queue_url)
        .set_entries(Some(entries))
        .send()
        .await
        .map_err(|e| Error::aws("sqs", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
    if let Some(failed) = out.failed.first() {
        // Not deleted: handled again when it reappears (every handler is idempotent).
        return Err(Error::aws(
            "sqs",
            format!(
                "{} of the batch's messages not deleted: {} {}",
                out.failed.len(),
                failed.code,
                failed.message.as_deref().unwrap_or_default()
            ),
        ));
    }
    Ok(count)
}

/// Handles messages until the queue has none visible.
pub async fn drain(
    services: &Services,
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
) -> Result<usize> {
    let mut total = 0;
    loop {
        let n = poll_once(services, sqs, queue_url, 0).await?;
        if n == 0 {
            return Ok(total);
        }
        total += n;
    }
}

/// Runs forever (the local stack's mailer).
pub async fn run(services: Services, sqs: aws_sdk_sqs::Client, queue_url: String) {
    loop {
        if let Err(e) = poll_once(&services, &sqs, &queue_url, 5).await {
            tracing::warn!(error = %e, "mail worker poll failed; retrying");
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    }
}
