//! The portal's templates (MiniJinja, embedded; HTML auto-escaped) and its pages' headers: the
//! dashboard's policy (no inline script, nothing from elsewhere) with what a merchant's brand
//! needs: its accent colour as one hashed `<style>` element (no inline style attribute is
//! allowed), its logo's origin for images, and Stripe's billing portal as a form target.

use std::sync::LazyLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::header::{self, HeaderValue};
use http::StatusCode;
use minijinja::{context, Environment, Value};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::session::Viewer;
use crate::dashboard::{assets, web};
use crate::domain::portal::{PortalSettings, DEFAULT_ACCENT};
use crate::domain::Tenant;
use crate::http::ApiResponse;
use crate::{Error, Result, Services};

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("templates/", $name)))),*]
    };
}

static TEMPLATES: &[(&str, &str)] = templates![
    "layout.html",
    "error.html",
    "sign_in.html",
    "link.html",
    "licenses.html",
    "license.html",
    "license_key.html",
];

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in TEMPLATES {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("portal template {name}: {e:#}"));
    }
    env.add_filter("day", day);
    env
});

/// `2026-11-28T13:45:12.000Z` -> `2026-11-28`.
fn day(ts: Option<String>) -> String {
    match ts {
        Some(t) if t.len() >= 10 => t[..10].to_string(),
        Some(t) => t,
        None => "—".into(),
    }
}

/// How a merchant's portal presents itself.
#[derive(Debug, Clone, Serialize)]
pub struct Brand {
    pub tenant_id: String,
    pub name: String,
    pub accent: String,
    /// An https URL, or empty.
    pub logo_url: String,
    /// The support contact as typed (an address or an https URL), or empty.
    pub support: String,
    /// A link to it (`mailto:` for an address).
    pub support_href: Option<String>,
}

impl Brand {
    pub fn of(tenant: &Tenant) -> Brand {
        let p: &PortalSettings = &tenant.portal;
        Brand {
            tenant_id: tenant.id.clone(),
            name: p.name(&tenant.name).to_string(),
            accent: p.accent().to_string(),
            logo_url: p.logo_url.clone(),
            support: p.support.clone(),
            support_href: p.support_href(),
        }
    }

    /// No merchant's brand (a page for a tenant not read, such as an error).
    pub fn plain(tenant_id: &str) -> Brand {
        Brand {
            tenant_id: tenant_id.to_string(),
            name: "Customer portal".into(),
            accent: DEFAULT_ACCENT.into(),
            logo_url: String::new(),
            support: String::new(),
            support_href: None,
        }
    }

    /// The one `<style>` element of a page: the accent colour (a checked `#rrggbb`).
    fn style(&self) -> String {
        format!(":root{{--accent:{}}}", self.accent)
    }
}

/// The origin of an https URL (`https://host[:port]`), for the policy's image sources.
fn origin(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    (u.scheme() == "https").then(|| u.origin().ascii_serialization())
}

/// Where Stripe's billing portal lives: Stripe's own host, and (in tests and `make dev`) the
/// origin of the Stripe API Keyhook is pointed at.
fn billing_origins(s: &Services) -> String {
    let mut out = String::from(" https://billing.stripe.com");
    if let Ok(u) = url::Url::parse(&s.config.stripe_api_base) {
        let o = u.origin().ascii_serialization();
        if o != "https://api.stripe.com" && o != "null" {
            out.push(' ');
            out.push_str(&o);
        }
    }
    out
}

/// The page's Content-Security-Policy.
pub fn csp(s: &Services, brand: &Brand) -> String {
    let hash = STANDARD.encode(Sha256::digest(brand.style().as_bytes()));
    let logo = origin(&brand.logo_url)
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self' 'sha256-{hash}'; \
img-src 'self' data:{logo}; connect-src 'self'; form-action 'self'{}; \
frame-ancestors 'none'; base-uri 'none'",
        billing_origins(s)
    )
}

fn render(name: &str, ctx: Value) -> Result<String> {
    ENV.get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(|e| Error::internal(format!("rendering portal {name}: {e:#}")))
}

/// A portal page: `ctx` plus the brand, who is looking, the CSRF token of the forms and the
/// assets' URLs, with the portal's headers.
pub fn page(
    s: &Services,
    brand: &Brand,
    viewer: Option<&Viewer>,
    status: StatusCode,
    name: &str,
    ctx: Value,
) -> Result<ApiResponse> {
    let body = render(
        name,
        context! {
            brand => brand,
            brand_style => Value::from_safe_string(brand.style()),
            viewer => viewer.map(Viewer::context),
            csrf => viewer.and_then(Viewer::csrf),
            read_only => viewer.is_some_and(Viewer::read_only),
            // Percent-encoded, so safe in an attribute as it is.
            base => Value::from_safe_string(format!("/portal/{}", web::enc(&brand.tenant_id))),
            css => assets::url("portal.css"),
            js => assets::url("dashboard.js"),
            ..ctx
        },
    )?;
    Ok(html(s, brand, status, body))
}

/// A fragment the script swaps into the page (no layout).
pub fn fragment(s: &Services, brand: &Brand, name: &str, ctx: Value) -> Result<ApiResponse> {
    Ok(html(s, brand, StatusCode::OK, render(name, ctx)?))
}

fn html(s: &Services, brand: &Brand, status: StatusCode, body: String) -> ApiResponse {
    web::secure(
        ApiResponse::text(status, "text/html; charset=utf-8", body),
        &csp(s, brand),
    )
    .with_header(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        assert!(ENV.templates().count() >= TEMPLATES.len());
    }

    #[test]
    fn the_style_hash_is_the_style_elements() {
        let brand = Brand::plain("ten_1");
        let expected = STANDARD.encode(Sha256::digest(b":root{--accent:#2457c5}"));
        let style = brand.style();
        assert_eq!(style, ":root{--accent:#2457c5}");
        assert_eq!(STANDARD.encode(Sha256::digest(style.as_bytes())), expected);
    }

    #[test]
    fn only_an_https_logo_gets_an_origin() {
        assert_eq!(
            origin("https://cdn.acme.example/a/logo.png").as_deref(),
            Some("https://cdn.acme.example")
        );
        assert_eq!(origin("http://cdn.acme.example/logo.png"), None);
        assert_eq!(origin(""), None);
    }
}
