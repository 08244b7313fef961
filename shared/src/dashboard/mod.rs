//! The merchant dashboard: server-rendered pages under `/dashboard`, served by the admin
//! function from the same route table as the API (its rows: `app::operations`, `pages`).
//!
//! The pages are another edge over the admin API, not a second implementation of it: every
//! read and write a page makes is a call of the admin API's typed operations
//! (`handlers::admin::*`) as the signed-in member (`Signed::caller()`), so validation, rules
//! and tenant isolation are exactly the API's.
//! What lives here is only what a browser needs: pages before sign-in ([`public`]), sign-in by
//! one-time emailed link ([`link`], [`sign_in`]) or an API token, sessions in DynamoDB with
//! CSRF tokens ([`session`]), team members and roles ([`team`]), forms read into the operations' typed inputs through the API's own checks, errors shown at their field ([`form`]),
//! templates ([`render`]) and a small script for progressive enhancement (`assets/`).

pub mod apps;
pub mod assets;
pub mod form;
pub mod import;
pub mod integrate;
pub mod licenses;
pub mod link;
pub mod mail;
pub mod overview;
pub mod payment_links;
pub mod products;
pub mod public;
pub mod render;
pub mod session;
pub mod settings;
pub mod sign_in;
pub mod team;
pub mod test_purchase;
pub mod web;
pub mod webhooks;

use http::{Method, StatusCode};

use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result, Services};

/// The page for an error: sign-in for a missing session (back here afterwards), otherwise a
/// short explanation with the error's status. Server errors say nothing internal. Every
/// dashboard route answers its errors so (`app::operations`, the pages' dispatch).
pub fn error_page(s: &Services, req: &ApiRequest, e: &Error) -> ApiResponse {
    if matches!(e, Error::Unauthorized(_)) && req.method == Method::GET && !web::is_fragment(req) {
        return web::redirect(&format!(
            "/dashboard/sign-in?next={}",
            url::form_urlencoded::byte_serialize(req.path.as_bytes()).collect::<String>()
        ));
    }
    if e.is_retryable() {
        tracing::error!(code = e.code(), error = %e, "dashboard request failed");
    }
    let (title, message) = match e {
        Error::Unauthorized(_) => (
            "Signed out",
            "Your session has ended. Sign in again to continue.".to_string(),
        ),
        Error::Forbidden(m) => ("Not allowed", m.clone()),
        Error::NotFound(_) => (
            "Not found",
            "This page does not exist, or it belongs to another account.".to_string(),
        ),
        Error::RateLimited(m) => ("Too many attempts", m.clone()),
        Error::Conflict(m) => ("Could not do that", m.clone()),
        Error::Validation {
            message,
            field: Some(f),
        }
        | Error::ConflictAt { message, field: f } => {
            ("Could not do that", format!("{f} {message}"))
        }
        Error::Validation { message, field } => (
            "Could not do that",
            match field {
                Some(f) => format!("{f} {message}"),
                None => message.clone(),
            },
        ),
        Error::BadRequest { message, .. } => ("Could not do that", message.clone()),
        _ => (
            "Something went wrong",
            "Keyhook could not finish this request. Nothing was lost; try again in a moment."
                .to_string(),
        ),
    };
    let status = if matches!(e, Error::Validation { .. }) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        e.status()
    };
    let body = render::page(
        s,
        "error.html",
        None,
        minijinja::context! { title => title, message => message, status => status.as_u16() },
    )
    .unwrap_or_else(|_| message.clone());
    web::html(status, body)
}

/// A signed-in page.
pub(crate) fn show(
    s: &Services,
    me: &session::Signed,
    template: &str,
    status: StatusCode,
    ctx: minijinja::Value,
) -> Result<ApiResponse> {
    Ok(web::html(status, render::page(s, template, Some(me), ctx)?))
}

/// The step a page offers after a save, as its main button (a new merchant's way through:
/// app → product → test purchase).
#[derive(Debug, serde::Serialize)]
pub(crate) struct NextStep {
    pub label: &'static str,
    pub href: String,
}

/// Messages shown after a form post redirected back (`?notice=`): fixed texts, so a link can
/// never make a page say something else.
pub(crate) fn notice(req: &ApiRequest) -> Option<&'static str> {
    Some(match req.query_param("notice")? {
        "app_saved" => "Stripe app saved.",
        "app_repaired" => "Webhook endpoint repaired in Stripe; the app was checked again.",
        "app_checked" => "Checked with Stripe just now.",
        "app_deleted" => "Stripe app deleted.",
        "mapping_saved" => "Price mapping saved.",
        "mapping_deleted" => "Price mapping deleted.",
        "currency_saved" => "Currency saved.",
        "product_saved" => "Product saved.",
        "product_deleted" => "Product deleted.",
        "plan_saved" => "Plan saved.",
        "plan_deleted" => "Plan deleted.",
        "payment_link_made" => "Payment link ready: share its URL.",
        "license_issued" => "License issued.",
        "license_saved" => "License saved.",
        "license_suspended" => "License suspended: it no longer validates.",
        "license_reinstated" => "License reinstated.",
        "license_revoked" => "License revoked for good.",
        "email_queued" => "The email is on its way (status: pending).",
        "device_freed" => "Device deactivated.",
        "seat_released" => "Seat released.",
        "key_created" => "Tenant key generated. Activate it to seal new secrets under it.",
        "key_activated" => "Tenant key activated; every secret is re-sealed under it.",
        "token_revoked" => "API token revoked.",
        "member_invited" => "Invitation sent.",
        "member_saved" => "Member's role changed.",
        "member_removed" => "Member removed.",
        "member_removed_tokens_revoked" => {
            "Member removed; the API tokens they answered for are revoked."
        }
        "member_removed_tokens_handed_over" => {
            "Member removed; you now answer for the API tokens they created."
        }
        "signing_key_created" => {
            "Signing key created: it is published now; activate it once your apps know it."
        }
        "signing_key_activated" => {
            "Signing key activated: answers and license files are signed with it from now on."
        }
        "portal_saved" => "Customer portal settings saved.",
        "endpoint_saved" => "Webhook endpoint saved.",
        "endpoint_deleted" => "Webhook endpoint deleted.",
        "test_queued" => "Test event queued: it appears below in a moment.",
        "delivery_retried" => "Delivery queued for another attempt now.",
        _ => return None,
    })
}
