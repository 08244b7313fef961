//! Test Purchase (`/dashboard/test-purchase`): a realistic `checkout.session.completed` (built
//! from Stripe's own example, `stripe::test_events`), signed with the chosen app's stored
//! signing secret and posted through the real webhook path — the same dispatcher and handler
//! Stripe's deliveries reach, signature check included. The merchant then watches the event's
//! page: the log entry, the licenses it issued and their emails, as they change.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use minijinja::context;
use serde_json::{json, Value};

use super::api::{items, Api};
use super::form::{errors_of, form_status, Form};
use super::session::{self, Signed};
use super::{show, web};
use crate::http::input::is_email;
use crate::http::{dispatch_for_dashboard, ApiRequest, ApiResponse};
use crate::services::app_secrets::{self, AppSecret};
use crate::stripe::test_events::{checkout_completed, sign_event, CheckoutOptions};
use crate::{Error, Result, Services};

async fn page_with(
    s: &Services,
    req: &ApiRequest,
    me: &Signed,
    values: Value,
    errors: Option<Value>,
) -> Result<ApiResponse> {
    let api = Api::new(s, me, req);
    let (apps, products) = futures::try_join!(
        api.get("/api/stripe/apps?limit=200"),
        api.get("/api/products?limit=200"),
    )?;
    let apps: Vec<Value> = items(&apps)
        .into_iter()
        .filter(|a| a["isLive"] == false && a["active"] == true)
        .collect();
    show(
        s,
        me,
        "test_purchase.html",
        form_status(&errors),
        context! {
            title => "Test purchase",
            nav => "test",
            apps => apps,
            products => items(&products).into_iter().filter(|p| p["archived"] != true).collect::<Vec<_>>(),
            values => values,
            errors => errors,
        },
    )
}

/// `GET /dashboard/test-purchase`.
pub async fn page(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    let email = me
        .email
        .clone()
        .unwrap_or_else(|| "buyer@example.com".into());
    page_with(
        s,
        req,
        &me,
        json!({"quantity": "1", "email": email, "name": "Test Buyer", "productId": req.query_param("productId")}),
        None,
    )
    .await
}

/// What the form asks for, checked.
fn order(form: &Form) -> Result<(String, CheckoutOptions)> {
    let app_id = form
        .get("appId")
        .ok_or_else(|| Error::validation("appId", "choose the Stripe app to send through"))?;
    let product_id = form
        .get("productId")
        .ok_or_else(|| Error::validation("productId", "choose a product"))?;
    let quantity = match form.get("quantity") {
        None => 1,
        Some(q) => q
            .parse::<u32>()
            .ok()
            .filter(|q| (1..=10).contains(q))
            .ok_or_else(|| Error::validation("quantity", "must be a whole number from 1 to 10"))?,
    };
    let email = form.get("email").unwrap_or_default().to_ascii_lowercase();
    if !is_email(&email) {
        return Err(Error::validation("email", "is not an email address"));
    }
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
            super::api::enc(&event_id)
        ))),
        Err(e) => match errors_of(&e) {
            Some(errors) => page_with(s, req, &me, form.echo(&[]), Some(errors)).await,
            None => Err(e),
        },
    }
}

/// Builds, signs and delivers the event; its id.
async fn send(s: &Services, req: &ApiRequest, me: &Signed, form: &Form) -> Result<String> {
    let (app_id, options) = order(form)?;
    let app = s
        .store
        .get_tenant_app(&me.tenant_id, &app_id)
        .await?
        .ok_or_else(|| Error::validation("appId", "no such Stripe app"))?;
    if app.is_live {
        return Err(Error::validation(
            "appId",
            "is a live app: test purchases are test-mode events, which a live app refuses",
        ));
    }
    let secret = app_secrets::open(s, &app, AppSecret::WebhookSecret)
        .await?
        .ok_or_else(|| {
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
    let delivery = ApiRequest {
        method: Method::POST,
        path: format!("/api/stripe/webhook/{}", app.id),
        query: Vec::new(),
        headers,
        body: Bytes::from(body),
        source_ip: req.source_ip,
        request_id: req.request_id.clone(),
    };
    let res = Box::pin(dispatch_for_dashboard(s, delivery)).await;
    let receipt: Value = serde_json::from_slice(&res.body).unwrap_or(Value::Null);
    if !res.status.is_success() {
        let e = super::api::error_from(res.status.as_u16(), &receipt["error"]);
        return Err(match e {
            Error::BadRequest { message, .. } => Error::validation("appId", message),
            other => other,
        });
    }
    tracing::info!(event_id = %receipt["eventId"], "test purchase delivered");
    Ok(event["id"].as_str().unwrap_or_default().to_string())
}
