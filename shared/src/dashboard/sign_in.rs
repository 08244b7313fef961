//! Signing in: a one-time link emailed to an address (no password is stored anywhere), or an
//! API token for headless setups; signing out; and the self-service sign-up the operator may
//! open (`KEYHOOK_DASHBOARD_SIGNUP=open`).
//!
//! A link request does the same work whatever the address: it counts the attempt, records the
//! request and queues its email ([`team::request_link`]); the mailer alone finds out whether
//! the address has accounts. One link per request, whatever the number of accounts: it opens a
//! page listing them, and the chosen account's "Sign in" button uses the link up
//! ([`link::DASHBOARD_SIGN_IN`]). Requests and attempts are rate-limited per address and per
//! email, with exact counters in DynamoDB (shared by every instance).

use http::{Method, StatusCode};
use minijinja::context;

use super::link::{Choice, LinkPage, DASHBOARD_SIGN_IN};
use super::public::{self, Limit};
use super::{session, team, web};
use crate::domain::member::{normalize_email, LinkReason};
use crate::http::auth::token_hash;
use crate::http::input::is_email;
use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result, Services};

const TRY_LATER: &str = "Too many sign-in attempts. Wait 15 minutes and try again.";
/// Link requests per email and per client address, in 15 minutes.
const LINKS_PER_EMAIL: Limit = Limit {
    scope: "link-email",
    max: 5,
    message: TRY_LATER,
};
const LINKS_PER_IP: Limit = Limit {
    scope: "link-ip",
    max: 30,
    message: TRY_LATER,
};
/// Sign-in attempts (opening or using links, API tokens) per client address, in 15 minutes.
pub const ATTEMPTS_PER_IP: Limit = Limit {
    scope: "sign-in-ip",
    max: 30,
    message: TRY_LATER,
};
const SIGNUPS_PER_IP: Limit = Limit {
    scope: "sign-up-ip",
    max: 5,
    message: TRY_LATER,
};

const LINK_EXPIRED: &str =
    "This sign-in link has expired or was already used. Enter your email to get a new one.";

/// `GET /dashboard/sign-in`.
pub async fn page(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    if session::current(s, req).await?.is_some() {
        return Ok(web::redirect("/dashboard"));
    }
    let notice = req.query_param("signed_out").map(|_| "You are signed out.");
    public::page(
        s,
        req,
        StatusCode::OK,
        "sign_in.html",
        context! { next => web::safe_next(req.query_param("next")), notice => notice },
    )
}

/// `POST /dashboard/sign-in`: `email` asks for a link; `token` signs in with an API token.
pub async fn submit(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let form = public::form(s, req)?;
    let next = web::safe_next(form.get("next"));
    if let Some(token) = form.get("token") {
        public::limit(s, ATTEMPTS_PER_IP, &public::client_ip(req)).await?;
        let hash = token_hash(token);
        return match s.store.token_by_hash(&hash).await? {
            Some(t) if token.len() <= 200 => {
                tracing::info!(tenant_id = %t.tenant_id, token_id = %t.id, "dashboard sign-in with an API token");
                session::start(s, &t.tenant_id, None, Some((&t.id, &hash)), &next).await
            }
            _ => public::page(
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
        return public::page(
            s,
            req,
            StatusCode::UNPROCESSABLE_ENTITY,
            "sign_in.html",
            context! { next => next, values => context! { email => email },
            errors => context! { email => "Enter the email address you were invited with." } },
        );
    }
    public::limit(s, LINKS_PER_IP, &public::client_ip(req)).await?;
    public::limit(s, LINKS_PER_EMAIL, &email).await?;
    team::request_link(s, &email, LinkReason::SignIn, None, None).await?;
    tracing::info!("dashboard sign-in link requested");
    public::page(
        s,
        req,
        StatusCode::OK,
        "sign_in.html",
        context! { sent_to => email, next => next },
    )
}

fn link_expired(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    public::page(
        s,
        req,
        StatusCode::BAD_REQUEST,
        "sign_in.html",
        context! { error => LINK_EXPIRED },
    )
}

/// `GET /dashboard/sign-in/link?token=`: the link's page, which changes nothing: the accounts
/// the address belongs to, each with a "Sign in" button that uses the link up.
pub async fn link_page(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let Some((token, link)) = DASHBOARD_SIGN_IN.peek(s, req).await? else {
        return link_expired(s, req);
    };
    let accounts = team::accounts(s, &link.subject).await?;
    if accounts.is_empty() {
        return public::page(
            s,
            req,
            StatusCode::FORBIDDEN,
            "sign_in.html",
            context! { error => format!("{} is not a member of any Keyhook account any more. Ask an owner of your team to invite you again.", link.subject) },
        );
    }
    let page = LinkPage {
        title: if accounts.len() == 1 {
            "Sign in to Keyhook".into()
        } else {
            "Choose an account".into()
        },
        intro: if accounts.len() == 1 {
            format!("Signing in as {}.", link.subject)
        } else {
            format!(
                "{} belongs to {} accounts. Sign in to one; the link then stops working.",
                link.subject,
                accounts.len()
            )
        },
        button: "Sign in".into(),
        choices: accounts
            .into_iter()
            .map(|(tenant, member)| Choice {
                value: tenant.id,
                label: tenant.name,
                detail: member.role.as_str().to_string(),
            })
            .collect(),
    };
    DASHBOARD_SIGN_IN.page(s, req, &token, &page)
}

/// `POST /dashboard/sign-in/link`: the link's "Sign in" button (its page's pre-session token
/// checked): uses the link up, starts a session in the chosen account and redirects to the
/// overview.
pub async fn use_link(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let form = public::form(s, req)?;
    let Some(link) = DASHBOARD_SIGN_IN.take(s, req, &form).await? else {
        return link_expired(s, req);
    };
    let tenant_id = form.get("choice").unwrap_or_default();
    let member = if tenant_id.is_empty() {
        None
    } else {
        s.store.get_member(tenant_id, &link.subject).await?
    };
    let Some(member) = member else {
        return public::page(
            s,
            req,
            StatusCode::FORBIDDEN,
            "sign_in.html",
            context! { error => format!("{} is not a member of that account. Enter your email to get a new link.", link.subject) },
        );
    };
    tracing::info!(tenant_id = %member.tenant_id, member_id = %member.id, "dashboard sign-in with a link");
    session::start(
        s,
        &member.tenant_id,
        Some(&member.email),
        None,
        "/dashboard",
    )
    .await
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
    public::page(s, req, StatusCode::OK, "sign_up.html", context! {})
}

/// `POST /dashboard/sign-up`: a new tenant whose owner is emailed a sign-in link.
pub async fn sign_up(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    signup_enabled(s)?;
    debug_assert_eq!(req.method, Method::POST);
    let form = public::form(s, req)?;
    let name = form.get("name").unwrap_or_default().to_string();
    let email = normalize_email(form.get("email").unwrap_or_default());
    let invalid = |errors: minijinja::Value| {
        public::page(
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
    public::limit(s, SIGNUPS_PER_IP, &public::client_ip(req)).await?;
    public::limit(s, LINKS_PER_EMAIL, &email).await?;
    team::create_tenant_with_owner(s, &name, &email).await?;
    public::page(
        s,
        req,
        StatusCode::OK,
        "sign_in.html",
        context! { sent_to => email },
    )
}
