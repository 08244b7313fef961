//! The delivery queue: a message asks the sender to attempt one delivery. Messages carry ids
//! and the `seq` they were sent for, never payloads (those stay sealed in the table).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::sdk::LazyClient;
use crate::{Error, Result};

/// SQS's longest message delay; a retry further away is reached in hops of at most this.
pub const MAX_DELAY: Duration = Duration::from_secs(900);

/// The body of a delivery-queue message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryJob {
    pub tenant_id: String,
    pub delivery_id: String,
    pub seq: u32,
}

#[derive(Clone)]
pub struct DeliveryQueue {
    sqs: LazyClient<aws_sdk_sqs::Client>,
    queue_url: String,
    max_delay: Duration,
}

impl DeliveryQueue {
    pub fn new(
        sqs: impl Into<LazyClient<aws_sdk_sqs::Client>>,
        queue_url: impl Into<String>,
    ) -> Self {
        DeliveryQueue {
            sqs: sqs.into(),
            queue_url: queue_url.into(),
            max_delay: MAX_DELAY,
        }
    }

    /// The same queue with a shorter longest delay (tests that move the clock use 0, so a
    /// scheduled retry is visible at once and waits on the clock, not on SQS).
    pub fn with_max_delay(mut self, max_delay: Duration) -> Self {
        self.max_delay = max_delay.min(MAX_DELAY);
        self
    }

    pub fn url(&self) -> &str {
        &self.queue_url
    }

    /// Enqueues a job, visible after `delay` (capped at the queue's longest delay).
    pub async fn enqueue(&self, job: &DeliveryJob, delay: Duration) -> Result<()> {
        let body = serde_json::to_string(job).map_err(|e| Error::internal(e.to_string()))?;
        self.sqs
            .get()
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(delay.min(self.max_delay).as_secs() as i32)
            .send()
            .await
            .map_err(|e| Error::aws("sqs", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
        Ok(())
    }
}
