//! The dashboard's sign-in email (a requested sign-in, an invitation, a welcome): the queue
//! message that asks for it, which names the request record only, and the email itself made
//! from what the mailer found (the address's accounts, the one-time link).

use std::sync::LazyLock;

use minijinja::{context, Environment};
use serde::{Deserialize, Serialize};

use super::Rendered;
use crate::domain::member::LinkReason;
use crate::{Error, Result};

/// A mail-queue message asking for a sign-in request's email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInMail {
    /// The request's id (`sir_…`).
    pub sign_in_request: String,
}

/// What a sign-in email says.
#[derive(Debug, Clone)]
pub struct SignInEmail<'a> {
    pub reason: LinkReason,
    /// The account an invitation or welcome is about, else the only one, if one.
    pub tenant_name: Option<&'a str>,
    /// The names of every account of the address.
    pub accounts: &'a [String],
    pub invited_by: Option<&'a str>,
    /// The one-time link.
    pub url: &'a str,
    pub email: &'a str,
    /// How long the link works.
    pub minutes: i64,
}

/// The reason's name, as the templates and logs know it.
pub fn reason_name(reason: LinkReason) -> &'static str {
    match reason {
        LinkReason::SignIn => "sign_in",
        LinkReason::Invitation => "invitation",
        LinkReason::Welcome => "welcome",
    }
}

/// The two bodies' templates (MiniJinja: the HTML one auto-escaped).
static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in [
        ("sign_in.html", include_str!("templates/sign_in.html")),
        ("sign_in.txt", include_str!("templates/sign_in.txt")),
    ] {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("sign-in email template {name}: {e:#}"));
    }
    env
});

/// The email: its subject and both bodies.
pub fn compose(mail: &SignInEmail) -> Result<Rendered> {
    // Escaped by hand for the HTML body (MiniJinja would also escape `/`, which some mail
    // clients show as is); the text body gets it plain.
    let url_html = super::escape_html(mail.url);
    let ctx = context! {
        reason => reason_name(mail.reason),
        tenant_name => mail.tenant_name,
        accounts => mail.accounts,
        invited_by => mail.invited_by,
        url => mail.url,
        url_html => minijinja::Value::from_safe_string(url_html),
        email => mail.email,
        minutes => mail.minutes,
    };
    let subject = match (mail.reason, mail.tenant_name) {
        (LinkReason::Invitation, Some(name)) => format!("You're invited to {name} on Keyhook"),
        (LinkReason::Welcome, Some(name)) => format!("Welcome to Keyhook: sign in to {name}"),
        (_, Some(name)) => format!("Your sign-in link for {name} on Keyhook"),
        (_, None) => "Your sign-in link for Keyhook".to_string(),
    };
    let render = |name: &str| {
        TEMPLATES
            .get_template(name)
            .and_then(|t| t.render(&ctx))
            .map_err(|e| Error::internal(format!("rendering {name}: {e:#}")))
    };
    Ok(Rendered {
        subject,
        html: render("sign_in.html")?,
        text: render("sign_in.txt")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invitation_names_the_account_and_the_inviter_and_escapes_the_link() {
        let accounts = ["Acme <Tools>".to_string()];
        let mail = compose(&SignInEmail {
            reason: LinkReason::Invitation,
            tenant_name: Some("Acme <Tools>"),
            accounts: &accounts,
            invited_by: Some("owner@example.com"),
            url: "https://keyhook.example/dashboard/sign-in/link?token=khl_a&b",
            email: "new@example.com",
            minutes: 15,
        })
        .unwrap();
        assert_eq!(mail.subject, "You're invited to Acme <Tools> on Keyhook");
        assert!(mail.html.contains(
            "owner@example.com invited you to manage <strong>Acme &lt;Tools&gt;</strong>"
        ));
        assert!(mail
            .html
            .contains("href=\"https://keyhook.example/dashboard/sign-in/link?token=khl_a&amp;b\""));
        assert!(mail
            .text
            .contains("Sign in: https://keyhook.example/dashboard/sign-in/link?token=khl_a&b\n"));
        assert!(mail.text.contains("for 15 minutes"));
    }

    #[test]
    fn a_sign_in_to_several_accounts_lists_them() {
        let accounts = ["Acme".to_string(), "Beta".to_string()];
        let mail = compose(&SignInEmail {
            reason: LinkReason::SignIn,
            tenant_name: None,
            accounts: &accounts,
            invited_by: None,
            url: "https://keyhook.example/x",
            email: "a@example.com",
            minutes: 15,
        })
        .unwrap();
        assert_eq!(mail.subject, "Your sign-in link for Keyhook");
        assert!(mail
            .text
            .contains("choose one of your 2 accounts: Acme, Beta."));
    }
}
