//! Outgoing webhook endpoints: create (the signing secret is shown once), read, update (re-
//! enabling a disabled one), delete, roll the secret, the delivery log, a test event, and a
//! manual retry. Deliveries themselves are made by `handlers::deliveries`, never inside these
//! requests: a test or a retry is queued and answered `202`.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use time::Duration;

use super::{caller, ts};
use crate::crypto::{standard_webhooks, SealContext};
use crate::domain::webhooks::{
    endpoint::check_url, Attempt, Delivery, DeliveryStatus, EventType, WebhookEndpoint, ALL_EVENTS,
    PREVIOUS_SECRET_FIELD, SECRET_FIELD,
};
use crate::handlers::deliveries::emit::{self, OutgoingEvent};
use crate::handlers::deliveries::queue::DeliveryJob;
use crate::http::input::{
    is_email, json_body, json_body_requiring, pagination, text_field, ListBody,
};
use crate::http::schema;

/// `"*"` and the event types an endpoint can subscribe to, for the schema.
fn event_type_names() -> Vec<&'static str> {
    std::iter::once(ALL_EVENTS)
        .chain(EventType::SUBSCRIBABLE.iter().map(|e| e.as_str()))
        .collect()
}

/// Fields a create must carry.
pub const CREATE_REQUIRED: &[&str] = &["url"];
use crate::http::{ApiRequest, ApiResponse};
use crate::{ids, Error, Result, Services};

/// Endpoints a tenant may have (each event is written and sent once per endpoint).
pub const MAX_ENDPOINTS: usize = 20;
/// How long the previous secret keeps signing after a roll.
pub const ROLL_OVERLAP: Duration = Duration::hours(24);

/// Create and update body. On update, absent fields keep their value; `alertEmail: ""` and
/// `description: ""` remove them.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointInput {
    /// `https://…` (or `http://` on 127.0.0.1, [::1] or localhost).
    #[schemars(extend("pattern" = schema::WEB_URL, "maxLength" = schema::URL_MAX_CHARS))]
    pub url: Option<String>,
    /// Event types to send (`license.created`, …), or `["*"]` for all (the default).
    #[schemars(extend("minItems" = 1, "maxItems" = 50, "items" = {"type": "string", "enum": event_type_names()}))]
    pub event_types: Option<Vec<String>>,
    /// `""` removes it.
    #[schemars(extend("pattern" = schema::EMPTY_OR_NON_BLANK, "maxLength" = 500))]
    pub description: Option<String>,
    /// `false` pauses deliveries; `true` re-enables an endpoint disabled for failing.
    pub active: Option<bool>,
    /// Who is emailed when the endpoint is disabled after five days of failures; `""` removes it.
    #[schemars(extend("anyOf" = [{"maxLength": 0}, {"pattern": schema::EMAIL, "maxLength": schema::EMAIL_MAX_CHARS}]))]
    pub alert_email: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointView {
    pub id: String,
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub active: bool,
    /// The `whsec_…` signing secret: only in the answer that created or rolled it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Until when the secret before the last roll still signs deliveries (alongside).
    pub previous_secret_expires_at: Option<String>,
    pub alert_email: Option<String>,
    /// Start of the current run of failed attempts.
    pub failing_since: Option<String>,
    pub disabled_at: Option<String>,
    pub disabled_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

fn view(e: &WebhookEndpoint, secret: Option<String>) -> EndpointView {
    EndpointView {
        id: e.id.clone(),
        url: e.url.clone(),
        description: e.description.clone(),
        event_types: e.event_types.clone(),
        active: e.active,
        secret,
        previous_secret_expires_at: e
            .previous_secret_sealed
            .as_ref()
            .and(e.previous_secret_until)
            .map(ts),
        alert_email: e.alert_email.clone(),
        failing_since: e.failing_since.map(ts),
        disabled_at: e.disabled_at.map(ts),
        disabled_reason: e.disabled_reason.clone(),
        created_at: ts(e.created_at),
        updated_at: ts(e.updated_at),
    }
}

/// A delivery in the log: its attempts (status code, latency), the next one, the outcome.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub id: String,
    pub endpoint_id: String,
    /// The `webhook-id` header and the payload's `id`.
    pub event_id: String,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: Option<String>,
    pub last_attempt: Option<Attempt>,
    /// Every attempt, oldest first.
    pub history: Vec<Attempt>,
    /// Why it was given up without an attempt.
    pub closed_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        DeliveryView {
            id: d.id,
            endpoint_id: d.endpoint_id,
            event_id: d.event_id,
            event_type: d.event_type,
            status: d.status,
            attempts: d.attempts,
            next_attempt_at: match d.status {
                DeliveryStatus::Pending => d.next_attempt_at.map(ts),
                _ => None,
            },
            last_attempt: d.history.last().cloned(),
            history: d.history,
            closed_reason: d.closed_reason,
            created_at: ts(d.created_at),
            updated_at: ts(d.updated_at),
        }
    }
}

fn check_event_types(types: Vec<String>) -> Result<Vec<String>> {
    if types.is_empty() {
        return Err(Error::validation(
            "eventTypes",
            "must name at least one event type, or \"*\" for all",
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, t) in types.into_iter().enumerate() {
        let known = t == ALL_EVENTS
            || EventType::parse(&t).is_some_and(|e| EventType::SUBSCRIBABLE.contains(&e));
        if !known {
            return Err(Error::validation(
                format!("eventTypes[{i}]"),
                format!(
                    "unknown event type {t:?}; one of {}, or \"*\"",
                    EventType::SUBSCRIBABLE.map(EventType::as_str).join(", ")
                ),
            ));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

fn optional_text(field: &str, value: String, max: usize) -> Result<Option<String>> {
    if value.trim().is_empty() {
        Ok(None)
    } else {
        text_field(field, &value, max).map(Some)
    }
}

/// Applies an input to an endpoint (new or existing). Returns whether it re-enabled it.
fn apply(e: &mut WebhookEndpoint, input: EndpointInput) -> Result<bool> {
    if let Some(url) = input.url {
        e.url = check_url(&url)
            .map_err(|m| Error::validation("url", m))?
            .to_string();
    }
    if let Some(types) = input.event_types {
        e.event_types = check_event_types(types)?;
    }
    if let Some(d) = input.description {
        e.description = optional_text("description", d, 500)?;
    }
    if let Some(a) = input.alert_email {
        let a = a.trim().to_string();
        if !a.is_empty() && !is_email(&a) {
            return Err(Error::validation("alertEmail", "is not an email address"));
        }
        e.alert_email = (!a.is_empty()).then_some(a);
    }
    let mut reenabled = false;
    if let Some(active) = input.active {
        reenabled = active && (!e.active || e.disabled_at.is_some());
        e.active = active;
        if reenabled {
            e.failing_since = None;
            e.disabled_at = None;
            e.disabled_reason = None;
        }
    }
    Ok(reenabled)
}

async fn seal_secret(
    s: &Services,
    e: &WebhookEndpoint,
    field: &str,
    value: &str,
) -> Result<String> {
    s.keyring
        .seal(
            SealContext {
                tenant_id: &e.tenant_id,
                owner: &e.id,
                field,
            },
            value.as_bytes(),
        )
        .await
}

async fn load(s: &Services, tenant_id: &str, id: &str) -> Result<WebhookEndpoint> {
    s.store
        .get_endpoint(tenant_id, id)
        .await?
        .ok_or_else(|| Error::not_found(format!("Webhook endpoint {id}")))
}

/// `POST /api/webhook-endpoints`.
pub async fn create(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let input: EndpointInput = json_body_requiring(req, CREATE_REQUIRED)?;
    if input.url.is_none() {
        return Err(Error::validation("url", "is required"));
    }
    if s.store.all_endpoints(&c.tenant_id).await?.len() >= MAX_ENDPOINTS {
        return Err(Error::Conflict(format!(
            "a tenant may have at most {MAX_ENDPOINTS} webhook endpoints"
        )));
    }
    let now = crate::time::now();
    let mut e = WebhookEndpoint {
        id: ids::new_id("whep"),
        tenant_id: c.tenant_id,
        url: String::new(),
        description: None,
        event_types: vec![ALL_EVENTS.to_string()],
        active: true,
        secret_sealed: String::new(),
        previous_secret_sealed: None,
        previous_secret_until: None,
        alert_email: None,
        failing_since: None,
        disabled_at: None,
        disabled_reason: None,
        created_at: now,
        updated_at: now,
    };
    apply(&mut e, input)?;
    let secret = standard_webhooks::new_secret();
    e.secret_sealed = seal_secret(s, &e, SECRET_FIELD, secret.expose()).await?;
    s.store.create_endpoint(&e).await?;
    Ok(ApiResponse::json(
        StatusCode::CREATED,
        &view(&e, Some(secret.expose().to_string())),
    ))
}

pub async fn list(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let (limit, cursor) = pagination(req)?;
    let page = s
        .store
        .list_endpoints(&c.tenant_id, limit, cursor.as_deref())
        .await?;
    Ok(ApiResponse::ok(&ListBody::from_page(page, |e| {
        view(&e, None)
    })))
}

pub async fn get(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    Ok(ApiResponse::ok(&view(
        &load(s, &c.tenant_id, id).await?,
        None,
    )))
}

/// `PUT /api/webhook-endpoints/{id}`.
pub async fn update(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let input: EndpointInput = json_body(req)?;
    let mut e = load(s, &c.tenant_id, id).await?;
    let reenabled = apply(&mut e, input)?;
    e.updated_at = crate::time::now();
    s.store.update_endpoint_settings(&e, reenabled).await?;
    Ok(ApiResponse::ok(&view(&e, None)))
}

pub async fn delete(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    if !s.store.delete_endpoint(&c.tenant_id, id).await? {
        return Err(Error::not_found(format!("Webhook endpoint {id}")));
    }
    Ok(ApiResponse::no_content())
}

/// `POST /api/webhook-endpoints/{id}/roll-secret`: a new secret (shown once); the previous one
/// keeps signing, alongside, for 24 hours, so the merchant can switch without missing anything.
pub async fn roll_secret(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let mut e = load(s, &c.tenant_id, id).await?;
    let current = s
        .keyring
        .open_secret(
            SealContext {
                tenant_id: &e.tenant_id,
                owner: &e.id,
                field: SECRET_FIELD,
            },
            &e.secret_sealed,
        )
        .await?
        .ok_or_else(|| Error::internal("the endpoint's secret does not open"))?;
    let secret = standard_webhooks::new_secret();
    let now = crate::time::now();
    let sealed = seal_secret(s, &e, SECRET_FIELD, secret.expose()).await?;
    let previous = seal_secret(s, &e, PREVIOUS_SECRET_FIELD, current.expose()).await?;
    let until = now + ROLL_OVERLAP;
    s.store
        .roll_endpoint_secret(&e.tenant_id, &e.id, &sealed, &previous, until, now)
        .await?;
    e.secret_sealed = sealed;
    e.previous_secret_sealed = Some(previous);
    e.previous_secret_until = Some(until);
    e.updated_at = now;
    Ok(ApiResponse::ok(&view(
        &e,
        Some(secret.expose().to_string()),
    )))
}

/// `GET /api/webhook-endpoints/{id}/deliveries?status=`, newest first.
pub async fn deliveries(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let (limit, cursor) = pagination(req)?;
    let status = match req.query_param("status") {
        None => None,
        Some("pending") => Some(DeliveryStatus::Pending),
        Some("succeeded") => Some(DeliveryStatus::Succeeded),
        Some("failed") => Some(DeliveryStatus::Failed),
        Some(_) => {
            return Err(Error::validation(
                "status",
                "must be one of pending, succeeded, failed",
            ))
        }
    };
    load(s, &c.tenant_id, id).await?;
    let page = s
        .store
        .list_deliveries(&c.tenant_id, id, limit, cursor.as_deref(), status)
        .await?;
    Ok(ApiResponse::ok(&ListBody::from_page(
        page,
        DeliveryView::from,
    )))
}

/// `POST /api/webhook-endpoints/{id}/test`: queues a `webhook.test` event to this endpoint.
pub async fn test(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let e = load(s, &c.tenant_id, id).await?;
    if !e.active {
        return Err(Error::Conflict(
            "the endpoint is not active; re-enable it first (PUT {\"active\": true})".into(),
        ));
    }
    let event = OutgoingEvent {
        id: ids::new_id("evt"),
        kind: EventType::WebhookTest,
        at: s.clock.now(),
        data: serde_json::json!({
            "endpointId": e.id,
            "message": "A test event from Keyhook: your endpoint receives and verifies webhooks.",
        }),
    };
    let d = emit::deliver(s, &e, &event).await?;
    Ok(ApiResponse::json(
        StatusCode::ACCEPTED,
        &DeliveryView::from(d),
    ))
}

/// `POST /api/webhook-endpoints/{id}/deliveries/{deliveryId}/retry`: one more attempt now
/// (and, within three days of the event, the usual schedule after it).
pub async fn retry(
    s: &Services,
    req: &ApiRequest,
    id: &str,
    delivery_id: &str,
) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let e = load(s, &c.tenant_id, id).await?;
    let not_found = || Error::not_found(format!("Delivery {delivery_id}"));
    match s.store.get_delivery(&c.tenant_id, delivery_id).await? {
        Some(d) if d.endpoint_id == e.id => {}
        _ => return Err(not_found()),
    }
    if !e.active {
        return Err(Error::Conflict(
            "the endpoint is not active; re-enable it first (PUT {\"active\": true})".into(),
        ));
    }
    let d = s
        .store
        .retry_delivery(&c.tenant_id, delivery_id, s.clock.now())
        .await?
        .ok_or_else(|| Error::Conflict("an attempt of this delivery is in progress".into()))?;
    s.deliveries
        .enqueue(
            &DeliveryJob {
                tenant_id: d.tenant_id.clone(),
                delivery_id: d.id.clone(),
                seq: d.seq,
            },
            std::time::Duration::ZERO,
        )
        .await?;
    Ok(ApiResponse::json(
        StatusCode::ACCEPTED,
        &DeliveryView::from(d),
    ))
}
