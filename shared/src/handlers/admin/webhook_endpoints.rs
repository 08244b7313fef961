//! Outgoing webhook endpoints: create (the signing secret is shown once), read, update (re-
//! enabling a disabled one), delete, roll the secret, the delivery log, a test event, and a
//! manual retry. Deliveries themselves are made by `consumers::deliveries`, never inside these
//! requests: a test or a retry is queued and answered `202`.
//!
//! URLs are checked against `domain::webhooks::endpoint` with the deployment's [`Reach`] (public
//! addresses only, unless `keyhook dev`). An update and a roll are read-modify-writes
//! conditional on the endpoint's version, so neither undoes a concurrent change: above all, an
//! edit decided before the sender disabled the endpoint cannot re-enable it. Test events are
//! limited per endpoint ([`TESTS_PER_WINDOW`]) and get one attempt, no retries.

use http::StatusCode;
use serde::{Deserialize, Serialize};
use time::Duration;

use super::{caller, ts};
use crate::consumers::deliveries::emit::{self, OutgoingEvent};
use crate::crypto::{standard_webhooks, SealContext};
use crate::domain::webhooks::{
    endpoint::{check_url, Reach},
    Attempt, Delivery, DeliveryStatus, EventType, WebhookEndpoint, ALL_EVENTS,
    PREVIOUS_SECRET_FIELD, SECRET_FIELD,
};
use crate::http::auth::Caller;
use crate::http::input::{
    is_email, json_body, json_body_requiring, text_field, ListBody, ListQuery,
};
use crate::http::schema;
use crate::services::delivery_queue::DeliveryJob;

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
/// Test events an endpoint may be sent per [`TEST_WINDOW_SECONDS`] (counted exactly across
/// instances): enough to debug an endpoint, too few to use Keyhook as a prober.
pub const TESTS_PER_WINDOW: u32 = 10;
pub const TEST_WINDOW_SECONDS: i64 = 15 * 60;
/// Read-modify-write attempts of an update or a roll that lost a race to another write.
const EDIT_ATTEMPTS: u32 = 8;

/// Create body (and, with [`EndpointUpdate`], the settings an update may change). On update,
/// absent fields keep their value; `alertEmail: ""` and `description: ""` remove them.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointInput {
    /// `https://…` to a public address: a host written as an IP address must be public, and a
    /// name is checked again on every delivery, at connect time (private, loopback, link-local
    /// and other special-purpose addresses are refused). `http://` on 127.0.0.1, [::1] or
    /// localhost only in local development (`keyhook dev`).
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

/// Update body: the create body's fields, each optional, and the `version` read. (Its own
/// type rather than an optional field of [`EndpointInput`], so the create's schema does not
/// offer a field a create must refuse.)
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointUpdate {
    /// As on create.
    #[schemars(extend("pattern" = schema::WEB_URL, "maxLength" = schema::URL_MAX_CHARS))]
    pub url: Option<String>,
    /// As on create.
    #[schemars(extend("minItems" = 1, "maxItems" = 50, "items" = {"type": "string", "enum": event_type_names()}))]
    pub event_types: Option<Vec<String>>,
    /// `""` removes it.
    #[schemars(extend("pattern" = schema::EMPTY_OR_NON_BLANK, "maxLength" = 500))]
    pub description: Option<String>,
    /// `false` pauses deliveries; `true` re-enables an endpoint disabled for failing.
    pub active: Option<bool>,
    /// `""` removes it.
    #[schemars(extend("anyOf" = [{"maxLength": 0}, {"pattern": schema::EMAIL, "maxLength": schema::EMAIL_MAX_CHARS}]))]
    pub alert_email: Option<String>,
    /// The endpoint's `version` this change was decided on (from a read). If the endpoint
    /// changed since (the sender disabled it, another edit, a roll), the update answers
    /// `409 conflict` and changes nothing. Without it, the update applies to the endpoint as it
    /// is, except that it answers `409` rather than set `active` on an endpoint whose state
    /// changed while it was applied.
    pub version: Option<u64>,
}

impl EndpointUpdate {
    /// The settings to apply, and the version the change was decided on.
    fn split(self) -> (EndpointInput, Option<u64>) {
        let settings = EndpointInput {
            url: self.url,
            event_types: self.event_types,
            description: self.description,
            active: self.active,
            alert_email: self.alert_email,
        };
        (settings, self.version)
    }
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
    /// Moves on every change of settings, secret or state: send it back with an update to
    /// make the update conditional on it.
    pub version: u64,
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
        version: e.version,
    }
}

/// A delivery in the log: its attempts (status code and latency, or why there was no answer),
/// the next one, the outcome.
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
fn apply(e: &mut WebhookEndpoint, input: EndpointInput, reach: Reach) -> Result<bool> {
    if let Some(url) = input.url {
        e.url = check_url(&url, reach)
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
    Ok(ApiResponse::json(
        StatusCode::CREATED,
        &create_webhook_endpoint(s, &c, input).await?,
    ))
}

/// A new endpoint; its view carries the signing secret, this once.
pub async fn create_webhook_endpoint(
    s: &Services,
    c: &Caller,
    input: EndpointInput,
) -> Result<EndpointView> {
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
        tenant_id: c.tenant_id.clone(),
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
        version: 0,
    };
    apply(&mut e, input, reach(s))?;
    let secret = standard_webhooks::new_secret();
    e.secret_sealed = seal_secret(s, &e, SECRET_FIELD, secret.expose()).await?;
    s.store.create_endpoint(&e).await?;
    Ok(view(&e, Some(secret.expose().to_string())))
}

/// `GET /api/webhook-endpoints`.
pub async fn list(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let query = ListQuery::from_request(req)?;
    Ok(ApiResponse::ok(
        &list_webhook_endpoints(s, &c, query).await?,
    ))
}

/// The tenant's endpoints (no secrets).
pub async fn list_webhook_endpoints(
    s: &Services,
    c: &Caller,
    query: ListQuery,
) -> Result<ListBody<EndpointView>> {
    let page = s
        .store
        .list_endpoints(&c.tenant_id, query.limit, query.cursor.as_deref())
        .await?;
    Ok(ListBody::from_page(page, |e| view(&e, None)))
}

/// `GET /api/webhook-endpoints/{id}`.
pub async fn get(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    Ok(ApiResponse::ok(&get_webhook_endpoint(s, &c, id).await?))
}

/// An endpoint of the tenant (no secret).
pub async fn get_webhook_endpoint(s: &Services, c: &Caller, id: &str) -> Result<EndpointView> {
    Ok(view(&load(s, &c.tenant_id, id).await?, None))
}

/// Where this deployment's webhooks may go.
fn reach(s: &Services) -> Reach {
    Reach::new(s.config.allow_loopback_webhooks)
}

/// `PUT /api/webhook-endpoints/{id}`: read, apply, write conditional on the version read. A
/// lost race reads again and applies the input again (it names only the fields it changes),
/// unless the request pinned a `version` (then `409`), or it sets `active` and the endpoint's
/// state changed in between (then `409`: whether to re-enable or pause was decided on a state
/// that no longer holds).
pub async fn update(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let input = json_body::<EndpointUpdate>(req)?;
    Ok(ApiResponse::ok(
        &update_webhook_endpoint(s, &c, id, input).await?,
    ))
}

/// Applies `update` to an endpoint, conditional on its version (see [`update`]).
pub async fn update_webhook_endpoint(
    s: &Services,
    c: &Caller,
    id: &str,
    update: EndpointUpdate,
) -> Result<EndpointView> {
    let (input, pinned) = update.split();
    let first = load(s, &c.tenant_id, id).await?;
    let mut read = first.clone();
    for _ in 0..EDIT_ATTEMPTS {
        if let Some(v) = pinned.filter(|v| *v != read.version) {
            return Err(Error::Conflict(format!(
                "webhook endpoint {id} changed since version {v} was read (it is at version {}{}); \
                 read it again and make your change on what it is now",
                read.version,
                state_note(&read)
            )));
        }
        if input.active.is_some() && state(&read) != state(&first) {
            return Err(Error::Conflict(format!(
                "webhook endpoint {id} changed while this update was applied{}; read it again \
                 before setting \"active\"",
                state_note(&read)
            )));
        }
        let mut e = read.clone();
        let reenabled = apply(&mut e, input.clone(), reach(s))?;
        e.updated_at = crate::time::now();
        e.version = read.version + 1;
        if s.store
            .update_endpoint_settings(&e, reenabled, read.version)
            .await?
        {
            return Ok(view(&e, None));
        }
        read = load(s, &c.tenant_id, id).await?;
    }
    Err(Error::Conflict(format!(
        "webhook endpoint {id} is being changed by other requests; retry"
    )))
}

/// What the sender and an edit change about whether deliveries go out.
fn state(e: &WebhookEndpoint) -> (bool, Option<time::OffsetDateTime>) {
    (e.active, e.disabled_at)
}

/// ": it is now disabled (why)", for a conflict's message.
fn state_note(e: &WebhookEndpoint) -> String {
    if e.disabled_at.is_some() {
        format!(
            ": it is now disabled ({})",
            e.disabled_reason.as_deref().unwrap_or("for failing")
        )
    } else if !e.active {
        ": it is now paused".into()
    } else {
        ": it is now active".into()
    }
}

/// `DELETE /api/webhook-endpoints/{id}`.
pub async fn delete(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    delete_webhook_endpoint(s, &c, id).await?;
    Ok(ApiResponse::no_content())
}

/// Deletes an endpoint of the tenant.
pub async fn delete_webhook_endpoint(s: &Services, c: &Caller, id: &str) -> Result<()> {
    if !s.store.delete_endpoint(&c.tenant_id, id).await? {
        return Err(Error::not_found(format!("Webhook endpoint {id}")));
    }
    Ok(())
}

/// `POST /api/webhook-endpoints/{id}/roll-secret`: a new secret (shown once); the previous one
/// keeps signing, alongside, for 24 hours, so the merchant can switch without missing anything.
/// Conditional on the version read (the secret that becomes the previous one); a lost race
/// rolls again from what is there, as the new secret has not been shown yet.
pub async fn roll_secret(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    Ok(ApiResponse::ok(&roll_webhook_secret(s, &c, id).await?))
}

/// A new secret for an endpoint (see [`roll_secret`]); its view carries it, this once.
pub async fn roll_webhook_secret(s: &Services, c: &Caller, id: &str) -> Result<EndpointView> {
    for _ in 0..EDIT_ATTEMPTS {
        let e = load(s, &c.tenant_id, id).await?;
        if let Some(rolled) = try_roll(s, e).await? {
            return Ok(rolled);
        }
    }
    Err(Error::Conflict(format!(
        "webhook endpoint {id} is being changed by other requests; retry"
    )))
}

/// One roll of `e` as read; `None` if it changed meanwhile.
async fn try_roll(s: &Services, mut e: WebhookEndpoint) -> Result<Option<EndpointView>> {
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
    if !s
        .store
        .roll_endpoint_secret(
            &e.tenant_id,
            &e.id,
            &sealed,
            &previous,
            until,
            now,
            e.version,
        )
        .await?
    {
        return Ok(None);
    }
    e.secret_sealed = sealed;
    e.previous_secret_sealed = Some(previous);
    e.previous_secret_until = Some(until);
    e.updated_at = now;
    e.version += 1;
    Ok(Some(view(&e, Some(secret.expose().to_string()))))
}

/// `GET /api/webhook-endpoints/{id}/deliveries?status=`, newest first.
pub async fn deliveries(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let query = DeliveryQuery::of(req)?;
    Ok(ApiResponse::ok(&list_deliveries(s, &c, id, query).await?))
}

/// What a delivery log lists: a page, and the deliveries of one status or all.
#[derive(Debug, Clone, Default)]
pub struct DeliveryQuery {
    pub page: ListQuery,
    pub status: Option<DeliveryStatus>,
}

impl DeliveryQuery {
    /// `?limit=&cursor=&status=`.
    pub fn of(req: &ApiRequest) -> Result<DeliveryQuery> {
        let page = ListQuery::from_request(req)?;
        let status = req.query_param("status").map(Self::status).transpose()?;
        Ok(DeliveryQuery { page, status })
    }

    /// The `status` filter.
    pub fn status(value: &str) -> Result<DeliveryStatus> {
        match value {
            "pending" => Ok(DeliveryStatus::Pending),
            "succeeded" => Ok(DeliveryStatus::Succeeded),
            "failed" => Ok(DeliveryStatus::Failed),
            _ => Err(Error::validation(
                "status",
                "must be one of pending, succeeded, failed",
            )),
        }
    }
}

/// An endpoint's deliveries, newest first.
pub async fn list_deliveries(
    s: &Services,
    c: &Caller,
    id: &str,
    query: DeliveryQuery,
) -> Result<ListBody<DeliveryView>> {
    load(s, &c.tenant_id, id).await?;
    let page = s
        .store
        .list_deliveries(
            &c.tenant_id,
            id,
            query.page.limit,
            query.page.cursor.as_deref(),
            query.status,
        )
        .await?;
    Ok(ListBody::from_page(page, DeliveryView::from))
}

/// `POST /api/webhook-endpoints/{id}/test`: queues a `webhook.test` event to this endpoint
/// (one attempt, no retries), at most [`TESTS_PER_WINDOW`] per endpoint per 15 minutes.
pub async fn test(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    Ok(ApiResponse::json(
        StatusCode::ACCEPTED,
        &send_test_event(s, &c, id).await?,
    ))
}

/// Queues a `webhook.test` event to an endpoint (see [`test`]): the delivery.
pub async fn send_test_event(s: &Services, c: &Caller, id: &str) -> Result<DeliveryView> {
    let e = load(s, &c.tenant_id, id).await?;
    if !e.active {
        return Err(Error::Conflict(
            "the endpoint is not active; re-enable it first (PUT {\"active\": true})".into(),
        ));
    }
    limit_tests(s, &e).await?;
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
    Ok(DeliveryView::from(d))
}

/// Counts a test event against the endpoint's budget; `429 rate_limited` past it.
async fn limit_tests(s: &Services, e: &WebhookEndpoint) -> Result<()> {
    let now = s.clock.now().unix_timestamp();
    let window = now - now.rem_euclid(TEST_WINDOW_SECONDS);
    // The endpoint's id is random and names no one: the counter's subject as it is.
    if s.store
        .count_attempt(
            "webhook-test",
            &e.id,
            window,
            window + 2 * TEST_WINDOW_SECONDS,
            TESTS_PER_WINDOW,
        )
        .await?
    {
        return Ok(());
    }
    Err(Error::RateLimited(format!(
        "At most {TESTS_PER_WINDOW} test events per endpoint every 15 minutes: send the next \
         one after {}",
        crate::time::format(
            time::OffsetDateTime::from_unix_timestamp(window + TEST_WINDOW_SECONDS)
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        )
    )))
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
    Ok(ApiResponse::json(
        StatusCode::ACCEPTED,
        &retry_delivery(s, &c, id, delivery_id).await?,
    ))
}

/// Queues one more attempt of a delivery (see [`retry`]): the delivery.
pub async fn retry_delivery(
    s: &Services,
    c: &Caller,
    id: &str,
    delivery_id: &str,
) -> Result<DeliveryView> {
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
    Ok(DeliveryView::from(d))
}
