//! The mailer: consumes mail jobs from SQS, renders the license email and sends it with SES.
//!
//! At most one email per purchase: the mailer claims the send on the purchase record (a
//! conditional write with an expiry), so redelivered or duplicated messages for a purchase
//! already sent, or being sent, do nothing. Failures are reported per message (partial batch
//! response) so only the failed ones are retried; after `mail_max_receives` attempts the email
//! is marked `failed` and the message dropped (the merchant can resend it).

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use time::Duration;
use tracing::Instrument;

use crate::crypto::SealContext;
use crate::domain::license::KEY_SEAL_FIELD;
use crate::domain::{EmailStatus, LicenseKey, Purchase};
use crate::mail::{render, MailJob, TemplateValues};
use crate::{Error, Result, Services};

/// How long a claim on a send lasts; well under the queue's visibility timeout.
const CLAIM: Duration = Duration::seconds(120);

/// Handles one SQS batch; the response lists the messages to retry.
pub async fn handle_batch(s: &Services, event: SqsEvent) -> SqsBatchResponse {
    let mut failures = Vec::new();
    for message in event.records {
        let id = message.message_id.clone().unwrap_or_default();
        let span = tracing::info_span!("mail_job", message_id = %id);
        if let Err(e) = handle_message(s, &message).instrument(span).await {
            tracing::error!(message_id = %id, error = %e, "mail job failed; will retry");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failures.push(failure);
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    response
}

async fn handle_message(s: &Services, message: &SqsMessage) -> Result<()> {
    if let Some(notice) = message
        .body
        .as_deref()
        .and_then(|b| serde_json::from_str::<crate::mail::NoticeJob>(b).ok())
    {
        // Boxed: keeps the mailer's future small (and within the compiler's layout depth).
        return Box::pin(crate::handlers::deliveries::notice::send(s, &notice)).await;
    }
    let Some(job) = message
        .body
        .as_deref()
        .and_then(|b| serde_json::from_str::<MailJob>(b).ok())
    else {
        tracing::error!("mail job is not a MailJob; dropped");
        return Ok(());
    };
    let receives: u32 = message
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let Some(purchase) = s
        .store
        .get_purchase(&job.tenant_id, &job.purchase_ref)
        .await?
    else {
        tracing::error!(purchase_ref = %job.purchase_ref, "mail job for an unknown purchase; dropped");
        return Ok(());
    };
    if purchase.email_status != EmailStatus::Pending {
        tracing::info!(
            status = purchase.email_status.as_str(),
            "email not pending; nothing to do"
        );
        return Ok(());
    }
    let now = crate::time::now();
    if !s
        .store
        .claim_email(&job.tenant_id, &job.purchase_ref, now, now + CLAIM)
        .await?
    {
        tracing::info!("email already sent or being sent by another delivery");
        return Ok(());
    }
    match send(s, &purchase).await {
        Ok(message_id) => {
            tracing::info!(ses_message_id = %message_id, "license email sent");
            s.store.set_email_status(&purchase, EmailStatus::Sent).await
        }
        Err(e) if receives >= s.config.mail_max_receives => {
            tracing::error!(error = %e, receives, "license email failed for good");
            s.store
                .set_email_status(&purchase, EmailStatus::Failed)
                .await
        }
        Err(e) => {
            s.store
                .release_email_claim(&job.tenant_id, &job.purchase_ref)
                .await?;
            Err(e)
        }
    }
}

/// Renders and sends a purchase's email; SES's message id.
async fn send(s: &Services, purchase: &Purchase) -> Result<String> {
    let to = purchase
        .customer_email
        .as_deref()
        .ok_or_else(|| Error::internal("pending email without an address"))?;
    let licenses = s
        .store
        .get_tenant_licenses(&purchase.tenant_id, &purchase.license_ids)
        .await?;
    let mut keys = Vec::with_capacity(licenses.len());
    for l in &licenses {
        let ctx = SealContext {
            tenant_id: &purchase.tenant_id,
            owner: &l.id,
            field: KEY_SEAL_FIELD,
        };
        let key = s
            .keyring
            .open_secret(ctx, &l.key_sealed)
            .await?
            .ok_or_else(|| Error::internal(format!("license {} key does not open", l.id)))?;
        // Re-parse to show every key in one canonical format.
        let key = LicenseKey::parse(key.expose())
            .map_err(|_| Error::internal("stored key is malformed"))?;
        keys.push(key.formatted());
    }
    let mut products = Vec::new();
    for id in &purchase.product_ids {
        let p = s
            .store
            .get_tenant_product(&purchase.tenant_id, id)
            .await?
            .ok_or_else(|| Error::internal(format!("product {id} of a purchase is missing")))?;
        products.push(p);
    }
    let first = products
        .first()
        .ok_or_else(|| Error::internal("purchase without products"))?;
    let product_name = products
        .iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let email = render(
        first.email_template.as_ref(),
        &TemplateValues {
            keys: &keys,
            product_name: &product_name,
            customer_email: to,
            customer_name: purchase.customer_name.as_deref(),
        },
    );
    s.sender.send(to, &email).await
}
