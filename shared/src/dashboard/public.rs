//! Pages anyone may load (before sign-in): each carries a pre-session cookie that its form
//! echoes (double-submit), so another site cannot post them; and the rate limits that keep
//! these pages and emails cheap to offer, counted exactly across instances.

use http::{header, StatusCode};
use minijinja::context;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::form::Form;
use super::session::same_site;
use super::{render, web};
use crate::http::{ApiRequest, ApiResponse};
use crate::{ids, Error, Result, Services};

/// A rate limit: at most `max` attempts per subject in each 15-minute window of `scope`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub scope: &'static str,
    pub max: u32,
    /// What the page says past it.
    pub message: &'static str,
}

const WINDOW_SECONDS: i64 = 15 * 60;

/// Counts one attempt of `subject` against `limit`; `RateLimited` past it. One conditional
/// write in DynamoDB, whoever the subject is.
pub async fn limit(s: &Services, limit: Limit, subject: &str) -> Result<()> {
    let now = crate::time::now().unix_timestamp();
    let window = now - now.rem_euclid(WINDOW_SECONDS);
    let subject_hash = hex::encode(&Sha256::digest(subject.as_bytes())[..16]);
    if s.store
        .count_attempt(
            limit.scope,
            &subject_hash,
            window,
            window + 2 * WINDOW_SECONDS,
            limit.max,
        )
        .await?
    {
        Ok(())
    } else {
        Err(Error::RateLimited(limit.message.into()))
    }
}

/// The address a request came from, as a rate-limit subject.
pub fn client_ip(req: &ApiRequest) -> String {
    req.source_ip
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn pre_cookie_name(s: &Services) -> &'static str {
    if web::is_https(&s.config.public_base_url) {
        "__Host-kh_pre"
    } else {
        "kh_pre"
    }
}

/// The pre-session token of a request: its cookie's, or a new one.
pub fn pre_token(s: &Services, req: &ApiRequest) -> String {
    web::cookie(req, pre_cookie_name(s))
        .filter(|c| c.len() == 32 && c.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_else(|| ids::random_symbols(32))
}

/// A response that (re)sets the pre-session cookie to `pre`.
pub fn with_pre_cookie(s: &Services, res: ApiResponse, pre: &str) -> ApiResponse {
    res.with_header(
        header::SET_COOKIE,
        web::set_cookie(
            pre_cookie_name(s),
            pre,
            3600,
            web::is_https(&s.config.public_base_url),
        ),
    )
}

/// A page before sign-in, with its pre-session cookie (`pre` in the template).
pub fn page(
    s: &Services,
    req: &ApiRequest,
    status: StatusCode,
    template: &str,
    ctx: minijinja::Value,
) -> Result<ApiResponse> {
    let pre = pre_token(s, req);
    let body = render::page(
        s,
        template,
        None,
        context! { pre => pre, signup_open => s.config.dashboard_signup, ..ctx },
    )?;
    Ok(with_pre_cookie(s, web::html(status, body), &pre))
}

/// The form of a page before sign-in, its pre-session token checked: only a page of ours, in
/// this browser, can have posted it.
pub fn form(s: &Services, req: &ApiRequest) -> Result<Form> {
    same_site(req)?;
    let form = Form::parse(req)?;
    let cookie = web::cookie(req, pre_cookie_name(s)).unwrap_or_default();
    let sent = form.get("pre").unwrap_or_default();
    if cookie.is_empty() || !bool::from(cookie.as_bytes().ct_eq(sent.as_bytes())) {
        return Err(Error::Forbidden(
            "This form has expired. Reload the sign-in page and try again.".into(),
        ));
    }
    Ok(form)
}
