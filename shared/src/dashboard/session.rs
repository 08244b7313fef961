//! Sessions: an HttpOnly cookie naming a session record in DynamoDB (stored under the cookie's
//! SHA-256, with a TTL). Every request re-reads the session, then the member (or API token)
//! behind it together with its tenant (one `BatchGetItem`), so sign-out, a removed member, a
//! changed role, a revoked token or a deleted tenant take effect at once. Every state-changing
//! request carries the session's CSRF token in its form.

use http::header;
use http::Method;
use subtle::ConstantTimeEq;
use time::Duration;

use super::form::Form;
use super::web;
use crate::domain::member::{Role, Session};
use crate::domain::tenant::Principal;
use crate::http::auth::{token_hash, Caller};
use crate::http::{ApiRequest, ApiResponse};
use crate::store::members::SessionHolder;
use crate::{ids, Error, Result, Services};

/// How long a session lasts (absolute; sign in again afterwards).
pub const SESSION_LIFETIME: Duration = Duration::hours(12);

/// The session cookie's name (`__Host-` prefixed over HTTPS: bound to this host, Secure,
/// Path=/).
pub fn cookie_name(s: &Services) -> &'static str {
    if web::is_https(&s.config.public_base_url) {
        "__Host-kh_session"
    } else {
        "kh_session"
    }
}

/// The signed-in member (or API token) of a request.
#[derive(Debug, Clone)]
pub struct Signed {
    pub tenant_id: String,
    pub tenant_name: String,
    pub role: Role,
    /// The member's email; `None` for an API-token session.
    pub email: Option<String>,
    /// How the header names who is signed in.
    pub who: String,
    pub csrf: String,
    /// Who the session acts for: the member, or whoever answers for its API token.
    pub principal: Option<Principal>,
    session_hash: String,
    token_id: String,
    source_ip: Option<std::net::IpAddr>,
}

impl Signed {
    /// The caller the admin handlers see for this session.
    pub fn caller(&self) -> Caller {
        Caller {
            tenant_id: self.tenant_id.clone(),
            token_id: self.token_id.clone(),
            principal: self.principal.clone(),
            source_ip: self.source_ip,
        }
    }

    /// Refuses a change to a viewer.
    pub fn must_edit(&self) -> Result<()> {
        if self.role.can_edit() {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "Your role ({}) can view this account but not change it. Ask an owner for the admin role.",
                self.role.as_str()
            )))
        }
    }

    pub fn must_manage_team(&self) -> Result<()> {
        if self.role.can_manage_team() {
            Ok(())
        } else {
            Err(Error::Forbidden(
                "Only owners can invite or remove team members.".into(),
            ))
        }
    }
}

/// Creates a session and the `Set-Cookie` that carries it, answering a redirect to `next`.
pub async fn start(
    s: &Services,
    tenant_id: &str,
    email: Option<&str>,
    token: Option<(&str, &str)>,
    next: &str,
) -> Result<ApiResponse> {
    let tenant = s
        .store
        .get_tenant(tenant_id)
        .await?
        .ok_or_else(|| Error::Unauthorized("the account no longer exists".into()))?;
    let id = format!("khs_{}", ids::random_symbols(40).to_ascii_lowercase());
    let now = crate::time::now();
    let expires_at = now + SESSION_LIFETIME;
    let session = Session {
        tenant_id: tenant.id.clone(),
        email: email.map(str::to_string),
        token_id: token.map(|(id, _)| id.to_string()),
        token_hash: token.map(|(_, hash)| hash.to_string()),
        tenant_name: tenant.name.clone(),
        csrf: ids::random_symbols(32),
        created_at: now,
        expires_at,
        ttl: expires_at.unix_timestamp(),
    };
    s.store.put_session(&token_hash(&id), &session).await?;
    Ok(web::redirect(next).with_header(
        header::SET_COOKIE,
        web::set_cookie(
            cookie_name(s),
            &id,
            SESSION_LIFETIME.whole_seconds(),
            web::is_https(&s.config.public_base_url),
        ),
    ))
}

/// The session of a request, if it is signed in: the session record, then the member (or the
/// API token) it stands for and its tenant — two strongly consistent reads (a `GetItem`, a
/// `BatchGetItem`).
pub async fn current(s: &Services, req: &ApiRequest) -> Result<Option<Signed>> {
    let Some(id) = web::cookie(req, cookie_name(s)) else {
        return Ok(None);
    };
    if id.len() > 100 {
        return Ok(None);
    }
    let hash = token_hash(&id);
    let Some(session) = s.store.get_session(&hash).await? else {
        return Ok(None);
    };
    let Some((holder, tenant)) = s.store.session_holder(&session).await? else {
        return Ok(None);
    };
    let (role, who, token_id, principal) = match holder {
        SessionHolder::Member(m) => (
            m.role,
            m.email.clone(),
            format!("member:{}", m.email),
            Some(Principal::Member { email: m.email }),
        ),
        SessionHolder::Token(t) if t.tenant_id == session.tenant_id => (
            Role::Admin,
            format!("API token {}…", t.prefix),
            t.id.clone(),
            t.answerable(),
        ),
        SessionHolder::Token(_) => return Ok(None),
    };
    Ok(Some(Signed {
        tenant_id: session.tenant_id,
        tenant_name: tenant.name,
        role,
        email: session.email,
        who,
        csrf: session.csrf,
        principal,
        session_hash: hash,
        token_id,
        source_ip: req.source_ip,
    }))
}

/// The signed-in session, or `Unauthorized` (the sign-in page).
pub async fn require(s: &Services, req: &ApiRequest) -> Result<Signed> {
    current(s, req)
        .await?
        .ok_or_else(|| Error::Unauthorized("sign in to continue".into()))
}

/// Refuses requests another site made the browser send (when the browser says so).
pub fn same_site(req: &ApiRequest) -> Result<()> {
    if req.header("sec-fetch-site") == Some("cross-site") {
        return Err(Error::Forbidden(
            "This request came from another site and was refused.".into(),
        ));
    }
    Ok(())
}

/// A state-changing request of a signed-in session: its form, with the CSRF token checked.
pub async fn post(s: &Services, req: &ApiRequest) -> Result<(Signed, Form)> {
    if req.method != Method::POST {
        return Err(Error::BadRequest {
            code: "method_not_allowed",
            message: "use the page's form".into(),
        });
    }
    same_site(req)?;
    let me = require(s, req).await?;
    let form = Form::read(req).await?;
    let sent = form.get("csrf").unwrap_or_default();
    if !bool::from(sent.as_bytes().ct_eq(me.csrf.as_bytes())) || sent.is_empty() {
        return Err(Error::Forbidden(
            "This form has expired (its security token does not match your session). Reload the page and try again."
                .into(),
        ));
    }
    Ok((me, form))
}

/// Ends a session: the record is deleted, so the cookie is worthless even if kept.
pub async fn end(s: &Services, me: &Signed) -> Result<ApiResponse> {
    s.store.delete_session(&me.session_hash).await?;
    Ok(
        web::redirect("/dashboard/sign-in?signed_out=1").with_header(
            header::SET_COOKIE,
            web::set_cookie(
                cookie_name(s),
                "",
                0,
                web::is_https(&s.config.public_base_url),
            ),
        ),
    )
}
