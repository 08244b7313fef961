//! The customer portal: server-rendered pages under `/portal/{tenantId}` where a merchant's
//! buyers sign in by a one-time emailed link, see their licenses of that merchant, reveal and
//! copy a key, free a device, download a license file, have their key emailed again, open
//! Stripe's billing portal for a subscription, and change their contact address.
//!
//! Built as the dashboard is (the same route table, `app::operations`, rows with the `Portal`
//! auth kind; the same pre-session forms, one-time links, rate limits, security headers and
//! script), and over the same typed cores: a page never writes a rule of its own; what a buyer
//! may do is decided in [`buyer`]. A buyer's session ([`session`]) is its own cookie, scoped to
//! `/portal/{tenantId}`, stored apart from dashboard sessions; it names one address of one
//! tenant, and every read checks that a license belongs to both ([`buyer::license_of`]).

pub mod buyer;
pub mod contact;
pub mod licenses;
pub mod mail;
pub mod render;
pub mod session;
pub mod sign_in;

use http::{Method, StatusCode};

use crate::dashboard::web;
use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Services};

pub use render::Brand;

/// The tenant id of a portal path (`/portal/{tenantId}/…`), as the path holds it.
pub fn tenant_of_path(path: &str) -> Option<&str> {
    path.strip_prefix("/portal/")?
        .split('/')
        .next()
        .filter(|t| !t.is_empty())
}

/// The page for an error of a portal route: not signed in -> the portal's sign-in page;
/// otherwise a short explanation with the error's status (nothing internal).
pub fn error_page(s: &Services, req: &ApiRequest, e: &Error) -> ApiResponse {
    let tenant_id = tenant_of_path(&req.path).unwrap_or_default().to_string();
    if matches!(e, Error::Unauthorized(_)) && req.method == Method::GET && !web::is_fragment(req) {
        // Back to this page after signing in (a license's page linked from an app's
        // "manage your devices"); "session ended" only for a browser that had one.
        let ended = if web::cookie(req, session::cookie_name(s)).is_some() {
            "&expired=1"
        } else {
            ""
        };
        return web::redirect(&format!(
            "/portal/{}?next={}{ended}",
            web::enc(&tenant_id),
            web::enc(&req.path)
        ));
    }
    if e.is_retryable() {
        tracing::error!(code = e.code(), error = %e, "portal request failed");
    }
    let (title, message) = match e {
        Error::Unauthorized(_) => (
            "Signed out",
            "Your session has ended. Sign in again to continue.".to_string(),
        ),
        Error::Forbidden(m) => ("Not available", m.clone()),
        Error::NotFound(_) => (
            "Not found",
            "This page does not exist, or it is not yours.".to_string(),
        ),
        Error::RateLimited(m) => ("Too many attempts", m.clone()),
        Error::Conflict(m) | Error::ConflictCode { message: m, .. } => {
            ("Could not do that", m.clone())
        }
        Error::Validation { message, .. } | Error::ConflictAt { message, .. } => {
            ("Could not do that", message.clone())
        }
        Error::BadRequest { message, .. } => ("Could not do that", message.clone()),
        _ => (
            "Something went wrong",
            "This request could not be finished. Nothing was lost; try again in a moment."
                .to_string(),
        ),
    };
    let status = if matches!(e, Error::Validation { .. }) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        e.status()
    };
    let brand = Brand::plain(&tenant_id);
    render::page(
        s,
        &brand,
        None,
        status,
        "error.html",
        minijinja::context! { title => title, message => message },
    )
    .unwrap_or_else(|_| web::html(status, message))
}

/// Messages shown after a form post redirected back (`?notice=`): fixed texts, so a link can
/// never make a page say something else.
pub(crate) fn notice(req: &ApiRequest) -> Option<&'static str> {
    Some(match req.query_param("notice")? {
        "device_freed" => "Device freed: you can activate the app on another computer now.",
        "key_sent" => "Your key is on its way to your inbox.",
        "contact_sent" => {
            "We sent a confirmation link to the new address. Your address changes once you open it."
        }
        "contact_changed" => "Your address is changed.",
        "signed_out" => "You are signed out.",
        _ => return None,
    })
}
