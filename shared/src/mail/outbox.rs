//! The outbox: a message on the mail queue asks the mailer to send a purchase's email.
//! Messages carry ids only, never keys; the mailer reads and opens the keys itself.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The body of a mail-queue message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MailJob {
    pub tenant_id: String,
    pub purchase_ref: String,
}

/// A notice to a merchant about their account (not a license email), on the same queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NoticeJob {
    pub notice: Notice,
    pub tenant_id: String,
    /// The webhook endpoint the notice is about.
    pub endpoint_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    /// An outgoing webhook endpoint was disabled after failing for five days.
    WebhookEndpointDisabled,
}

impl NoticeJob {
    pub fn endpoint_disabled(tenant_id: &str, endpoint_id: &str) -> Self {
        NoticeJob {
            notice: Notice::WebhookEndpointDisabled,
            tenant_id: tenant_id.to_string(),
            endpoint_id: endpoint_id.to_string(),
        }
    }
}

/// Enqueues mail jobs on SQS.
#[derive(Clone)]
pub struct Outbox {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl Outbox {
    pub fn new(sqs: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Outbox {
            sqs,
            queue_url: queue_url.into(),
        }
    }

    pub async fn enqueue(&self, job: &MailJob) -> Result<()> {
        self.send(job).await
    }

    pub async fn enqueue_notice(&self, job: &NoticeJob) -> Result<()> {
        self.send(job).await
    }

    async fn send(&self, job: &impl Serialize) -> Result<()> {
        let body = serde_json::to_string(job).map_err(|e| Error::internal(e.to_string()))?;
        self.sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| Error::aws("sqs", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
        Ok(())
    }
}
