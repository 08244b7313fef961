//! From an outgoing event to its deliveries: one per active endpoint of the tenant that wants
//! the event's type, each written once (its id derives from the event's and the endpoint's)
//! and handed to the delivery queue. Nothing is written for a tenant without such endpoints.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::queue::DeliveryJob;
use crate::crypto::SealContext;
use crate::domain::webhooks::{
    Delivery, DeliveryStatus, EventType, WebhookEndpoint, PAYLOAD_FIELD,
};
use crate::{Result, Services};

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
    /// The body sent: `{ id, type, timestamp, data }` (the Standard Webhooks payload shape).
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "id": self.id,
            "type": self.kind.as_str(),
            "timestamp": crate::time::format(self.at),
            "data": self.data,
        }))
        .expect("JSON serialises")
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
pub struct Emitter<'a> {
    s: &'a Services,
    endpoints: HashMap<String, Vec<WebhookEndpoint>>,
    /// Deliveries handed to the queue so far.
    pub enqueued: usize,
}

impl<'a> Emitter<'a> {
    pub fn new(s: &'a Services) -> Self {
        Emitter {
            s,
            endpoints: HashMap::new(),
            enqueued: 0,
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

    /// Creates and enqueues the event's deliveries to `endpoints`.
    pub async fn emit(
        &mut self,
        endpoints: &[WebhookEndpoint],
        event: &OutgoingEvent,
    ) -> Result<()> {
        for endpoint in endpoints {
            deliver(self.s, endpoint, event).await?;
            self.enqueued += 1;
        }
        Ok(())
    }
}

/// Writes the delivery of `event` to `endpoint` (once) and enqueues its first attempt.
pub async fn deliver(
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
    let delivery = Delivery {
        id: id.clone(),
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
    };
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
