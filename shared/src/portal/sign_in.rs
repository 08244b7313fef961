//! Signing in to a merchant's portal: the branded page asks for an address, and the answer is
//! the same whether or not the address owns licenses (the request is recorded and queued
//! either way; only the mailer looks the address up, [`super::mail`]). The emailed link opens a
//! page whose button uses it up (a mail scanner following the link burns nothing), then the
//! session cookie is set and the buyer lands on their licenses. Requests and attempts are
//! rate-limited per address and per client address with the dashboard's exact counters.

use http::StatusCode;
use minijinja::context;
use time::Duration;

use super::render::{self, Brand};
use super::session;
use crate::dashboard::link::{LinkKind, LinkPage};
use crate::dashboard::public::{self, Limit};
use crate::dashboard::web;
use crate::domain::member::{normalize_email, LinkReason, SignInRequest};
use crate::domain::Tenant;
use crate::http::input::is_email;
use crate::http::{ApiRequest, ApiResponse};
use crate::mail::PortalSignInMail;
use crate::{ids, Result, Services};

const TRY_LATER: &str = "Too many sign-in attempts. Wait 15 minutes and try again.";
/// Link requests per address and per client address, in 15 minutes.
const LINKS_PER_EMAIL: Limit = Limit {
    scope: "portal-link-email",
    max: 5,
    message: TRY_LATER,
};
const LINKS_PER_IP: Limit = Limit {
    scope: "portal-link-ip",
    max: 30,
    message: TRY_LATER,
};
/// Opening or using links, per client address, in 15 minutes.
const ATTEMPTS_PER_IP: Limit = Limit {
    scope: "portal-sign-in-ip",
    max: 30,
    message: TRY_LATER,
};

/// A buyer's sign-in to one tenant's portal. The link's subject is `{tenantId} {email}`: a
/// link opens only the portal it was sent for.
pub const PORTAL_SIGN_IN: LinkKind = LinkKind {
    purpose: "portal",
    path: "/portal/{tenantId}/link",
    lifetime: Duration::minutes(15),
    attempts: ATTEMPTS_PER_IP,
};

/// How long a request record is kept for the mailer.
const REQUEST_TTL: Duration = Duration::days(1);

/// The link's subject for a buyer of a tenant.
pub fn subject(tenant_id: &str, email: &str) -> String {
    format!("{tenant_id} {email}")
}

/// The URL the email carries.
pub fn link_url(s: &Services, tenant_id: &str, token: &str) -> String {
    format!(
        "{}/portal/{}/link?token={token}",
        s.config.public_base_url,
        web::enc(tenant_id)
    )
}

const LINK_EXPIRED: &str =
    "This sign-in link has expired or was already used. Enter your email to get a new one.";

/// A page before sign-in, with its pre-session token.
fn public_page(
    s: &Services,
    req: &ApiRequest,
    tenant: &Tenant,
    status: StatusCode,
    name: &str,
    ctx: minijinja::Value,
) -> Result<ApiResponse> {
    let pre = public::pre_token(s, req);
    let res = render::page(
        s,
        &Brand::of(tenant),
        None,
        status,
        name,
        context! { pre => pre, ..ctx },
    )?;
    Ok(public::with_pre_cookie(s, res, &pre))
}

/// `GET /portal/{tenantId}`: the sign-in page (the licenses, when already signed in).
pub async fn page(s: &Services, req: &ApiRequest, tenant_id: &str) -> Result<ApiResponse> {
    let (tenant, buyer) = session::load(s, req, tenant_id).await?;
    if buyer.is_some() {
        return Ok(web::redirect(&format!(
            "/portal/{}/licenses",
            web::enc(&tenant.id)
        )));
    }
    let message = if req.query_param("expired").is_some() {
        Some("Your session has ended. Sign in again to continue.")
    } else {
        super::notice(req)
    };
    let page = public_page(
        s,
        req,
        &tenant,
        StatusCode::OK,
        "sign_in.html",
        context! { title => "Sign in", notice => message },
    )?;
    // The page they were sent to, for after signing in (the emailed link opens in this
    // browser, usually).
    Ok(
        match session::safe_next(&tenant.id, req.query_param("next")) {
            Some(next) => page.with_header(
                http::header::SET_COOKIE,
                session::remember_next(s, &tenant.id, Some(&next)),
            ),
            None => page,
        },
    )
}

/// `POST /portal/{tenantId}/sign-in`: records the request and queues its email, whatever the
/// address; always the same answer.
pub async fn submit(s: &Services, req: &ApiRequest, tenant_id: &str) -> Result<ApiResponse> {
    let form = public::form(s, req)?;
    let (tenant, _) = session::load(s, req, tenant_id).await?;
    let email = normalize_email(form.get("email").unwrap_or_default());
    if !is_email(&email) || email.len() > 254 {
        return public_page(
            s,
            req,
            &tenant,
            StatusCode::UNPROCESSABLE_ENTITY,
            "sign_in.html",
            context! { title => "Sign in", values => context! { email => email },
            errors => context! { email => "Enter the email address you bought with." } },
        );
    }
    public::limit(s, LINKS_PER_IP, &public::client_ip(req)).await?;
    public::limit(s, LINKS_PER_EMAIL, &subject(&tenant.id, &email)).await?;
    let now = crate::time::now();
    let request = SignInRequest {
        id: ids::new_id("psr"),
        email: email.clone(),
        reason: LinkReason::SignIn,
        tenant_id: Some(tenant.id.clone()),
        invited_by: None,
        created_at: now,
        sent_at: None,
        ttl: (now + REQUEST_TTL).unix_timestamp(),
    };
    s.store.put_sign_in_request(&request).await?;
    s.outbox
        .enqueue_message(&PortalSignInMail {
            sign_in_request: request.id,
        })
        .await?;
    tracing::info!(tenant_id = %tenant.id, "portal sign-in link requested");
    public_page(
        s,
        req,
        &tenant,
        StatusCode::OK,
        "sign_in.html",
        context! { title => "Check your inbox", sent_to => email },
    )
}

fn link_expired(s: &Services, req: &ApiRequest, tenant: &Tenant) -> Result<ApiResponse> {
    public_page(
        s,
        req,
        tenant,
        StatusCode::BAD_REQUEST,
        "sign_in.html",
        context! { title => "Sign in", error => LINK_EXPIRED },
    )
}

/// `GET /portal/{tenantId}/link?token=`: the link's page, which changes nothing: one button
/// that uses the link up.
pub async fn link_page(s: &Services, req: &ApiRequest, tenant_id: &str) -> Result<ApiResponse> {
    let (tenant, _) = session::load(s, req, tenant_id).await?;
    let Some((token, link)) = PORTAL_SIGN_IN.peek(s, req).await? else {
        return link_expired(s, req, &tenant);
    };
    let Some(email) = link
        .subject
        .strip_prefix(&format!("{} ", tenant.id))
        .map(str::to_string)
    else {
        return link_expired(s, req, &tenant);
    };
    let page = LinkPage {
        title: "Sign in".into(),
        intro: format!("Signing in as {email}."),
        button: "Sign in".into(),
        choices: Vec::new(),
    };
    public_page(
        s,
        req,
        &tenant,
        StatusCode::OK,
        "link.html",
        context! { title => "Sign in", link => page, token => token },
    )
}

/// `POST /portal/{tenantId}/link`: the link page's button (its pre-session token checked):
/// uses the link up and starts the buyer's session.
pub async fn use_link(s: &Services, req: &ApiRequest, tenant_id: &str) -> Result<ApiResponse> {
    let form = public::form(s, req)?;
    let (tenant, _) = session::load(s, req, tenant_id).await?;
    let Some(link) = PORTAL_SIGN_IN.take(s, req, &form).await? else {
        return link_expired(s, req, &tenant);
    };
    let Some(email) = link.subject.strip_prefix(&format!("{} ", tenant.id)) else {
        return link_expired(s, req, &tenant);
    };
    tracing::info!(tenant_id = %tenant.id, "portal sign-in with a link");
    let next = session::remembered_next(req, &tenant.id);
    session::start(s, &tenant.id, email, next.as_deref(), None).await
}

/// `POST /portal/{tenantId}/sign-out`.
pub async fn sign_out(s: &Services, req: &ApiRequest, tenant_id: &str) -> Result<ApiResponse> {
    let (_, buyer, _) = session::post(s, req, tenant_id).await?;
    session::end(s, &buyer).await
}
