//! The customer portal's sign-in email: the queue message that asks for it (it names the
//! request record only, never the address), and the email made from what the mailer found
//! (the merchant's portal name, the one-time link).

use std::sync::LazyLock;

use minijinja::{context, Environment};
use serde::{Deserialize, Serialize};

use super::Rendered;
use crate::{Error, Result};

/// A mail-queue message asking for a portal sign-in request's email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortalSignInMail {
    /// The request's id (`psr_…`).
    pub sign_in_request: String,
}

/// What a portal sign-in email says.
#[derive(Debug, Clone)]
pub struct PortalSignInEmail<'a> {
    /// The portal's name (the merchant's display name, else the tenant's).
    pub merchant: &'a str,
    /// The one-time link.
    pub url: &'a str,
    /// How long the link works.
    pub minutes: i64,
    /// Where to ask for help, if the merchant says.
    pub support: Option<&'a str>,
    /// The button's colour (a checked `#rrggbb`: the portal's accent).
    pub accent: &'a str,
}

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in [
        (
            "portal_sign_in.html",
            include_str!("templates/portal_sign_in.html"),
        ),
        (
            "portal_sign_in.txt",
            include_str!("templates/portal_sign_in.txt"),
        ),
    ] {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("portal sign-in email template {name}: {e:#}"));
    }
    env
});

/// The email: its subject and both bodies.
pub fn compose(mail: &PortalSignInEmail) -> Result<Rendered> {
    // Escaped by hand for the HTML body, as `sign_in::compose` does (MiniJinja would also
    // escape `/`, which some mail clients show as is).
    let url_html = super::escape_html(mail.url);
    let ctx = context! {
        merchant => mail.merchant,
        url => mail.url,
        url_html => minijinja::Value::from_safe_string(url_html),
        minutes => mail.minutes,
        support => mail.support,
        accent => mail.accent,
    };
    let render = |name: &str| {
        TEMPLATES
            .get_template(name)
            .and_then(|t| t.render(&ctx))
            .map_err(|e| Error::internal(format!("rendering {name}: {e:#}")))
    };
    Ok(Rendered {
        subject: format!("Your sign-in link for {}", mail.merchant),
        html: render("portal_sign_in.html")?,
        text: render("portal_sign_in.txt")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_email_names_the_merchant_and_escapes_the_link() {
        let mail = compose(&PortalSignInEmail {
            merchant: "Acme <Apps>",
            url: "https://k.example/portal/ten_1/link?token=kpl_a&b",
            minutes: 15,
            support: Some("help@acme.example"),
            accent: "#0f766e",
        })
        .unwrap();
        assert_eq!(mail.subject, "Your sign-in link for Acme <Apps>");
        assert!(mail.html.contains("Acme &lt;Apps&gt;"));
        assert!(mail
            .html
            .contains("href=\"https://k.example/portal/ten_1/link?token=kpl_a&amp;b\""));
        assert!(mail
            .text
            .contains("Sign in: https://k.example/portal/ten_1/link?token=kpl_a&b\n"));
        assert!(mail.text.contains("15 minutes"));
        assert!(mail.text.contains("help@acme.example"));
        assert!(mail.html.contains("background:#0f766e"));
    }
}
