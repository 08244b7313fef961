//! The email telling a merchant that one of their webhook endpoints was disabled, sent by the
//! mailer (outbox -> mail queue -> mailer -> SES, like license emails) to the endpoint's
//! `alertEmail`. An endpoint without one is only logged (and shows `active: false` with
//! `disabledReason` in the admin API).

use crate::mail::{escape_html as escape, Notice, NoticeJob, Rendered};
use crate::{Result, Services};

pub async fn send(s: &Services, job: &NoticeJob) -> Result<()> {
    match job.notice {
        Notice::WebhookEndpointDisabled => {}
    }
    let Some(endpoint) = s
        .store
        .get_endpoint(&job.tenant_id, &job.endpoint_id)
        .await?
    else {
        tracing::info!(endpoint_id = %job.endpoint_id, "notice for a deleted endpoint; dropped");
        return Ok(());
    };
    let Some(to) = endpoint.alert_email.as_deref() else {
        tracing::warn!(endpoint_id = %endpoint.id, "disabled webhook endpoint has no alertEmail; nobody to tell");
        return Ok(());
    };
    let since = endpoint
        .failing_since
        .map(crate::time::format)
        .unwrap_or_default();
    let text = format!(
        "Keyhook disabled your webhook endpoint {url} ({id}): every delivery attempt has failed since {since}.\n\n\
         No more events are sent to it. Fix the endpoint, then re-enable it with\n\
         PUT /api/webhook-endpoints/{id} {{\"active\": true}}, and retry the failed deliveries\n\
         (POST /api/webhook-endpoints/{id}/deliveries/<deliveryId>/retry).\n",
        url = endpoint.url,
        id = endpoint.id,
    );
    let html = format!(
        "<p>Keyhook disabled your webhook endpoint <code>{url}</code> ({id}): every delivery attempt has failed since {since}.</p>\
         <p>No more events are sent to it. Fix the endpoint, then re-enable it with \
         <code>PUT /api/webhook-endpoints/{id}</code> <code>{{\"active\": true}}</code>, and retry the failed deliveries.</p>",
        url = escape(&endpoint.url),
        id = escape(&endpoint.id),
    );
    let message_id = s
        .sender
        .send(
            to,
            &Rendered {
                subject: "Your Keyhook webhook endpoint was disabled".into(),
                html,
                text,
            },
        )
        .await?;
    tracing::info!(ses_message_id = %message_id, endpoint_id = %endpoint.id, "endpoint-disabled notice sent");
    Ok(())
}
