//! From an outgoing event to its deliveries: one per active endpoint of the tenant that wants
//! the event's type, each written once (its id derives from the event's and the endpoint's)
//! and handed to the delivery queue. Nothing is written for a tenant without such endpoints.
//!
//! An event that can never be delivered (its data cannot be read, or its delivery cannot be
//! stored: see [`is_transient`](super::is_transient)) is recorded as a delivery that is
//! `failed` from the start, never attempted, its `closedReason` saying why and its payload the
//! event's reference form, so the tenant sees it in the delivery log and the stream moves on.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{is_transient, payload};
use crate::crypto::SealContext;
use crate::domain::webhooks::{
    Delivery, DeliveryStatus, EventType, WebhookEndpoint, PAYLOAD_FIELD,
};
use crate::services::delivery_queue::DeliveryJob;
use crate::{Error, Result, Services};

/// The `closedReason` of an event that could not be prepared.
pub const UNPREPARED: &str = "not sent: the event could not be prepared (Keyhook logged the error); a retry sends its ids only (data.truncated)";

/// An event ready to send.
#[derive(Debug, Clone)]
pub struct OutgoingEvent {
    /// Stable: the `webhook-id` header, the same on every attempt.
    pub id: String,
    pub kind: EventType,
    pub at: OffsetDateTime,
    pub data: Value,
}

impl OutgoingEvent {
    /// The body sent: `{ id, type, timestamp, data }` (the Standard Webhooks payload shape),
    /// at most [`payload::MAX_BODY_BYTES`] (see [`payload::body`]).
    pub fn body(&self) -> Vec<u8> {
        payload::body(&self.id, self.kind.as_str(), self.at, &self.data)
    }

    /// The same event with its data in reference form.
    fn reference_form(&self) -> OutgoingEvent {
        OutgoingEvent {
            data: payload::reference(&self.data),
            ..self.clone()
        }
    }
}

/// The id of the delivery of `event_id` to `endpoint_id`.
pub fn delivery_id(event_id: &str, endpoint_id: &str) -> String {
    let digest = Sha256::digest(format!("{event_id}\u{1f}{endpoint_id}").as_bytes());
    format!(
        "dlv_{}",
        crate::ids::crockford_encode(&digest[..17]).to_ascii_lowercase()
    )
}

/// Emits events, reading each tenant's endpoints once (per stream batch or sweep run).
#[derive(Clone)]
pub struct Emitter<'a> {
    s: &'a Services,
    endpoints: HashMap<String, Vec<WebhookEndpoint>>,
    /// Deliveries handed to the queue so far.
    pub enqueued: usize,
    /// Deliveries recorded failed from the start (events that can never be delivered).
    pub failed: usize,
}

impl<'a> Emitter<'a> {
    pub fn new(s: &'a Services) -> Self {
        Emitter {
            s,
            endpoints: HashMap::new(),
            enqueued: 0,
            failed: 0,
        }
    }

    /// Reads the tenant's endpoints now (once per emitter), so that clones of this emitter
    /// share them.
    pub async fn prefetch(&mut self, tenant_id: &str) -> Result<()> {
        self.wanting(tenant_id, EventType::LicenseCreated)
            .await
            .map(|_| ())
    }

    /// An emitter sharing this one's endpoints, with its own counts.
    pub fn fork(&self) -> Self {
        Emitter {
            enqueued: 0,
            failed: 0,
            ..self.clone()
        }
    }

    /// The tenant's endpoints that want `kind` (read once per emitter).
    pub async fn wanting(
        &mut self,
        tenant_id: &str,
        kind: EventType,
    ) -> Result<Vec<WebhookEndpoint>> {
        if !self.endpoints.contains_key(tenant_id) {
            let all = self.s.store.all_endpoints(tenant_id).await?;
            self.endpoints.insert(tenant_id.to_string(), all);
        }
        Ok(self.endpoints[tenant_id]
            .iter()
            .filter(|e| e.wants(kind))
            .cloned()
            .collect())
    }

    /// Creates and enqueues the event's deliveries to `endpoints`. A delivery that can never
    /// be stored is recorded failed instead; a transient failure is returned.
    pub async fn emit(
        &mut self,
        endpoints: &[WebhookEndpoint],
        event: &OutgoingEvent,
    ) -> Result<()> {
        for endpoint in endpoints {
            match deliver(self.s, endpoint, event).await {
                Ok(_) => self.enqueued += 1,
                Err(e) if is_transient(&e) => return Err(e),
                Err(e) => {
                    self.record_failed(endpoint, &event.reference_form(), &e)
                        .await?
                }
            }
        }
        Ok(())
    }

    /// Emits an event whose data was being read: `read` is that data, and `event.data` the
    /// event's reference form. When reading failed for a reason that can never pass, each
    /// endpoint gets a failed delivery of the reference form; a transient failure is returned
    /// (the caller is retried).
    pub async fn emit_read(
        &mut self,
        endpoints: &[WebhookEndpoint],
        event: OutgoingEvent,
        read: Result<Value>,
    ) -> Result<()> {
        match read {
            Ok(data) => self.emit(endpoints, &OutgoingEvent { data, ..event }).await,
            Err(e) if is_transient(&e) => Err(e),
            Err(e) => {
                for endpoint in endpoints {
                    self.record_failed(endpoint, &event, &e).await?;
                }
                Ok(())
            }
        }
    }

    /// Records `event` as failed for `endpoint` because of `error`, which can never pass. If
    /// even that cannot be stored (the tenant is gone), the event is only logged.
    async fn record_failed(
        &mut self,
        endpoint: &WebhookEndpoint,
        event: &OutgoingEvent,
        error: &Error,
    ) -> Result<()> {
        tracing::error!(
            event = %event.id,
            endpoint = %endpoint.id,
            error = %error,
            "event can never be delivered; recorded failed"
        );
        match deliver_failed(self.s, endpoint, event, UNPREPARED).await {
            Ok(()) => {
                self.failed += 1;
                Ok(())
            }
            Err(e) if is_transient(&e) => Err(e),
            Err(e) => {
                tracing::error!(
                    event = %event.id,
                    endpoint = %endpoint.id,
                    error = %e,
                    "could not record the event failed either; skipped"
                );
                Ok(())
            }
        }
    }
}

/// Writes the delivery of `event` to `endpoint` as failed from the start (never attempted,
/// `closed_reason` saying why); nothing if it exists.
async fn deliver_failed(
    s: &Services,
    endpoint: &WebhookEndpoint,
    event: &OutgoingEvent,
    reason: &str,
) -> Result<()> {
    let mut delivery = new_delivery(s, endpoint, event).await?;
    delivery.status = DeliveryStatus::Failed;
    delivery.next_attempt_at = None;
    delivery.closed_reason = Some(reason.to_string());
    s.store.create_delivery(&delivery).await?;
    Ok(())
}

/// The delivery of `event` to `endpoint`, pending its first attempt now, its payload sealed.
async fn new_delivery(
    s: &Services,
    endpoint: &WebhookEndpoint,
    event: &OutgoingEvent,
) -> Result<Delivery> {
    let id = delivery_id(&event.id, &endpoint.id);
    let now = s.clock.now();
    let payload_sealed = s
        .keyring
        .seal(
            SealContext {
                tenant_id: &endpoint.tenant_id,
                owner: &id,
                field: PAYLOAD_FIELD,
            },
            &event.body(),
        )
        .await?;
    Ok(Delivery {
        id,
        tenant_id: endpoint.tenant_id.clone(),
        endpoint_id: endpoint.id.clone(),
        event_id: event.id.clone(),
        event_type: event.kind.as_str().to_string(),
        payload_sealed,
        status: DeliveryStatus::Pending,
        attempts: 0,
        seq: 0,
        next_attempt_at: Some(now),
        claim_until: None,
        history: Vec::new(),
        closed_reason: None,
        created_at: now,
        updated_at: now,
    })
}

/// Writes the delivery of `event` to `endpoint` (once) and enqueues its first attempt.
pub async fn deliver(
    s: &Services,
    endpoint: &WebhookEndpoint,
    event: &OutgoingEvent,
) -> Result<Delivery> {
    let delivery = new_delivery(s, endpoint, event).await?;
    let id = delivery.id.clone();
    let job = DeliveryJob {
        tenant_id: delivery.tenant_id.clone(),
        delivery_id: id.clone(),
        seq: 0,
    };
    if s.store.create_delivery(&delivery).await? {
        s.deliveries.enqueue(&job, Duration::ZERO).await?;
        return Ok(delivery);
    }
    // Derived again (a redelivered stream record): the first try may have stopped between
    // writing the delivery and enqueueing it. Enqueue again while it was never attempted; the
    // claim on `seq` makes a duplicate message harmless.
    let existing = s
        .store
        .get_delivery(&endpoint.tenant_id, &id)
        .await?
        .unwrap_or(delivery);
    if existing.status == DeliveryStatus::Pending && existing.attempts == 0 && existing.seq == 0 {
        s.deliveries.enqueue(&job, Duration::ZERO).await?;
    }
    Ok(existing)
}
