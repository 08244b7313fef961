//! Signing in: a one-time link emailed to a member (no password is stored anywhere), or an API
//! token for headless setups; signing out; and the self-service sign-up the operator may open
//! (`KEYHOOK_DASHBOARD_SIGNUP=open`).
//!
//! Link requests and sign-in attempts are rate-limited per address and per email, with exact
//! counters in DynamoDB (shared by every instance). The answer to a link request is the same
//! whether or not the email has an account. Pages before sign-in carry a pre-session cookie
//! echoed in their form (double-submit), so another site cannot post them.

use http::{header, Method, StatusCode};
use minijinja::context;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::form::Form;
use super::session::{self, same_site};
use super::{render, team, web};
use crate::domain::member::normalize_email;
use crate::http::auth::token_hash;
use crate::http::input::is_email;
use crate::http::ApiRequest;
use crate::http::ApiResponse;
use crate::{ids, Error, Result, Services};

/// Rate limits: (scope, attempts per 15-minute window).
const LINKS_PER_EMAIL: (&str, u32) = ("link-email", 5);
const LINKS_PER_IP: (&str, u32) = ("link-ip", 30);
const ATTEMPTS_PER_IP: (&str, u32) = ("sign-in-ip", 30);
const SIGNUPS_PER_IP: (&str, u32) = ("sign-up-ip", 5);
const WINDOW_SECONDS: i64 = 15 * 60;

/// Counts one attempt against a limit; `RateLimited` past it.
async fn limit(s: &Services, (scope, max): (&str, u32), subject: &str) -> Result<()> {
    let now = crate::time::now().unix_timestamp();
    let window = now - now.rem_euclid(WINDOW_SECONDS);
    let subject_hash = hex::encode(&Sha256::digest(subject.as_bytes())[..16]);
    if s.store
        .count_attempt(
            scope,
            &subject_hash,
            window,
            window + 2 * WINDOW_SECONDS,
            max,
        )
        .await?
    {
        Ok(())
    } else {
        Err(Error::RateLimited(
            "Too many sign-in attempts. Wait 15 minutes and try again.".into(),
        ))
    }
}

fn client_ip(req: &ApiRequest) -> String {
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

/// A page before sign-in, with its pre-session cookie.
fn public_page(
    s: &Services,
    req: &ApiRequest,
    status: StatusCode,
    template: &str,
    ctx: minijinja::Value,
) -> Result<ApiResponse> {
    let pre = web::cookie(req, pre_cookie_name(s))
        .filter(|c| c.len() == 32)
        .unwrap_or_else(|| ids::random_symbols(32));
    let body = render::page(
        s,
        template,
        None,
        context! { pre => pre, signup_open => s.config.dashboard_signup, ..ctx },
    )?;
    Ok(web::html(status, body).with_header(
        header::SET_COOKIE,
        web::set_cookie(
            pre_cookie_name(s),
            &pre,
            3600,
            web::is_https(&s.config.public_base_url),
        ),
    ))
}

/// The form of a page before sign-in, its pre-session token checked.
fn public_form(s: &Services, req: &ApiRequest) -> Result<Form> {
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

/// `GET /dashboard/sign-in`.
pub async fn page(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    if session::current(s, req).await?.is_some() {
        return Ok(web::redirect("/dashboard"));
    }
    let notice = req.query_param("signed_out").map(|_| "You are signed out.");
    public_page(
        s,
        req,
        StatusCode::OK,
        "sign_in.html",
        context! { next => req.query_param("next"), notice => notice },
    )
}

/// `POST /dashboard/sign-in`: `email` asks for a link; `token` signs in with an API token.
pub async fn submit(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let form = public_form(s, req)?;
    let next = web::safe_next(form.get("next"));
    if let Some(token) = form.get("token") {
        limit(s, ATTEMPTS_PER_IP, &client_ip(req)).await?;
        let hash = token_hash(token);
        return match s.store.token_by_hash(&hash).await? {
            Some(t) if token.len() <= 200 => {
                tracing::info!(tenant_id = %t.tenant_id, token_id = %t.id, "dashboard sign-in with an API token");
                session::start(s, &t.tenant_id, None, Some((&t.id, &hash)), &next).await
            }
            _ => public_page(
                s,
                req,
                StatusCode::UNPROCESSABLE_ENTITY,
                "sign_in.html",
                context! { next => next, with_token => true,
                errors => context! { token => "This API token is not valid (revoked, or mistyped)." } },
            ),
        };
    }
    let email = normalize_email(form.get("email").unwrap_or_default());
    if !is_email(&email) {
        return public_page(
            s,
            req,
            StatusCode::UNPROCESSABLE_ENTITY,
            "sign_in.html",
            context! { next => next, values => context! { email => email },
            errors => context! { email => "Enter the email address you were invited with." } },
        );
    }
    limit(s, LINKS_PER_IP, &client_ip(req)).await?;
    limit(s, LINKS_PER_EMAIL, &email).await?;
    let memberships = s.store.memberships(&email).await?;
    for m in memberships.iter().take(5) {
        team::send_link(s, &m.tenant_id, &m.email, "sign_in", None).await?;
    }
    tracing::info!(
        accounts = memberships.len(),
        "dashboard sign-in link requested"
    );
    public_page(
        s,
        req,
        StatusCode::OK,
        "sign_in.html",
        context! { sent_to => email, next => next },
    )
}

/// `GET /dashboard/sign-in/link?token=`: uses the link up, starts a session and redirects to
/// the overview, so the token leaves the address bar at once.
pub async fn use_link(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    limit(s, ATTEMPTS_PER_IP, &client_ip(req)).await?;
    let token = req.query_param("token").unwrap_or_default();
    let link = if token.is_empty() || token.len() > 100 {
        None
    } else {
        s.store.take_sign_in_link(&token_hash(token)).await?
    };
    let member = match &link {
        Some(l) => s.store.get_member(&l.tenant_id, &l.email).await?,
        None => None,
    };
    match (link, member) {
        (Some(l), Some(m)) => {
            tracing::info!(tenant_id = %l.tenant_id, member_id = %m.id, "dashboard sign-in with a link");
            session::start(s, &l.tenant_id, Some(&m.email), None, "/dashboard").await
        }
        _ => public_page(
            s,
            req,
            StatusCode::BAD_REQUEST,
            "sign_in.html",
            context! { error => "This sign-in link has expired or was already used. Enter your email to get a new one." },
        ),
    }
}

/// `POST /dashboard/sign-out`.
pub async fn sign_out(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let (me, _) = session::post(s, req).await?;
    session::end(s, &me).await
}

fn signup_enabled(s: &Services) -> Result<()> {
    if s.config.dashboard_signup {
        Ok(())
    } else {
        Err(Error::not_found("Sign-up"))
    }
}

/// `GET /dashboard/sign-up` (only when the operator opened sign-up).
pub async fn sign_up_page(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    signup_enabled(s)?;
    public_page(s, req, StatusCode::OK, "sign_up.html", context! {})
}

/// `POST /dashboard/sign-up`: a new tenant whose owner is emailed a sign-in link.
pub async fn sign_up(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    signup_enabled(s)?;
    debug_assert_eq!(req.method, Method::POST);
    let form = public_form(s, req)?;
    let name = form.get("name").unwrap_or_default().to_string();
    let email = normalize_email(form.get("email").unwrap_or_default());
    let invalid = |errors: minijinja::Value| {
        public_page(
            s,
            req,
            StatusCode::UNPROCESSABLE_ENTITY,
            "sign_up.html",
            context! { errors => errors, values => context! { name => name, email => email } },
        )
    };
    if name.is_empty() || name.chars().count() > 200 {
        return invalid(context! { name => "Enter your company's name (up to 200 characters)." });
    }
    if !is_email(&email) {
        return invalid(context! { email => "Enter a valid email address." });
    }
    limit(s, SIGNUPS_PER_IP, &client_ip(req)).await?;
    limit(s, LINKS_PER_EMAIL, &email).await?;
    team::create_tenant_with_owner(s, &name, &email).await?;
    public_page(
        s,
        req,
        StatusCode::OK,
        "sign_in.html",
        context! { sent_to => email },
    )
}
