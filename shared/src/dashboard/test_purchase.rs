//! Test Purchase (`/dashboard/test-purchase`): a realistic `checkout.session.completed` (built
//! from Stripe's own example, `stripe::test_events`), signed with the chosen app's stored
//! signing secret and posted to the app's own webhook URL on Keyhook's public address, as
//! Stripe posts it: the webhook verifies, records and processes it. The merchant then watches
//! the event's page: the log entry, the licenses it issued and their emails, as they change.

use minijinja::context;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::form::{form_status, Form, Refused};
use super::session::{self, Signed};
use super::web::enc;
use super::{show, web};
use crate::handlers::admin::{apps, products};
use crate::http::input::{is_email, ListQuery};
use crate::http::{ApiRequest, ApiResponse};
use crate::stripe::test_events::{
    checkout_completed, delivery, keyhook_event_id, sign_event, CheckoutOptions,
};
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
    match send(s, &me, &form).await {
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

/// What the webhook answers a refused delivery, as far as the page needs it.
#[derive(Debug, Deserialize)]
struct Refusal {
    error: RefusalError,
}

#[derive(Debug, Deserialize)]
struct RefusalError {
    message: String,
}

/// The HTTP client that posts test purchases to Keyhook's own webhook URL (built once; no
/// redirects: the webhook answers, it does not send elsewhere). 10 s, inside the pages
/// function's 15 s, so a slow delivery is the page's clear error, not a function timeout.
fn poster() -> Result<&'static reqwest::Client> {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    if let Some(c) = CLIENT.get() {
        return Ok(c);
    }
    let client = crate::http::outbound::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| Error::internal(format!("the test purchase's HTTP client: {e}")))?;
    Ok(CLIENT.get_or_init(|| client))
}

/// Builds, signs and posts the event to the app's own webhook URL on Keyhook's public address,
/// exactly as Stripe would: the webhook function verifies, records and processes it (so the
/// pages function does not carry the webhook's processing). Its id is Keyhook's own
/// (`test_events::keyhook_event_id`), so the webhook does not take it for Stripe reaching the
/// app. Returns the event's id.
async fn send(s: &Services, me: &Signed, form: &Form) -> std::result::Result<String, Refused> {
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
    let mut event = checkout_completed(&options);
    event["id"] = keyhook_event_id().into();
    let (body, signature) = sign_event(&event, secret.expose());
    let url = format!(
        "{}/api/stripe/webhook/{}",
        s.config.public_base_url,
        enc(&app.app_id)
    );
    let res = delivery(poster()?, &url, body, &signature)
        .send()
        .await
        .map_err(|e| {
            Error::validation(
                "appId",
                format!("could not be reached at its webhook URL {url} ({e}): try again"),
            )
        })?;
    let status = res.status();
    let answer = res.bytes().await.unwrap_or_default();
    if status.is_success() {
        let delivered: Delivered = serde_json::from_slice(&answer)
            .map_err(|e| Error::internal(format!("the webhook's receipt: {e}")))?;
        tracing::info!(event_id = %delivered.event_id, "test purchase delivered");
        return Ok(delivered.event_id);
    }
    // The delivery's refusal (a bad signature, a payload the app refuses) concerns the app.
    let reason = serde_json::from_slice::<Refusal>(&answer)
        .map(|r| r.error.message)
        .unwrap_or_else(|_| format!("the webhook answered {status}"));
    Err(Refused::from(Error::validation(
        "appId",
        if status.is_server_error() {
            format!("was not delivered: {reason}; try again")
        } else {
            reason
        },
    )))
}
