//! The sender: consumes the delivery queue and makes each attempt. For a message it reads the
//! delivery; does nothing if the message is stale (its `seq` was superseded) or the delivery
//! is settled; waits (re-enqueues, at most 15 minutes at a time) if it is not yet due; else
//! claims the attempt, POSTs the sealed payload signed per Standard Webhooks, and records the
//! outcome: succeeded on 2xx; otherwise the next attempt (backoff with jitter, three days) or
//! failed. A test event gets one attempt. An endpoint failing every attempt for five days is
//! disabled and its contact emailed.
//!
//! Every attempt (first, retry, test) goes through [`WebhookClient`]: only to public addresses
//! (checked on the address connected to), unless the configuration allows loopback (`keyhook
//! dev`). An attempt without an answer is logged for the tenant as "refused: not a public
//! address" or "could not connect", without latency; the detail goes to the operator's log.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use time::OffsetDateTime;
use tracing::Instrument;

use crate::crypto::{standard_webhooks, SealContext};
use crate::domain::webhooks::endpoint::Reach;
use crate::domain::webhooks::{
    retry, Attempt, Delivery, DeliveryStatus, EventType, WebhookEndpoint, PAYLOAD_FIELD,
    PREVIOUS_SECRET_FIELD, SECRET_FIELD,
};
use crate::http::webhook_client::{Failure, SystemLookup, WebhookClient};
use crate::mail::NoticeJob;
use crate::services::delivery_queue::DeliveryJob;
use crate::store::deliveries::Outcome;
use crate::{Error, Result, Services};

/// How long the merchant's endpoint has to answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a claim on an attempt lasts: above the request timeout, under the queue's
/// visibility timeout (180 s), so a redelivered message finds it expired.
const CLAIM: time::Duration = time::Duration::seconds(60);

/// The client for `reach`, built once per process (a redirect is an answer the merchant must
/// fix, not one to follow: the client follows none).
fn http(reach: Reach) -> &'static WebhookClient {
    static PUBLIC: OnceLock<WebhookClient> = OnceLock::new();
    static WITH_LOOPBACK: OnceLock<WebhookClient> = OnceLock::new();
    let cell = match reach {
        Reach::Public => &PUBLIC,
        Reach::PublicAndLoopback => &WITH_LOOPBACK,
    };
    cell.get_or_init(|| {
        WebhookClient::new(reach, Arc::new(SystemLookup), |b| {
            b.timeout(REQUEST_TIMEOUT)
                .connect_timeout(Duration::from_secs(5))
                .user_agent(concat!("Keyhook-Webhooks/", env!("CARGO_PKG_VERSION")))
        })
    })
}

/// What handling one message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// An attempt was made (whatever its outcome).
    Attempted,
    /// Not yet due: sent on with a delay.
    Waiting,
    /// Nothing to do (stale or settled).
    Skipped,
}

/// Handles one SQS batch (concurrently); the response lists the messages to retry.
pub async fn handle_batch(s: &Services, event: SqsEvent) -> SqsBatchResponse {
    handle_batch_counted(s, event).await.0
}

/// [`handle_batch`], also saying what each message came to (the local worker stops draining
/// when only waiting messages are left).
pub async fn handle_batch_counted(
    s: &Services,
    event: SqsEvent,
) -> (SqsBatchResponse, Vec<Handled>) {
    let results = futures::future::join_all(event.records.iter().map(|m| async move {
        let id = m.message_id.clone().unwrap_or_default();
        let span = tracing::info_span!("delivery_job", message_id = %id);
        (id, handle_message(s, m).instrument(span).await)
    }))
    .await;
    let mut response = SqsBatchResponse::default();
    let mut handled = Vec::new();
    for (id, result) in results {
        match result {
            Ok(h) => handled.push(h),
            Err(e) => {
                tracing::error!(message_id = %id, error = %e, "delivery job failed; will retry");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
    }
    (response, handled)
}

async fn handle_message(s: &Services, message: &SqsMessage) -> Result<Handled> {
    let Some(job) = message
        .body
        .as_deref()
        .and_then(|b| serde_json::from_str::<DeliveryJob>(b).ok())
    else {
        tracing::error!("delivery job is not a DeliveryJob; dropped");
        return Ok(Handled::Skipped);
    };
    attempt(s, &job).await
}

/// Makes the attempt `job` asks for, if it is still wanted and due.
pub async fn attempt(s: &Services, job: &DeliveryJob) -> Result<Handled> {
    let Some(d) = s
        .store
        .get_delivery(&job.tenant_id, &job.delivery_id)
        .await?
    else {
        return Ok(Handled::Skipped);
    };
    let now = s.clock.now();
    if d.status == DeliveryStatus::Pending && d.seq == job.seq + 1 && d.claim_until.is_none() {
        // The attempt for `job.seq` was recorded but this message came back: the retry's
        // message may never have been sent (the sender stopped, or SQS failed, right after
        // recording). Send it again; a duplicate is harmless (the claim on `seq` decides).
        let retry = DeliveryJob {
            seq: d.seq,
            ..job.clone()
        };
        s.deliveries
            .enqueue(&retry, wait_until(d.next_attempt_at, now))
            .await?;
        return Ok(Handled::Skipped);
    }
    if d.seq != job.seq || d.status != DeliveryStatus::Pending {
        return Ok(Handled::Skipped);
    }
    if d.next_attempt_at.is_some_and(|t| t > now) {
        s.deliveries
            .enqueue(job, wait_until(d.next_attempt_at, now))
            .await?;
        return Ok(Handled::Waiting);
    }
    if !s
        .store
        .claim_delivery(&job.tenant_id, &job.delivery_id, job.seq, now, now + CLAIM)
        .await?
    {
        // Superseded or settled meanwhile: nothing to do. Claimed by another sender: ask SQS
        // to bring this message back later, in case that sender dies before finishing.
        let fresh = s
            .store
            .get_delivery(&job.tenant_id, &job.delivery_id)
            .await?;
        return match fresh {
            Some(f) if f.seq == job.seq && f.status == DeliveryStatus::Pending => {
                Err(Error::Conflict("another sender holds this attempt".into()))
            }
            _ => Ok(Handled::Skipped),
        };
    }
    let endpoint = s.store.get_endpoint(&d.tenant_id, &d.endpoint_id).await?;
    let endpoint = match endpoint {
        Some(e) if e.active => e,
        other => {
            let reason = if other.is_some() {
                "the endpoint is disabled"
            } else {
                "the endpoint was deleted"
            };
            close(s, &d, job.seq, reason, now).await?;
            return Ok(Handled::Skipped);
        }
    };
    let result = post(s, &endpoint, &d).await?;
    let finished_at = s.clock.now();
    let attempt = Attempt {
        attempt: d.attempts + 1,
        at: now,
        status_code: result.status,
        latency_ms: result.latency.map(|l| l.as_millis() as u64),
        error: result.failure.map(|f| f.text().to_string()),
    };
    let succeeded = result.status.is_some_and(|c| (200..300).contains(&c));
    // A test shows whether the endpoint works now; retried, it would be an attempt a tenant
    // can cause at will for days.
    let is_test = d.event_type == EventType::WebhookTest.as_str();
    let next = if succeeded || is_test {
        None
    } else {
        retry::next_attempt_random(d.created_at, d.attempts + 1, finished_at)
    };
    let status = match (succeeded, next) {
        (true, _) => DeliveryStatus::Succeeded,
        (false, Some(_)) => DeliveryStatus::Pending,
        (false, None) => DeliveryStatus::Failed,
    };
    let recorded = s
        .store
        .finish_delivery(
            &d.tenant_id,
            &d.id,
            job.seq,
            Outcome {
                status,
                attempt: Some(&attempt),
                next_attempt_at: next,
                closed_reason: None,
                now: finished_at,
            },
        )
        .await?;
    tracing::info!(
        delivery_id = %d.id,
        endpoint_id = %d.endpoint_id,
        attempt = attempt.attempt,
        status_code = ?attempt.status_code,
        latency_ms = ?attempt.latency_ms,
        outcome = status.as_str(),
        "webhook delivery attempted"
    );
    if !recorded {
        return Ok(Handled::Attempted);
    }
    if next.is_some() {
        let retry = DeliveryJob {
            seq: job.seq + 1,
            ..job.clone()
        };
        s.deliveries
            .enqueue(&retry, wait_until(next, finished_at))
            .await?;
    }
    endpoint_health(s, &endpoint, succeeded, finished_at).await?;
    Ok(Handled::Attempted)
}

/// How long from `now` until `at` (zero if past or unknown).
fn wait_until(at: Option<OffsetDateTime>, now: OffsetDateTime) -> Duration {
    at.map(|t| Duration::from_millis((t - now).whole_milliseconds().max(0) as u64))
        .unwrap_or_default()
}

/// Gives a delivery up without an attempt.
async fn close(
    s: &Services,
    d: &Delivery,
    seq: u32,
    reason: &str,
    now: OffsetDateTime,
) -> Result<()> {
    s.store
        .finish_delivery(
            &d.tenant_id,
            &d.id,
            seq,
            Outcome {
                status: DeliveryStatus::Failed,
                attempt: None,
                next_attempt_at: None,
                closed_reason: Some(reason),
                now,
            },
        )
        .await?;
    Ok(())
}

/// An attempt's outcome: a status and its latency, or why there was none.
struct PostResult {
    status: Option<u16>,
    latency: Option<Duration>,
    failure: Option<Failure>,
}

impl PostResult {
    fn failed(failure: Failure) -> PostResult {
        PostResult {
            status: None,
            latency: None,
            failure: Some(failure),
        }
    }
}

async fn open_secret(
    s: &Services,
    endpoint: &WebhookEndpoint,
    sealed: &str,
    field: &str,
) -> Result<Option<crate::crypto::Secret>> {
    s.keyring
        .open_secret(
            SealContext {
                tenant_id: &endpoint.tenant_id,
                owner: &endpoint.id,
                field,
            },
            sealed,
        )
        .await
}

/// Signs and POSTs the delivery's payload.
async fn post(s: &Services, endpoint: &WebhookEndpoint, d: &Delivery) -> Result<PostResult> {
    let secret = open_secret(s, endpoint, &endpoint.secret_sealed, SECRET_FIELD)
        .await?
        .ok_or_else(|| Error::internal("the endpoint's secret does not open"))?;
    let mut secrets = vec![secret];
    let now = s.clock.now();
    if let (Some(previous), Some(until)) = (
        &endpoint.previous_secret_sealed,
        endpoint.previous_secret_until,
    ) {
        if until > now {
            if let Some(p) = open_secret(s, endpoint, previous, PREVIOUS_SECRET_FIELD).await? {
                secrets.push(p);
            }
        }
    }
    let body = s
        .keyring
        .open(
            SealContext {
                tenant_id: &d.tenant_id,
                owner: &d.id,
                field: PAYLOAD_FIELD,
            },
            &d.payload_sealed,
        )
        .await?
        .ok_or_else(|| Error::internal("the delivery's payload does not open"))?;
    let timestamp = now.unix_timestamp();
    let refs: Vec<&crate::crypto::Secret> = secrets.iter().collect();
    let signature = standard_webhooks::signature_header(&refs, &d.event_id, timestamp, &body)
        .ok_or_else(|| Error::internal("the endpoint's secret is not a whsec_ secret"))?;
    let request = match http(Reach::new(s.config.allow_loopback_webhooks)).post(&endpoint.url) {
        Ok(r) => r,
        Err(failure) => {
            tracing::warn!(endpoint_id = %endpoint.id, "webhook URL's host is an address this deployment may not reach");
            return Ok(PostResult::failed(failure));
        }
    };
    let started = Instant::now();
    let response = request
        .header("content-type", "application/json")
        .header("webhook-id", &d.event_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    let latency = started.elapsed();
    Ok(match response {
        Ok(r) => PostResult {
            status: Some(r.status().as_u16()),
            latency: Some(latency),
            failure: None,
        },
        Err(e) => {
            let failure = Failure::of(&e);
            // The operator's log has the detail (without the URL, which may carry a secret);
            // the tenant's delivery log only the failure's sentence.
            tracing::warn!(
                endpoint_id = %endpoint.id,
                error = ?e.without_url(),
                latency_ms = latency.as_millis() as u64,
                refused = failure == Failure::Refused,
                "webhook delivery got no answer"
            );
            PostResult::failed(failure)
        }
    })
}

/// A success ends the endpoint's failure run; a failure extends it, and five days of it
/// disable the endpoint (once) and email its contact.
async fn endpoint_health(
    s: &Services,
    endpoint: &WebhookEndpoint,
    succeeded: bool,
    now: OffsetDateTime,
) -> Result<()> {
    if succeeded {
        if endpoint.failing_since.is_some() {
            s.store
                .mark_endpoint_healthy(&endpoint.tenant_id, &endpoint.id)
                .await?;
        }
        return Ok(());
    }
    let Some(after) = s
        .store
        .mark_endpoint_failing(&endpoint.tenant_id, &endpoint.id, now)
        .await?
    else {
        return Ok(());
    };
    let Some(since) = after.failing_since else {
        return Ok(());
    };
    if after.active && retry::should_disable(since, now) {
        let reason = format!(
            "every delivery attempt failed since {}",
            crate::time::format(since)
        );
        if s.store
            .disable_endpoint(&endpoint.tenant_id, &endpoint.id, now, &reason)
            .await?
        {
            tracing::warn!(endpoint_id = %endpoint.id, "webhook endpoint disabled after 5 days of failures");
            s.outbox
                .enqueue_notice(&NoticeJob::endpoint_disabled(
                    &endpoint.tenant_id,
                    &endpoint.id,
                ))
                .await?;
        }
    }
    Ok(())
}
