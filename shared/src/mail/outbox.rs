//! The outbox: a message on the mail queue ([`MailMessage`]) asks the mailer to send a
//! purchase's email, to resend one license's keys, a notice, or a sign-in link. Messages carry
//! ids only, never keys or addresses; the mailer reads the records (and opens the keys) itself
//! when it sends.

use serde::{Deserialize, Serialize};

use super::MailMessage;
use crate::sdk::LazyClient;
use crate::{Error, Result};

/// A license email: a purchase's, or a resend of one license's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MailJob {
    pub tenant_id: String,
    pub purchase_ref: String,
    /// A resend of this license's keys (to its current customer email) rather than the
    /// purchase's email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_id: Option<String>,
}

impl MailJob {
    /// The email of a purchase, to its buyer.
    pub fn purchase(tenant_id: impl Into<String>, purchase_ref: impl Into<String>) -> Self {
        MailJob {
            tenant_id: tenant_id.into(),
            purchase_ref: purchase_ref.into(),
            license_id: None,
        }
    }
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
    sqs: LazyClient<aws_sdk_sqs::Client>,
    queue_url: String,
}

impl Outbox {
    pub fn new(
        sqs: impl Into<LazyClient<aws_sdk_sqs::Client>>,
        queue_url: impl Into<String>,
    ) -> Self {
        Outbox {
            sqs: sqs.into(),
            queue_url: queue_url.into(),
        }
    }

    pub async fn enqueue(&self, job: &MailJob) -> Result<()> {
        self.enqueue_message(job).await
    }

    pub async fn enqueue_notice(&self, job: &NoticeJob) -> Result<()> {
        self.enqueue_message(job).await
    }

    /// Enqueues any message the mailer knows (license emails, notices, the dashboard's sign-in
    /// links), tagged with its kind.
    pub async fn enqueue_message(&self, message: impl Into<MailMessage>) -> Result<()> {
        let body =
            serde_json::to_string(&message.into()).map_err(|e| Error::internal(e.to_string()))?;
        self.sqs
            .get()
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| Error::aws("sqs", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
        Ok(())
    }
}
