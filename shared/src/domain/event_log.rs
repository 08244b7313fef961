//! The per-tenant log of Stripe events, as merchants see it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::time::serde_ts;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// Signature verified and recorded; processing not finished (or failed on our side and
    /// Stripe will retry).
    Received,
    /// Processed; its effects are committed.
    Verified,
    /// Processed and refused for a reason retrying cannot fix (see `error`).
    Failed,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Received => "received",
            EventStatus::Verified => "verified",
            EventStatus::Failed => "failed",
        }
    }
}

/// How Keyhook came to know an event: Stripe delivered it, or `keyhook reconcile` found it in
/// Stripe's event list after its webhook never arrived (or never got through).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EventSource {
    #[default]
    Webhook,
    Reconcile,
}

impl EventSource {
    pub fn as_str(self) -> &'static str {
        match self {
            EventSource::Webhook => "webhook",
            EventSource::Reconcile => "reconcile",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventLogEntry {
    pub event_id: String,
    pub tenant_id: String,
    pub app_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub status: EventStatus,
    /// The first error, when failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub livemode: bool,
    pub api_version: Option<String>,
    #[serde(with = "serde_ts")]
    pub received_at: OffsetDateTime,
    #[serde(default)]
    pub license_ids: Vec<String>,
    /// The purchase (checkout session, payment intent or invoice) this event concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_ref: Option<String>,
    /// Entries recorded before sources existed read as `webhook`.
    #[serde(default)]
    pub source: EventSource,
}
