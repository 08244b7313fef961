//! Webhooks to the merchant's systems: the event types Keyhook sends, the endpoints a tenant
//! registers, and the delivery of one event to one endpoint. The rules live in the submodules:
//! [`derive`] (which events a change of a stored item means), [`retry`] (when to try again and
//! when to give up or disable), [`endpoint`] (what URL may receive them).

pub mod derive;
pub mod endpoint;
pub mod retry;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::time::serde_ts;

/// What an outgoing event says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    LicenseCreated,
    /// A subscription period paid: the license's expiry moved later (extend), or a new key
    /// replaced the previous period's (new key).
    LicenseRenewed,
    LicenseSuspended,
    LicenseReinstated,
    LicenseRevoked,
    LicenseExpired,
    LicenseActivated,
    LicenseDeactivated,
    /// Every floating seat of a license was in use when a device asked for one (at most once
    /// an hour per license).
    LicenseLeaseLimitReached,
    /// A usage record was refused at a meter's limit (at most once an hour per license and
    /// meter).
    LicenseUsageLimitReached,
    TrialStarted,
    /// A Stripe event was recorded `failed` (it can never issue).
    PurchaseFailed,
    /// A license email could not be sent (no address, or the mailer gave up).
    EmailFailed,
    /// `POST /api/webhook-endpoints/{id}/test`: sent to that endpoint only, whatever it wants.
    WebhookTest,
}

impl EventType {
    /// The types an endpoint can ask for (every one but the test event).
    pub const SUBSCRIBABLE: [EventType; 13] = [
        EventType::LicenseCreated,
        EventType::LicenseRenewed,
        EventType::LicenseSuspended,
        EventType::LicenseReinstated,
        EventType::LicenseRevoked,
        EventType::LicenseExpired,
        EventType::LicenseActivated,
        EventType::LicenseDeactivated,
        EventType::LicenseLeaseLimitReached,
        EventType::LicenseUsageLimitReached,
        EventType::TrialStarted,
        EventType::PurchaseFailed,
        EventType::EmailFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::LicenseCreated => "license.created",
            EventType::LicenseRenewed => "license.renewed",
            EventType::LicenseSuspended => "license.suspended",
            EventType::LicenseReinstated => "license.reinstated",
            EventType::LicenseRevoked => "license.revoked",
            EventType::LicenseExpired => "license.expired",
            EventType::LicenseActivated => "license.activated",
            EventType::LicenseDeactivated => "license.deactivated",
            EventType::LicenseLeaseLimitReached => "license.lease_limit_reached",
            EventType::LicenseUsageLimitReached => "license.usage_limit_reached",
            EventType::TrialStarted => "trial.started",
            EventType::PurchaseFailed => "purchase.failed",
            EventType::EmailFailed => "email.failed",
            EventType::WebhookTest => "webhook.test",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        Self::SUBSCRIBABLE
            .into_iter()
            .chain([EventType::WebhookTest])
            .find(|t| t.as_str() == s)
    }
}

/// "Every event type", in an endpoint's `eventTypes`.
pub const ALL_EVENTS: &str = "*";

/// A tenant's endpoint, as stored. Absent optional fields are absent attributes (not NULL), so
/// conditions such as `attribute_not_exists(failingSince)` mean what they say. The signing secret is sealed under the tenant key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEndpoint {
    pub id: String,
    pub tenant_id: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Event type names, or `["*"]` for all.
    pub event_types: Vec<String>,
    pub active: bool,
    /// The `whsec_…` secret, sealed (field [`SECRET_FIELD`]).
    pub secret_sealed: String,
    /// After a roll, the previous secret, also signed with until `previous_secret_until`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_sealed: Option<String>,
    #[serde(
        with = "serde_ts::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub previous_secret_until: Option<OffsetDateTime>,
    /// Who is told when the endpoint is disabled for failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_email: Option<String>,
    /// Start of the current run of failed attempts (cleared by a success).
    #[serde(
        with = "serde_ts::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub failing_since: Option<OffsetDateTime>,
    #[serde(
        with = "serde_ts::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub disabled_at: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    #[serde(with = "serde_ts")]
    pub created_at: OffsetDateTime,
    #[serde(with = "serde_ts")]
    pub updated_at: OffsetDateTime,
    /// Moved by every write decided on a read (settings, a secret roll, the sender disabling
    /// it), each conditional on the version it read, so none undoes another. 0: none yet.
    #[serde(default)]
    pub version: u64,
}

/// The seal field of an endpoint's secret (and of its previous one).
pub const SECRET_FIELD: &str = "webhookEndpointSecret";
pub const PREVIOUS_SECRET_FIELD: &str = "webhookEndpointPreviousSecret";
/// The seal field of a delivery's payload (it may hold license keys).
pub const PAYLOAD_FIELD: &str = "webhookPayload";

impl WebhookEndpoint {
    /// Whether this endpoint is sent events of type `t`.
    pub fn wants(&self, t: EventType) -> bool {
        self.active
            && self
                .event_types
                .iter()
                .any(|e| e == ALL_EVENTS || e == t.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or in one).
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// Given up: three days of failures, or the endpoint was disabled or deleted.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }
}

/// One attempt at delivering, as the delivery log shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// 1 for the first attempt.
    pub attempt: u32,
    #[serde(with = "serde_ts")]
    #[schemars(with = "String")]
    pub at: OffsetDateTime,
    /// The endpoint's HTTP status, when it answered.
    pub status_code: Option<u16>,
    /// How long the answer took; none without an answer (no timing of a failed connection).
    pub latency_ms: Option<u64>,
    /// Why there was no HTTP answer: `refused: not a public address`, or `could not connect
    /// (or no answer in time)` (nothing more: no port, timing or error from the network).
    pub error: Option<String>,
}

/// One event on its way to one endpoint. Its id is derived from the event's and the endpoint's,
/// so deriving the same event twice finds the same delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub id: String,
    pub tenant_id: String,
    pub endpoint_id: String,
    /// The `webhook-id` header: the same for every attempt and every endpoint.
    pub event_id: String,
    pub event_type: String,
    /// The exact body sent (JSON), sealed under the tenant key (field [`PAYLOAD_FIELD`]).
    pub payload_sealed: String,
    pub status: DeliveryStatus,
    /// Attempts made.
    #[serde(default)]
    pub attempts: u32,
    /// Which queue message may make the next attempt: bumped on every (re)schedule, so a
    /// duplicate or superseded message does nothing.
    #[serde(default)]
    pub seq: u32,
    #[serde(
        with = "serde_ts::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// While a sender is making an attempt, until when (a crashed sender's claim expires).
    #[serde(
        with = "serde_ts::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub claim_until: Option<OffsetDateTime>,
    #[serde(default)]
    pub history: Vec<Attempt>,
    /// Why it was given up without an attempt (the endpoint was disabled or deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_reason: Option<String>,
    #[serde(with = "serde_ts")]
    pub created_at: OffsetDateTime,
    #[serde(with = "serde_ts")]
    pub updated_at: OffsetDateTime,
}
