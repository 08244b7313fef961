//! Outgoing webhooks (`/dashboard/webhooks`): the tenant's endpoints (add, edit, pause,
//! delete), the event types each is sent, its signing secret (on the answer that created or
//! rolled it only), and its delivery log with status, latency, attempts and the next attempt;
//! a delivery can be retried and a test event sent. Every change is the admin API's
//! (`/api/webhook-endpoints`), called in-process. The settings form carries the endpoint's
//! `version`, so a save decided on a page opened before the endpoint changed (the sender
//! disabled it, say) changes nothing and shows the endpoint as it is now.

use http::StatusCode;
use minijinja::context;
use serde_json::{json, Map, Value};

use super::api::{enc, items, Api};
use super::form::{errors_of, form_status, Form, Kind};
use super::session::{self, Signed};
use super::{notice, show, web};
use crate::domain::webhooks::{EventType, ALL_EVENTS};
use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result, Services};

/// The event types an endpoint can be sent, for the checkboxes: `(type, what it means)`.
fn event_choices() -> Vec<(&'static str, &'static str)> {
    EventType::SUBSCRIBABLE
        .iter()
        .map(|t| {
            (
                t.as_str(),
                match t {
                    EventType::LicenseCreated => "a license is issued",
                    EventType::LicenseRenewed => "a subscription period is paid",
                    EventType::LicenseSuspended => "a license is suspended",
                    EventType::LicenseReinstated => "a license is reinstated",
                    EventType::LicenseRevoked => "a license is revoked",
                    EventType::LicenseExpired => "a license expires",
                    EventType::LicenseActivated => "a device is activated",
                    EventType::LicenseDeactivated => "a device is deactivated",
                    EventType::TrialStarted => "a trial starts",
                    EventType::PurchaseFailed => "a Stripe event can never issue",
                    EventType::EmailFailed => "a license email cannot be sent",
                    EventType::WebhookTest => "a test event",
                },
            )
        })
        .collect()
}

/// The API body of the endpoint form. The event types are checkboxes (`eventTypes`, repeated):
/// "all" wins; none checked is sent as none, for the API to refuse at the field. An update
/// (`editing`) also sends `active` and the `version` the page was showing.
fn body(form: &Form, editing: bool) -> Result<Value> {
    let mut body = form.body(&[
        ("url", Kind::Text),
        ("description", Kind::Text),
        ("alertEmail", Kind::Text),
    ])?;
    // Emptied optional fields are sent empty: the API removes them.
    for f in ["description", "alertEmail"] {
        if body.get(f).is_none() {
            body[f] = json!("");
        }
    }
    let types = form.all("eventTypes");
    body["eventTypes"] = if types.contains(&ALL_EVENTS) {
        json!([ALL_EVENTS])
    } else {
        json!(types)
    };
    if editing {
        body["active"] = json!(form.checked("active"));
        if let Some(version) = form.body(&[("version", Kind::Number)])?.get("version") {
            body["version"] = version.clone();
        }
    }
    Ok(body)
}

/// An API error as form errors; `eventTypes[3]` is shown at the checkboxes.
fn form_errors(e: &Error) -> Option<Value> {
    let mut errors = errors_of(e)?;
    if let Some(m) = errors.as_object_mut() {
        let moved: Map<String, Value> = std::mem::take(m)
            .into_iter()
            .map(|(k, v)| {
                let k = if k.starts_with("eventTypes[") {
                    "eventTypes".to_string()
                } else {
                    k
                };
                (k, v)
            })
            .collect();
        *m = moved;
    }
    Some(errors)
}

/// The form's values from an endpoint (or a failed form): the checked types as a map.
fn values_of(endpoint: &Value) -> Value {
    let mut v = endpoint.clone();
    let checked: Map<String, Value> = endpoint["eventTypes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|t| (t.to_string(), json!(true)))
                .collect()
        })
        .unwrap_or_default();
    v["checked"] = Value::Object(checked);
    v["active"] = if endpoint["active"] == true {
        json!("on")
    } else {
        Value::Null
    };
    v
}

fn echo(form: &Form) -> Value {
    let mut v = form.echo(&[]);
    v["eventTypes"] = json!(form.all("eventTypes"));
    let active = form.checked("active");
    let mut v = values_of(&v);
    v["active"] = if active { json!("on") } else { Value::Null };
    v
}

/// `GET /dashboard/webhooks` (and the create form's answers).
async fn list_page(
    s: &Services,
    req: &ApiRequest,
    me: &Signed,
    values: Value,
    errors: Option<Value>,
) -> Result<ApiResponse> {
    let api = Api::new(s, me, req);
    let endpoints = api.get("/api/webhook-endpoints?limit=100").await?;
    show(
        s,
        me,
        "webhooks.html",
        form_status(&errors),
        context! {
            title => "Outgoing webhooks",
            nav => "webhooks",
            notice => notice(req),
            endpoints => items(&endpoints),
            events => event_choices(),
            values => values,
            errors => errors,
        },
    )
}

/// `GET /dashboard/webhooks`.
pub async fn list(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    list_page(
        s,
        req,
        &me,
        values_of(&json!({"eventTypes": [ALL_EVENTS]})),
        None,
    )
    .await
}

/// `POST /dashboard/webhooks`: the answer is the new endpoint's page, with its secret shown
/// this once.
pub async fn create(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_edit()?;
    let api = Api::new(s, &me, req);
    let result = match body(&form, false) {
        Ok(b) => api.post("/api/webhook-endpoints", b).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(created) => {
            let id = created["id"].as_str().unwrap_or_default().to_string();
            let secret = created["secret"].as_str().map(str::to_string);
            endpoint_page(
                s,
                req,
                &me,
                &id,
                Shown {
                    new_secret: secret,
                    created: true,
                    ..Shown::default()
                },
                StatusCode::CREATED,
            )
            .await
        }
        Err(e) => match form_errors(&e) {
            Some(errors) => list_page(s, req, &me, echo(&form), Some(errors)).await,
            None => Err(e),
        },
    }
}

/// What an endpoint's page shows besides the endpoint itself.
#[derive(Default)]
struct Shown {
    /// The secret, on the answer that created or rolled it.
    new_secret: Option<String>,
    created: bool,
    /// A failed form, as typed, and its errors.
    failed: Option<(Value, Value)>,
    /// The form failed because the endpoint changed since the page was opened: its state
    /// (`active`) and `version` are shown as they are now, the other fields as typed.
    changed: bool,
}

/// An endpoint's state in words, for the "changed meanwhile" message.
fn state_now(endpoint: &Value) -> String {
    if endpoint["disabledAt"].is_string() {
        match endpoint["disabledReason"].as_str() {
            Some(why) => format!("it is now disabled: {why}"),
            None => "it is now disabled".into(),
        }
    } else if endpoint["active"] == true {
        "it is now active".into()
    } else {
        "it is now paused".into()
    }
}

/// One endpoint's page: its form, state and deliveries (`?status=` filters, `?cursor=` pages).
async fn endpoint_page(
    s: &Services,
    req: &ApiRequest,
    me: &Signed,
    id: &str,
    shown: Shown,
    status: StatusCode,
) -> Result<ApiResponse> {
    let api = Api::new(s, me, req);
    let path = format!("/api/webhook-endpoints/{}", enc(id));
    let filter = req
        .query_param("status")
        .filter(|v| ["pending", "succeeded", "failed"].contains(v));
    let mut log = format!("{path}/deliveries?limit=25");
    if let Some(f) = filter {
        log.push_str(&format!("&status={f}"));
    }
    if let Some(c) = req.query_param("cursor") {
        log.push_str(&format!("&cursor={}", enc(c)));
    }
    let (endpoint, deliveries) = futures::try_join!(api.get(&path), api.get(&log))?;
    let (values, errors) = match shown.failed {
        Some((mut values, mut errors)) => {
            if shown.changed {
                let now = values_of(&endpoint);
                values["active"] = now["active"].clone();
                values["version"] = now["version"].clone();
                errors["_"] = json!(format!(
                    "Not saved: this endpoint changed since you opened the page ({}). Its state \
                     below is as it is now, your other changes are kept: save again to apply them.",
                    state_now(&endpoint)
                ));
            }
            (values, Some(errors))
        }
        None => (values_of(&endpoint), None),
    };
    show(
        s,
        me,
        "webhook.html",
        status,
        context! {
            title => "Webhook endpoint",
            nav => "webhooks",
            notice => notice(req),
            values => values,
            errors => errors,
            endpoint => endpoint,
            events => event_choices(),
            deliveries => items(&deliveries),
            next_cursor => deliveries["nextCursor"].as_str(),
            filter => filter,
            new_secret => shown.new_secret,
            created => shown.created,
        },
    )
}

/// `GET /dashboard/webhooks/{endpointId}`.
pub async fn edit(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    endpoint_page(s, req, &me, id, Shown::default(), StatusCode::OK).await
}

/// `POST /dashboard/webhooks/{endpointId}`: `action` = `save`, `test` (queue a test event),
/// `roll` (a new secret, shown on the answer; the previous one signs too for 24 hours) or
/// `delete`.
pub async fn update(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_edit()?;
    let api = Api::new(s, &me, req);
    let path = format!("/api/webhook-endpoints/{}", enc(id));
    let here = |notice: &str| {
        Ok(web::redirect(&format!(
            "/dashboard/webhooks/{}?notice={notice}",
            enc(id)
        )))
    };
    match form.action() {
        "delete" => {
            api.delete(&path).await?;
            Ok(web::redirect("/dashboard/webhooks?notice=endpoint_deleted"))
        }
        "test" => {
            api.post(&format!("{path}/test"), json!({})).await?;
            Ok(web::redirect(&format!(
                "/dashboard/webhooks/{}?notice=test_queued#deliveries",
                enc(id)
            )))
        }
        "roll" => {
            let rolled = api.post(&format!("{path}/roll-secret"), json!({})).await?;
            let secret = rolled["secret"].as_str().map(str::to_string);
            endpoint_page(
                s,
                req,
                &me,
                id,
                Shown {
                    new_secret: secret,
                    ..Shown::default()
                },
                StatusCode::OK,
            )
            .await
        }
        _ => {
            let result = match body(&form, true) {
                Ok(b) => api.put(&path, b).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(_) => here("endpoint_saved"),
                Err(e) => match form_errors(&e) {
                    Some(errors) => {
                        let changed = matches!(e, Error::Conflict(_));
                        endpoint_page(
                            s,
                            req,
                            &me,
                            id,
                            Shown {
                                failed: Some((echo(&form), errors)),
                                changed,
                                ..Shown::default()
                            },
                            if changed {
                                StatusCode::CONFLICT
                            } else {
                                StatusCode::UNPROCESSABLE_ENTITY
                            },
                        )
                        .await
                    }
                    None => Err(e),
                },
            }
        }
    }
}

/// `POST /dashboard/webhooks/{endpointId}/deliveries/{deliveryId}`: one more attempt now.
pub async fn retry(
    s: &Services,
    req: &ApiRequest,
    id: &str,
    delivery_id: &str,
) -> Result<ApiResponse> {
    let (me, _) = session::post(s, req).await?;
    me.must_edit()?;
    Api::new(s, &me, req)
        .post(
            &format!(
                "/api/webhook-endpoints/{}/deliveries/{}/retry",
                enc(id),
                enc(delivery_id)
            ),
            json!({}),
        )
        .await?;
    Ok(web::redirect(&format!(
        "/dashboard/webhooks/{}?notice=delivery_retried#deliveries",
        enc(id)
    )))
}
