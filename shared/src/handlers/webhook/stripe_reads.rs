//! What the webhook reads from Stripe's API, with the app's secret key, when an event does not
//! carry it: a session's line items with their products, products of invoice lines, a
//! subscription, the session of a payment intent, a charge. Any failure is an infrastructure
//! error (5xx: Stripe retries the event), never a half-done issuance.

use serde_json::Value;

use crate::crypto::Secret;
use crate::domain::StripeApp;
use crate::services::app_secrets::{self, AppSecret};
use crate::stripe::client::Form;
use crate::stripe::event::StripeObject;
use crate::stripe::metadata::{self, MetadataError, ProductRequest};
use crate::stripe::objects::LineItem;
use crate::{Error, Result, Services};

/// The app's secret key, if it has one that opens.
pub async fn secret_key(s: &Services, app: &StripeApp) -> Result<Option<Secret>> {
    app_secrets::open(s, app, AppSecret::SecretKey).await
}

fn list_data(v: &Value) -> Vec<Value> {
    v["data"].as_array().cloned().unwrap_or_default()
}

/// Lukittu requests from a Checkout Session's line items (products expanded).
pub async fn session_line_requests(
    s: &Services,
    secret: &Secret,
    session_id: &str,
) -> Result<Result<Vec<ProductRequest>, MetadataError>> {
    let items = s
        .stripe
        .get(
            secret,
            &format!("checkout/sessions/{session_id}/line_items"),
            &Form::new()
                .set("limit", 100)
                .set("expand[]", "data.price.product"),
        )
        .await
        .map_err(Error::from_stripe_read)?;
    let mut requests = Vec::new();
    for (group, item) in list_data(&items).iter().enumerate() {
        let line = LineItem(StripeObject(item));
        if let Some(md) = line.product_metadata() {
            match metadata::lukittu_line(md, line.quantity(), group) {
                Ok(r) => requests.extend(r),
                Err(e) => return Ok(Err(e)),
            }
        }
    }
    Ok(Ok(requests))
}

/// Lukittu requests from invoice lines: each line's Stripe Product is fetched for its metadata.
pub async fn invoice_line_requests(
    s: &Services,
    secret: &Secret,
    lines: &[Value],
) -> Result<Result<Vec<ProductRequest>, MetadataError>> {
    let mut requests = Vec::new();
    for (group, line) in lines.iter().enumerate() {
        let l = StripeObject(line);
        let product = l
            .id("price.product")
            .or_else(|| l.id("pricing.price_details.product"))
            .or_else(|| l.id("plan.product"));
        let Some(product_id) = product else { continue };
        let product = s
            .stripe
            .get(secret, &format!("products/{product_id}"), &Form::new())
            .await
            .map_err(Error::from_stripe_read)?;
        let quantity = crate::stripe::objects::line_quantity(l.at("quantity"));
        if let Some(md) = product["metadata"].as_object() {
            match metadata::lukittu_line(md, quantity, group) {
                Ok(r) => requests.extend(r),
                Err(e) => return Ok(Err(e)),
            }
        }
    }
    Ok(Ok(requests))
}

pub async fn subscription(s: &Services, secret: &Secret, id: &str) -> Result<Value> {
    s.stripe
        .get(secret, &format!("subscriptions/{id}"), &Form::new())
        .await
        .map_err(Error::from_stripe_read)
}

pub async fn invoice(s: &Services, secret: &Secret, id: &str) -> Result<Value> {
    s.stripe
        .get(secret, &format!("invoices/{id}"), &Form::new())
        .await
        .map_err(Error::from_stripe_read)
}

/// The Checkout Session that created a payment intent, if any.
pub async fn session_of_intent(
    s: &Services,
    secret: &Secret,
    payment_intent: &str,
) -> Result<Option<Value>> {
    let list = s
        .stripe
        .get(
            secret,
            "checkout/sessions",
            &Form::new()
                .set("payment_intent", payment_intent)
                .set("limit", 1),
        )
        .await
        .map_err(Error::from_stripe_read)?;
    Ok(list_data(&list).into_iter().next())
}

pub async fn charge(s: &Services, secret: &Secret, id: &str) -> Result<Value> {
    s.stripe
        .get(secret, &format!("charges/{id}"), &Form::new())
        .await
        .map_err(Error::from_stripe_read)
}
