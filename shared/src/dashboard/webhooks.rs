//! Outgoing webhooks (`/dashboard/webhooks`): the tenant's endpoints (add, edit, pause,
//! delete), the event types each is sent, its signing secret (on the answer that created or
//! rolled it only), and its delivery log with status, latency, attempts and the next attempt;
//! a delivery can be retried and a test event sent. Every read and change is the admin API's
//! (`/api/webhook-endpoints`), through its cores in `handlers::admin::webhook_endpoints`. The
//! settings form carries the endpoint's `version`, so a save decided on a page opened before
//! the endpoint changed (the sender disabled it, say) changes nothing and shows the endpoint
//! as it is now.

use std::collections::BTreeMap;

use http::StatusCode;
use minijinja::context;
use serde_json::{Map, Value};

use super::form::{self, errors_of, form_status, Form, Kind};
use super::session::{self, Signed};
use super::web::enc;
use super::{notice, show, web};
use crate::domain::webhooks::{EventType, ALL_EVENTS};
use crate::handlers::admin::webhook_endpoints::{
    self as core, DeliveryQuery, EndpointInput, EndpointUpdate, EndpointView, CREATE_REQUIRED,
};
use crate::http::input::ListQuery;
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
                    EventType::LicenseLeaseLimitReached => {
                        "every floating seat of a license is in use"
                    }
                    EventType::LicenseUsageLimitReached => {
                        "a license used its limit of a usage meter"
                    }
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
            body[f] = Value::from("");
        }
    }
    let types = form.all("eventTypes");
    body["eventTypes"] = if types.contains(&ALL_EVENTS) {
        Value::from(vec![ALL_EVENTS])
    } else {
        Value::from(types)
    };
    if editing {
        body["active"] = Value::Bool(form.checked("active"));
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

/// The endpoint form's values: an endpoint's settings, or a failed form as typed.
#[derive(Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Values {
    url: Option<String>,
    description: Option<String>,
    alert_email: Option<String>,
    /// The event types ticked.
    checked: BTreeMap<String, bool>,
    /// The `active` checkbox: `on` when ticked.
    active: Option<&'static str>,
    /// The endpoint's version the form was opened on (its hidden field).
    version: Option<String>,
}

/// `on` for a ticked checkbox.
fn ticked(on: bool) -> Option<&'static str> {
    on.then_some("on")
}

fn checked<'a>(types: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, bool> {
    types.into_iter().map(|t| (t.to_string(), true)).collect()
}

/// The form's values from an endpoint.
fn values_of(endpoint: &EndpointView) -> Values {
    Values {
        url: Some(endpoint.url.clone()),
        description: endpoint.description.clone(),
        alert_email: endpoint.alert_email.clone(),
        checked: checked(endpoint.event_types.iter().map(String::as_str)),
        active: ticked(endpoint.active),
        version: Some(endpoint.version.to_string()),
    }
}

/// A failed form's values, as typed.
fn echo(form: &Form) -> Values {
    let typed = |name: &str| form.raw(name).map(str::to_string);
    Values {
        url: typed("url"),
        description: typed("description"),
        alert_email: typed("alertEmail"),
        checked: checked(form.all("eventTypes")),
        active: ticked(form.checked("active")),
        version: typed("version"),
    }
}

/// `GET /dashboard/webhooks` (and the create form's answers).
async fn list_page(
    s: &Services,
    req: &ApiRequest,
    me: &Signed,
    values: Values,
    errors: Option<Value>,
) -> Result<ApiResponse> {
    let endpoints = core::list_webhook_endpoints(s, &me.caller(), ListQuery::first(100)).await?;
    show(
        s,
        me,
        "webhooks.html",
        form_status(&errors),
        context! {
            title => "Outgoing webhooks",
            nav => "webhooks",
            notice => notice(req),
            endpoints => endpoints.items,
            events => event_choices(),
            values => values,
            errors => errors,
        },
    )
}

/// `GET /dashboard/webhooks`.
pub async fn list(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    let values = Values {
        checked: checked([ALL_EVENTS]),
        ..Values::default()
    };
    list_page(s, req, &me, values, None).await
}

/// `POST /dashboard/webhooks`: the answer is the new endpoint's page, with its secret shown
/// this once.
pub async fn create(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_edit()?;
    let result = async {
        let input: EndpointInput = form::input(body(&form, false)?, CREATE_REQUIRED)?;
        core::create_webhook_endpoint(s, &me.caller(), input).await
    }
    .await;
    match result {
        Ok(created) => {
            endpoint_page(
                s,
                req,
                &me,
                &created.id,
                Shown {
                    new_secret: created.secret,
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
    failed: Option<(Values, Value)>,
    /// The form failed because the endpoint changed since the page was opened: its state
    /// (`active`) and `version` are shown as they are now, the other fields as typed.
    changed: bool,
}

/// An endpoint's state in words, for the "changed meanwhile" message.
fn state_now(endpoint: &EndpointView) -> String {
    if endpoint.disabled_at.is_some() {
        match &endpoint.disabled_reason {
            Some(why) => format!("it is now disabled: {why}"),
            None => "it is now disabled".into(),
        }
    } else if endpoint.active {
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
    let c = me.caller();
    let filter = req
        .query_param("status")
        .filter(|v| ["pending", "succeeded", "failed"].contains(v));
    let log = DeliveryQuery {
        page: ListQuery {
            limit: 25,
            cursor: req.query_param("cursor").map(str::to_string),
        },
        status: filter.map(DeliveryQuery::status).transpose()?,
    };
    let (endpoint, deliveries) = futures::try_join!(
        core::get_webhook_endpoint(s, &c, id),
        core::list_deliveries(s, &c, id, log)
    )?;
    let (values, errors) = match shown.failed {
        Some((mut values, mut errors)) => {
            if shown.changed {
                let now = values_of(&endpoint);
                values.active = now.active;
                values.version = now.version;
                errors["_"] = Value::String(format!(
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
            deliveries => deliveries.items,
            next_cursor => deliveries.next_cursor,
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
    let c = me.caller();
    let here = |notice: &str| {
        Ok(web::redirect(&format!(
            "/dashboard/webhooks/{}?notice={notice}",
            enc(id)
        )))
    };
    match form.action() {
        "delete" => {
            core::delete_webhook_endpoint(s, &c, id).await?;
            Ok(web::redirect("/dashboard/webhooks?notice=endpoint_deleted"))
        }
        "test" => {
            core::send_test_event(s, &c, id).await?;
            Ok(web::redirect(&format!(
                "/dashboard/webhooks/{}?notice=test_queued#deliveries",
                enc(id)
            )))
        }
        "roll" => {
            let rolled = core::roll_webhook_secret(s, &c, id).await?;
            endpoint_page(
                s,
                req,
                &me,
                id,
                Shown {
                    new_secret: rolled.secret,
                    ..Shown::default()
                },
                StatusCode::OK,
            )
            .await
        }
        _ => {
            let result = async {
                let input: EndpointUpdate = form::input(body(&form, true)?, &[])?;
                core::update_webhook_endpoint(s, &c, id, input).await
            }
            .await;
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
    core::retry_delivery(s, &me.caller(), id, delivery_id).await?;
    Ok(web::redirect(&format!(
        "/dashboard/webhooks/{}?notice=delivery_retried#deliveries",
        enc(id)
    )))
}
