//! HTTP for browsers: HTML responses with their security headers, redirects, cookies and the
//! fragment requests of the dashboard's script.

use http::header::{self, HeaderName, HeaderValue};
use http::StatusCode;

use crate::http::{ApiRequest, ApiResponse};

/// No inline script, nothing from elsewhere: the pages load their one stylesheet and script
/// from Keyhook, forms post only to Keyhook, and no other site may frame them.
pub const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; form-action 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The email preview's own policy: a sandbox (no script, no same-origin access) that only the
/// dashboard itself may frame; inline styles allowed, as email HTML uses them.
pub const PREVIEW_CSP: &str =
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'";

fn value(v: &str) -> HeaderValue {
    HeaderValue::from_str(v).expect("header values are ASCII")
}

/// Headers every dashboard response carries.
pub fn secure(res: ApiResponse, csp: &str) -> ApiResponse {
    res.with_header(
        HeaderName::from_static("content-security-policy"),
        value(csp),
    )
    .with_header(header::X_CONTENT_TYPE_OPTIONS, value("nosniff"))
    .with_header(header::REFERRER_POLICY, value("no-referrer"))
    .with_header(header::CACHE_CONTROL, value("no-store"))
}

/// An HTML page.
pub fn html(status: StatusCode, body: String) -> ApiResponse {
    secure(
        ApiResponse::text(status, "text/html; charset=utf-8", body),
        CSP,
    )
    .with_header(header::X_FRAME_OPTIONS, value("DENY"))
}

/// A 303 to a path of the dashboard (after a form post, and for sign-in). Any byte a header
/// cannot carry as is (non-ASCII, controls, spaces) is percent-encoded, so no location fails.
pub fn redirect(location: &str) -> ApiResponse {
    let mut encoded = String::with_capacity(location.len());
    for b in location.bytes() {
        if b.is_ascii_graphic() {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    secure(
        ApiResponse::text(StatusCode::SEE_OTHER, "text/html; charset=utf-8", ""),
        CSP,
    )
    .with_header(header::LOCATION, value(&encoded))
}

/// Percent-encodes a path segment or query value of a dashboard location.
pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Whether the dashboard's script asked for a page fragment (it swaps it into the page).
pub fn is_fragment(req: &ApiRequest) -> bool {
    req.header("x-dashboard-fragment").is_some()
}

/// A cookie of the request.
pub fn cookie(req: &ApiRequest, name: &str) -> Option<String> {
    req.headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Whether the public base URL is HTTPS (cookies are then `Secure`, and `__Host-` prefixed).
pub fn is_https(base_url: &str) -> bool {
    base_url.starts_with("https://")
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure over HTTPS.
pub fn set_cookie(name: &str, value_: &str, max_age: i64, https: bool) -> HeaderValue {
    value(&format!(
        "{name}={value_}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
        if https { "; Secure" } else { "" }
    ))
}

/// Only paths of the dashboard are followed after sign-in (no open redirect). The path is
/// resolved as a browser would (dot segments, percent-encoding of anything not ASCII), then
/// checked, so what is returned is ASCII and stays under `/dashboard`.
pub fn safe_next(next: Option<&str>) -> String {
    const HOME: &str = "/dashboard";
    let Some(next) = next.filter(|n| n.starts_with('/') && !n.contains('\\')) else {
        return HOME.to_string();
    };
    let base = url::Url::parse("http://keyhook.invalid/").expect("a valid base URL");
    let Ok(resolved) = base.join(next) else {
        return HOME.to_string();
    };
    let path = resolved.path();
    let inside = path == HOME || path.starts_with("/dashboard/");
    if resolved.origin() != base.origin()
        || !inside
        || path.contains("//")
        || path.starts_with("/dashboard/sign-")
    {
        return HOME.to_string();
    }
    match resolved.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_the_dashboard() {
        assert_eq!(safe_next(Some("/dashboard/apps")), "/dashboard/apps");
        assert_eq!(safe_next(Some("https://evil.example")), "/dashboard");
        assert_eq!(safe_next(Some("/dashboard//evil.example")), "/dashboard");
        assert_eq!(safe_next(Some("/dashboard/sign-out")), "/dashboard");
        assert_eq!(safe_next(Some("//evil.example/dashboard")), "/dashboard");
        assert_eq!(safe_next(Some("/dashboard/../api/tokens")), "/dashboard");
        assert_eq!(safe_next(Some("/dashboardx")), "/dashboard");
        assert_eq!(
            safe_next(Some("/dashboard/licenses?email=a@b.c")),
            "/dashboard/licenses?email=a@b.c"
        );
        assert_eq!(safe_next(None), "/dashboard");
    }

    /// A path that is not ASCII comes back percent-encoded, and a redirect to any string
    /// carries a valid header, non-ASCII included, without a panic.
    #[test]
    fn next_with_non_ascii_is_encoded_not_a_panic() {
        let next = safe_next(Some("/dashboard/licenses?email=é@ü.example&q=日本"));
        assert!(next.is_ascii(), "{next}");
        assert!(
            next.starts_with("/dashboard/licenses?email=%C3%A9"),
            "{next}"
        );
        let res = redirect("/dashboard/é\n x");
        assert_eq!(
            res.headers[http::header::LOCATION],
            "/dashboard/%C3%A9%0A%20x"
        );
    }
}
