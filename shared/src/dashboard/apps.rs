//! Stripe apps and events (`/dashboard/apps`): the apps with their Status, the webhook URL and
//! the events to select in Stripe, diagnostics, subscription price mappings, currencies, the
//! event log, and one event's page (what it issued, its emails).

use http::StatusCode;
use minijinja::context;
use serde_json::{json, Value};

use super::api::{enc, items, Api};
use super::form::{errors_of, form_status, Form, Kind};
use super::licenses::without_key;
use super::session::{self, Signed};
use super::{notice, render, show, web};
use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result, Services};

/// The events to select on Stripe's webhook endpoint, grouped by what they are for: exactly
/// the types the webhook handler acts on.
pub const STRIPE_EVENTS: &[(&str, &[&str])] = &[
    (
        "Every integration",
        &[
            "checkout.session.completed",
            "payment_intent.succeeded",
            "invoice.paid",
        ],
    ),
    (
        "Subscriptions",
        &[
            "customer.subscription.created",
            "customer.subscription.updated",
            "customer.subscription.deleted",
        ],
    ),
    (
        "Refunds and disputes",
        &["charge.refunded", "charge.dispute.created"],
    ),
    (
        "Delayed payment methods (bank debits)",
        &[
            "checkout.session.async_payment_succeeded",
            "checkout.session.async_payment_failed",
        ],
    ),
];

const APP_FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Text),
    ("publishableKey", Kind::Text),
    ("secretKey", Kind::Secret),
    ("webhookSigningSecret", Kind::Secret),
    ("previousWebhookSigningSecret", Kind::Secret),
    ("defaultCurrency", Kind::Text),
    ("isLive", Kind::Bool),
    ("active", Kind::Bool),
    ("isDefault", Kind::Bool),
];
const SECRETS: &[&str] = &[
    "secretKey",
    "webhookSigningSecret",
    "previousWebhookSigningSecret",
];

/// `GET /dashboard/apps` (`?status=&type=&cursor=` filter the event log).
pub async fn list(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    let api = Api::new(s, &me, req);
    let mut events_query = String::from("/api/stripe/events?limit=25");
    for p in ["status", "type", "cursor"] {
        if let Some(v) = req.query_param(p) {
            events_query.push_str(&format!("&{p}={}", enc(v)));
        }
    }
    let (apps, diagnostics, mappings, products, currencies) = futures::try_join!(
        api.get("/api/stripe/apps?limit=200"),
        api.get("/api/stripe/diagnostics"),
        api.get("/api/stripe/price-mappings?limit=200"),
        api.get("/api/products?limit=200"),
        api.get("/api/currencies?limit=200"),
    )?;
    // A bad filter is the filter's error, shown at the filter, not a broken page.
    let (events, events_error) = match api.get(&events_query).await {
        Ok(e) => (e, None),
        Err(e @ Error::Validation { .. }) => (json!({"items": []}), errors_of(&e)),
        Err(e) => return Err(e),
    };
    let currencies = items(&currencies);
    show(
        s,
        &me,
        "apps.html",
        StatusCode::OK,
        context! {
            title => "Stripe apps and events",
            nav => "apps",
            notice => notice(req),
            apps => items(&apps),
            diagnostics => diagnostics["items"],
            mappings => items(&mappings),
            products => items(&products),
            active_currencies => currencies.iter().filter(|c| c["isActive"] == true).map(|c| c["code"].clone()).collect::<Vec<_>>(),
            inactive_currencies => currencies.iter().filter(|c| c["isActive"] != true).map(|c| c["code"].clone()).collect::<Vec<_>>(),
            events => items(&events),
            next_cursor => events["nextCursor"],
            filter => context! { status => req.query_param("status"), type => req.query_param("type") },
            events_errors => events_error,
            shared_url => format!("{}/api/stripe/webhook", s.config.public_base_url),
            team_url => format!("{}/api/stripe/webhook?teamId={}", s.config.public_base_url, me.tenant_id),
            stripe_events => STRIPE_EVENTS,
        },
    )
}

async fn currencies(api: &Api<'_>) -> Result<Vec<Value>> {
    Ok(
        items(&api.get("/api/currencies?active=true&limit=200").await?)
            .into_iter()
            .map(|c| c["code"].clone())
            .collect(),
    )
}

async fn form_page(
    s: &Services,
    req: &ApiRequest,
    me: &Signed,
    app: Option<Value>,
    values: Value,
    errors: Option<Value>,
) -> Result<ApiResponse> {
    let api = Api::new(s, me, req);
    let status = form_status(&errors);
    show(
        s,
        me,
        "app_form.html",
        status,
        context! {
            title => if app.is_some() { "Edit Stripe app" } else { "Add a Stripe app" },
            nav => "apps",
            app => app,
            values => values,
            errors => errors,
            currencies => currencies(&api).await?,
            shared_url => format!("{}/api/stripe/webhook", s.config.public_base_url),
            stripe_events => STRIPE_EVENTS,
        },
    )
}

/// `GET /dashboard/apps/new`.
pub async fn new(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    me.must_edit()?;
    let values = json!({"defaultCurrency": "usd", "active": "on", "isDefault": "on"});
    form_page(s, req, &me, None, values, None).await
}

/// `POST /dashboard/apps`.
pub async fn create(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_edit()?;
    let api = Api::new(s, &me, req);
    let result = match form.body(APP_FIELDS) {
        Ok(body) => api.post("/api/stripe/apps", body).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(app) => Ok(web::redirect(&format!(
            "/dashboard/apps/{}?notice=app_saved",
            app["id"].as_str().unwrap_or_default()
        ))),
        Err(e) => match errors_of(&e) {
            Some(errors) => form_page(s, req, &me, None, form.echo(SECRETS), Some(errors)).await,
            None => Err(e),
        },
    }
}

/// `GET /dashboard/apps/{appId}`.
pub async fn edit(s: &Services, req: &ApiRequest, app_id: &str) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    let api = Api::new(s, &me, req);
    let app = api
        .get(&format!("/api/stripe/apps/{}", enc(app_id)))
        .await?;
    let values = app_values(&app);
    let mut res = form_page(s, req, &me, Some(app), values, None).await?;
    if let Some(n) = notice(req) {
        // The saved app's page says so above the form.
        let body = String::from_utf8_lossy(&res.body).replace(
            "<!--notice-->",
            &format!("<p class=\"notice\" role=\"status\">{n}</p>"),
        );
        res.body = body.into();
    }
    Ok(res)
}

fn app_values(app: &Value) -> Value {
    let on = |b: &Value| if b == true { json!("on") } else { Value::Null };
    json!({
        "name": app["name"], "publishableKey": app["publishableKey"],
        "defaultCurrency": app["defaultCurrency"],
        "isLive": on(&app["isLive"]), "active": on(&app["active"]), "isDefault": on(&app["isDefault"]),
    })
}

/// `POST /dashboard/apps/{appId}`: `action=save` or `delete`.
pub async fn update(s: &Services, req: &ApiRequest, app_id: &str) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_edit()?;
    let api = Api::new(s, &me, req);
    let path = format!("/api/stripe/apps/{}", enc(app_id));
    if form.action() == "delete" {
        api.delete(&path).await?;
        return Ok(web::redirect("/dashboard/apps?notice=app_deleted"));
    }
    let result = match form.body(APP_FIELDS) {
        Ok(body) => api.put(&path, body).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(web::redirect(&format!(
            "/dashboard/apps/{}?notice=app_saved",
            enc(app_id)
        ))),
        Err(e) => match errors_of(&e) {
            Some(errors) => {
                let app = api.get(&path).await?;
                form_page(s, req, &me, Some(app), form.echo(SECRETS), Some(errors)).await
            }
            None => Err(e),
        },
    }
}

/// Form posts of the apps page that either work (back to the page) or fail with an error the
/// page shows.
async fn apps_post(
    s: &Services,
    req: &ApiRequest,
    op: impl AsyncFnOnce(&Api<'_>, &Form) -> Result<&'static str>,
) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_edit()?;
    let api = Api::new(s, &me, req);
    let anchor = op(&api, &form).await?;
    Ok(web::redirect(&format!("/dashboard/apps?{anchor}")))
}

/// `POST /dashboard/price-mappings`.
pub async fn create_price_mapping(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    apps_post(s, req, async |api, form| {
        let body = form.body(&[
            ("appId", Kind::Text),
            ("productId", Kind::Text),
            ("stripePriceId", Kind::Text),
            ("displayName", Kind::Text),
            ("displayPrice", Kind::Text),
        ])?;
        api.post("/api/stripe/price-mappings", body).await?;
        Ok("notice=mapping_saved#price-mappings")
    })
    .await
}

/// `POST /dashboard/price-mappings/{id}` (`action=delete`).
pub async fn delete_price_mapping(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    apps_post(s, req, async |api, _| {
        api.delete(&format!("/api/stripe/price-mappings/{}", enc(id)))
            .await?;
        Ok("notice=mapping_deleted#price-mappings")
    })
    .await
}

/// `POST /dashboard/currencies`: adds a code.
pub async fn create_currency(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    apps_post(s, req, async |api, form| {
        let body = form.body(&[("code", Kind::Text), ("zeroDecimal", Kind::Bool)])?;
        api.post("/api/currencies", body).await?;
        Ok("notice=currency_saved#currencies")
    })
    .await
}

/// `POST /dashboard/currencies/{code}`: `action=activate` or `deactivate` (the apps page's
/// form posts to `/dashboard/currencies/toggle` with the code as a field).
pub async fn update_currency(s: &Services, req: &ApiRequest, code: &str) -> Result<ApiResponse> {
    apps_post(s, req, async |api, form| {
        let code = match (code, form.get("code")) {
            ("toggle", Some(picked)) => picked,
            _ => code,
        };
        let active = form.action() == "activate";
        api.put(
            &format!("/api/currencies/{}", enc(code)),
            json!({"isActive": active}),
        )
        .await?;
        Ok("notice=currency_saved#currencies")
    })
    .await
}

/// `GET /dashboard/events/{eventId}`: the event, its app, the licenses it issued and their
/// email status. While something is still moving (the event not processed, an email pending)
/// the page refreshes its details by itself.
pub async fn event(s: &Services, req: &ApiRequest, event_id: &str) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    let api = Api::new(s, &me, req);
    let event = api
        .get(&format!("/api/stripe/events/{}", enc(event_id)))
        .await?;
    let app = api
        .get(&format!(
            "/api/stripe/apps/{}",
            enc(event["appId"].as_str().unwrap_or_default())
        ))
        .await
        .ok();
    let mut licenses = Vec::new();
    for id in event["licenseIds"].as_array().cloned().unwrap_or_default() {
        let l = api
            .get(&format!(
                "/api/licenses/{}",
                enc(id.as_str().unwrap_or_default())
            ))
            .await?;
        licenses.push(without_key(l));
    }
    let settled =
        event["status"] != "received" && licenses.iter().all(|l| l["emailStatus"] != "pending");
    let test_purchase = req.query_param("test").is_some();
    let ctx = context! {
        title => if test_purchase { "Test purchase" } else { "Stripe event" },
        nav => if test_purchase { "test" } else { "apps" },
        event => event,
        app => app,
        licenses => licenses,
        settled => settled,
        test_purchase => test_purchase,
    };
    if web::is_fragment(req) {
        return Ok(web::html(
            StatusCode::OK,
            render::fragment("event_fragment.html", Some(&me), ctx)?,
        ));
    }
    show(s, &me, "event.html", StatusCode::OK, ctx)
}
