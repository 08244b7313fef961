//! Test Purchase (`/dashboard/test-purchase`): a realistic `checkout.session.completed` (built
//! from Stripe's own example, `stripe::test_events`), signed with the chosen app's stored
//! signing secret and delivered to the app's own webhook URL's handler
//! (`handlers::webhook::receive`) as a request built like Stripe's, signature check included. The merchant then watches the event's
//! page: the log entry, the licenses it issued and their emails, as they change.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use minijinja::context;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::form::{form_status, Form, Refused};
use super::session::{self, Signed};
use super::web::enc;
use super::{show, web};
use crate::handlers::admin::{apps, products};
use crate::handlers::webhook;
use crate::http::input::{is_email, ListQuery};
use crate::http::{ApiRequest, ApiResponse};
use crate::stripe::test_events::{checkout_completed, sign_event, CheckoutOptions};
use crate::{Error, Result, Services};

/// The form's values when the page opens: the default test app and the newest product (or the
/// one the link names), the signed-in member as the buyer, so one click sends it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PurchaseValues<'a> {
    quantity: &'a str,
    email: String,
    name: &'a str,
    product_id: Option<&'a str>,
}

async fn page_with(
    s: &Services,
    me: &Signed,
    values: impl Serialize,
    errors: Option<Value>,
) -> Result<ApiResponse> {
    let c = me.caller();
    let (apps, products) = futures::try_join!(
        apps::list_apps(s, &c, ListQuery::first(200)),
        products::list_products(s, &c, ListQuery::first(200)),
    )?;
    // Test purchases are test-mode events: only active test apps take them.
    let apps: Vec<_> = apps
        .items
        .into_iter()
        .filter(|a| !a.is_live && a.active)
        .collect();
    let products: Vec<_> = products.items.into_iter().filter(|p| !p.archived).collect();
    let mut values = serde_json::to_value(values).map_err(|e| Error::internal(e.to_string()))?;
    if values["appId"].is_null() {
        let default = apps.iter().find(|a| a.is_default).or(apps.first());
        values["appId"] = default.map(|a| a.id.clone()).into();
    }
    if values["productId"].is_null() {
        // Timestamps are RFC 3339 in UTC: their text sorts as their time.
        let newest = products
            .iter()
            .max_by(|a, b| a.created_at.cmp(&b.created_at));
        values["productId"] = newest.map(|p| p.id.clone()).into();
    }
    show(
        s,
        me,
        "test_purchase.html",
        form_status(&errors),
        context! {
            title => "Test purchase",
            nav => "test",
            apps => apps,
            products => products,
            values => values,
            errors => errors,
        },
    )
}

/// `GET /dashboard/test-purchase` (`?productId=`: that product chosen).
pub async fn page(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    let email = me
        .email
        .clone()
        .unwrap_or_else(|| "buyer@example.com".into());
    page_with(
        s,
        &me,
        PurchaseValues {
            quantity: "1",
            email,
            name: "Test Buyer",
            product_id: req.query_param("productId"),
        },
        None,
    )
    .await
}

/// What the form asks for, checked: every field's error at once.
fn order(form: &Form) -> std::result::Result<(String, CheckoutOptions), Refused> {
    let mut errors = serde_json::Map::new();
    let mut refuse = |field: &str, message: &str| {
        errors.insert(field.to_string(), message.into());
    };
    let app_id = form.get("appId");
    if app_id.is_none() {
        refuse("appId", "choose the Stripe app to send through");
    }
    let product_id = form.get("productId");
    if product_id.is_none() {
        refuse("productId", "choose a product");
    }
    let quantity = match form.get("quantity") {
        None => Some(1),
        Some(q) => q.parse::<u32>().ok().filter(|q| (1..=10).contains(q)),
    };
    if quantity.is_none() {
        refuse("quantity", "must be a whole number from 1 to 10");
    }
    let email = form.get("email").unwrap_or_default().to_ascii_lowercase();
    if !is_email(&email) {
        refuse("email", "is not an email address");
    }
    let (Some(app_id), Some(product_id), Some(quantity), true) =
        (app_id, product_id, quantity, errors.is_empty())
    else {
        return Err(Refused::Fields(errors));
    };
    Ok((
        app_id.to_string(),
        CheckoutOptions {
            product_id: product_id.to_string(),
            quantity: Some(quantity),
            plan_id: form.get("planId").map(str::to_string),
            email: Some(email),
            name: form.get("name").map(str::to_string),
            livemode: false,
        },
    ))
}

/// `POST /dashboard/test-purchase`.
pub async fn run(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_edit()?;
    match send(s, req, &me, &form).await {
        Ok(event_id) => Ok(web::redirect(&format!(
            "/dashboard/events/{}?test=1",
            enc(&event_id)
        ))),
        Err(refused) => {
            let errors = refused.errors()?;
            page_with(s, &me, form.echo(&[]), Some(errors)).await
        }
    }
}

/// What the webhook answers a delivery (its receipt), as far as the page needs it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Delivered {
    event_id: String,
}

/// Builds, signs and delivers the event; its id.
async fn send(
    s: &Services,
    req: &ApiRequest,
    me: &Signed,
    form: &Form,
) -> std::result::Result<String, Refused> {
    let (app_id, options) = order(form)?;
    let app = apps::event_signer(s, &me.caller(), &app_id)
        .await?
        .ok_or_else(|| Error::validation("appId", "no such Stripe app"))?;
    if app.is_live {
        return Err(Refused::from(Error::validation(
            "appId",
            "is a live app: test purchases are test-mode events, which a live app refuses",
        )));
    }
    let secret = app.webhook_secret.ok_or_else(|| {
        Error::validation(
            "appId",
            "has no webhook signing secret yet (its Status is not Ready): add it on the app's page",
        )
    })?;
    let event = checkout_completed(&options);
    let (body, signature) = sign_event(&event, secret.expose());
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert(
        "stripe-signature",
        HeaderValue::from_str(&signature).map_err(|e| Error::internal(e.to_string()))?,
    );
    // The request Stripe would send to the app's own webhook URL, to that URL's handler.
    let delivery = ApiRequest {
        method: Method::POST,
        path: format!("/api/stripe/webhook/{}", app.app_id),
        query: Vec::new(),
        headers,
        body: Bytes::from(body),
        source_ip: req.source_ip,
        request_id: req.request_id.clone(),
    };
    let res = Box::pin(webhook::receive_own(s, &delivery, &app.app_id))
        .await
        .map_err(|e| match e {
            // The delivery's refusal (a bad signature, a payload the app refuses) concerns the app.
            Error::BadRequest { message, .. } => Error::validation("appId", message),
            other => other,
        })?;
    let delivered: Delivered = serde_json::from_slice(&res.body)
        .map_err(|e| Error::internal(format!("the webhook's receipt: {e}")))?;
    tracing::info!(event_id = %delivered.event_id, "test purchase delivered");
    Ok(delivered.event_id)
}
