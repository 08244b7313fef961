//! Sends rendered emails with SES (v2 API, simple content: subject, HTML and text bodies).

use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use crate::mail::Rendered;
use crate::sdk::LazyClient;
use crate::{Error, Result};

#[derive(Clone)]
pub struct Sender {
    ses: LazyClient<aws_sdk_sesv2::Client>,
    from: String,
}

impl Sender {
    pub fn new(ses: impl Into<LazyClient<aws_sdk_sesv2::Client>>, from: impl Into<String>) -> Self {
        Sender {
            ses: ses.into(),
            from: from.into(),
        }
    }

    /// Sends one email; returns SES's message id.
    pub async fn send(&self, to: &str, email: &Rendered) -> Result<String> {
        let content = |s: &str| {
            Content::builder()
                .data(s)
                .charset("UTF-8")
                .build()
                .map_err(|e| Error::internal(e.to_string()))
        };
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(
                Body::builder()
                    .html(content(&email.html)?)
                    .text(content(&email.text)?)
                    .build(),
            )
            .build();
        let out = self
            .ses
            .get()
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| Error::aws("ses", aws_sdk_sesv2::error::DisplayErrorContext(e)))?;
        Ok(out.message_id.unwrap_or_default())
    }
}
