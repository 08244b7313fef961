//! Buyers' sessions: an HttpOnly cookie of its own name, scoped to one tenant's portal
//! (`Path=/portal/{tenantId}`), naming a session record stored under the cookie's SHA-256
//! apart from dashboard sessions (`store::portal`). Every page reads the tenant and the
//! session in one `BatchGetItem`; the session names one address of one tenant. Every form
//! carries the session's CSRF token.

use http::header::{self, HeaderValue};
use http::Method;
use minijinja::context;
use subtle::ConstantTimeEq;
use time::Duration;

use crate::dashboard::form::Form;
use crate::dashboard::session::same_site;
use crate::dashboard::web;
use crate::domain::portal::PortalSession;
use crate::domain::Tenant;
use crate::http::auth::token_hash;
use crate::http::{ApiRequest, ApiResponse};
use crate::{ids, Error, Result, Services};

/// How long a buyer's session lasts (absolute; sign in again afterwards).
pub const LIFETIME: Duration = Duration::hours(12);

/// The cookie's name: not the dashboard's, so neither session can stand for the other.
pub fn cookie_name(s: &Services) -> &'static str {
    if web::is_https(&s.config.public_base_url) {
        "__Secure-kh_portal"
    } else {
        "kh_portal"
    }
}

/// Whether Keyhook is served on this machine only (`make dev`, tests): the one case where the
/// cookie is not `Secure`.
fn is_loopback(base_url: &str) -> bool {
    url::Url::parse(base_url).is_ok_and(|u| match u.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    })
}

/// The `Set-Cookie` of a portal session (`max_age` 0 clears it).
pub fn set_cookie(s: &Services, tenant_id: &str, value: &str, max_age: i64) -> HeaderValue {
    portal_cookie(s, cookie_name(s), tenant_id, value, max_age)
}

/// A signed-in buyer.
#[derive(Debug, Clone)]
pub struct Buyer {
    pub tenant_id: String,
    /// Lowercase: the licenses whose owner address this is.
    pub email: String,
    pub csrf: String,
    session_hash: String,
}

/// Who is looking at a portal page: a buyer, or a member of the tenant seeing what a buyer
/// sees (every action disabled).
#[derive(Debug, Clone)]
pub enum Viewer {
    Buyer(Buyer),
    Merchant {
        /// The member looking.
        member: String,
        /// The buyer whose view it is.
        email: String,
    },
}

impl Viewer {
    /// The address whose licenses the page shows.
    pub fn email(&self) -> &str {
        match self {
            Viewer::Buyer(b) => &b.email,
            Viewer::Merchant { email, .. } => email,
        }
    }

    pub fn read_only(&self) -> bool {
        matches!(self, Viewer::Merchant { .. })
    }

    pub fn csrf(&self) -> Option<String> {
        match self {
            Viewer::Buyer(b) => Some(b.csrf.clone()),
            Viewer::Merchant { .. } => None,
        }
    }

    pub(crate) fn context(&self) -> minijinja::Value {
        match self {
            Viewer::Buyer(b) => context! { email => b.email },
            Viewer::Merchant { member, email } => context! { email => email, member => member },
        }
    }
}

/// The cookie that keeps, while a buyer signs in, the portal page they were sent to.
pub const NEXT_COOKIE: &str = "kh_portal_next";

/// A page of this tenant's portal to go to after sign-in, or nothing (no open redirect: a
/// path under `/portal/{tenantId}/licenses` of plain characters only).
pub fn safe_next(tenant_id: &str, next: Option<&str>) -> Option<String> {
    let next = next?;
    let home = format!("/portal/{}/licenses", web::enc(tenant_id));
    let rest = next.strip_prefix(&home)?;
    let plain = rest.is_empty()
        || (rest.starts_with('/')
            && !rest.contains("//")
            && rest.len() <= 200
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-')));
    plain.then(|| next.to_string())
}

/// A `Set-Cookie` of the portal, scoped to its tenant (`max_age` 0 clears it).
fn portal_cookie(
    s: &Services,
    name: &str,
    tenant_id: &str,
    value: &str,
    max_age: i64,
) -> HeaderValue {
    let secure = if is_loopback(&s.config.public_base_url) {
        ""
    } else {
        "; Secure"
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/portal/{}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
        web::enc(tenant_id)
    ))
    .expect("cookie values are ASCII")
}

/// Remembers (or, with `None`, forgets) the page to go to after sign-in.
pub fn remember_next(s: &Services, tenant_id: &str, next: Option<&str>) -> HeaderValue {
    match next {
        Some(n) => portal_cookie(s, NEXT_COOKIE, tenant_id, &web::enc(n), 3600),
        None => portal_cookie(s, NEXT_COOKIE, tenant_id, "", 0),
    }
}

/// The page remembered for after sign-in, if it is still a safe one.
pub fn remembered_next(req: &ApiRequest, tenant_id: &str) -> Option<String> {
    let raw = web::cookie(req, NEXT_COOKIE)?;
    let decoded: String = url::form_urlencoded::parse(format!("n={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())?;
    safe_next(tenant_id, Some(&decoded))
}

/// Starts a session for `email` in `tenant_id`'s portal: the cookie, and a redirect to `next`
/// (a [`safe_next`]) or the buyer's licenses, with `notice` (a key of `portal::notice`). No
/// secret is in that URL.
pub async fn start(
    s: &Services,
    tenant_id: &str,
    email: &str,
    next: Option<&str>,
    notice: Option<&str>,
) -> Result<ApiResponse> {
    let id = format!("kps_{}", ids::random_symbols(40).to_ascii_lowercase());
    let now = crate::time::now();
    let expires_at = now + LIFETIME;
    s.store
        .put_portal_session(
            &token_hash(&id),
            &PortalSession {
                tenant_id: tenant_id.to_string(),
                email: email.to_string(),
                csrf: ids::random_symbols(32),
                created_at: now,
                expires_at,
                ttl: expires_at.unix_timestamp(),
            },
        )
        .await?;
    let home = format!("/portal/{}/licenses", web::enc(tenant_id));
    let target = match (next.and_then(|n| safe_next(tenant_id, Some(n))), notice) {
        (Some(n), _) => n,
        (None, Some(notice)) => format!("{home}?notice={notice}"),
        (None, None) => home,
    };
    Ok(web::redirect(&target)
        .with_header(
            header::SET_COOKIE,
            set_cookie(s, tenant_id, &id, LIFETIME.whole_seconds()),
        )
        .with_header(header::SET_COOKIE, remember_next(s, tenant_id, None)))
}

/// The tenant whose portal a request is for, and its buyer if signed in: one `BatchGetItem`.
/// A tenant that does not exist is not found; a closed portal says so.
pub async fn load(
    s: &Services,
    req: &ApiRequest,
    tenant_id: &str,
) -> Result<(Tenant, Option<Buyer>)> {
    let hash = web::cookie(req, cookie_name(s))
        .filter(|c| !c.is_empty() && c.len() <= 100)
        .map(|c| token_hash(&c));
    let (tenant, session) = s
        .store
        .tenant_and_portal_session(tenant_id, hash.as_deref())
        .await?;
    let tenant = tenant.ok_or_else(|| Error::not_found("Portal"))?;
    if !tenant.portal.enabled {
        let name = tenant.portal.name(&tenant.name).to_string();
        let help = match tenant.portal.support.as_str() {
            "" => String::new(),
            contact => format!(" For help with your license, contact {contact}."),
        };
        return Err(Error::Forbidden(format!(
            "{name} does not offer a customer portal at the moment.{help}"
        )));
    }
    let buyer = match (session, hash) {
        (Some(session), Some(hash)) if session.tenant_id == tenant.id => Some(Buyer {
            tenant_id: session.tenant_id,
            email: session.email,
            csrf: session.csrf,
            session_hash: hash,
        }),
        _ => None,
    };
    Ok((tenant, buyer))
}

/// The signed-in buyer, or `Unauthorized` (the portal's sign-in page).
pub async fn require(s: &Services, req: &ApiRequest, tenant_id: &str) -> Result<(Tenant, Buyer)> {
    match load(s, req, tenant_id).await? {
        (tenant, Some(buyer)) => Ok((tenant, buyer)),
        _ => Err(Error::Unauthorized("sign in to continue".into())),
    }
}

/// A form post of a signed-in buyer: the form, its CSRF token checked.
pub async fn post(
    s: &Services,
    req: &ApiRequest,
    tenant_id: &str,
) -> Result<(Tenant, Buyer, Form)> {
    if req.method != Method::POST {
        return Err(Error::BadRequest {
            code: "method_not_allowed",
            message: "use the page's form".into(),
        });
    }
    same_site(req)?;
    let (tenant, buyer) = require(s, req, tenant_id).await?;
    let form = Form::parse(req)?;
    let sent = form.get("csrf").unwrap_or_default();
    if sent.is_empty() || !bool::from(sent.as_bytes().ct_eq(buyer.csrf.as_bytes())) {
        return Err(Error::Forbidden(
            "This form has expired (its security token does not match your session). Reload the page and try again."
                .into(),
        ));
    }
    Ok((tenant, buyer, form))
}

/// Ends a session: the record is deleted, so the cookie is worthless even if kept.
pub async fn end(s: &Services, buyer: &Buyer) -> Result<ApiResponse> {
    s.store.delete_portal_session(&buyer.session_hash).await?;
    Ok(web::redirect(&format!(
        "/portal/{}?notice=signed_out",
        web::enc(&buyer.tenant_id)
    ))
    .with_header(header::SET_COOKIE, set_cookie(s, &buyer.tenant_id, "", 0)))
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn only_pages_of_the_tenants_portal_come_next() {
        use super::safe_next;
        let ok = |n: &str| safe_next("ten_1", Some(n));
        assert_eq!(
            ok("/portal/ten_1/licenses/lic_a").as_deref(),
            Some("/portal/ten_1/licenses/lic_a")
        );
        assert_eq!(
            ok("/portal/ten_1/licenses").as_deref(),
            Some("/portal/ten_1/licenses")
        );
        for bad in [
            "/portal/ten_2/licenses/lic_a",
            "/portal/ten_1/licenses//evil.example",
            "/portal/ten_1/licensesx",
            "/portal/ten_1/licenses/../../dashboard",
            "https://evil.example/portal/ten_1/licenses",
            "/portal/ten_1/licenses/a?b",
        ] {
            assert_eq!(ok(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_this_machine_is_loopback() {
        assert!(is_loopback("http://127.0.0.1:3000"));
        assert!(is_loopback("http://localhost:3000"));
        assert!(is_loopback("http://[::1]:3000"));
        assert!(!is_loopback("https://keys.example.com"));
        assert!(!is_loopback("http://10.0.0.1"));
    }
}
