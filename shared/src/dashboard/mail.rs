//! The dashboard's emails: sign-in links (a requested sign-in, an invitation, a welcome), sent
//! the way license emails are — a message on the mail queue, then the mailer and SES. The
//! message names the request record only. The mailer finds the address's accounts and, only if
//! it has some, makes the one-time link ([`DASHBOARD_SIGN_IN`]) and sends it: the link's token
//! exists nowhere but in the email, and a request for an address without an account costs the
//! request path exactly what any other does.

use minijinja::context;
use serde::{Deserialize, Serialize};

use super::link::DASHBOARD_SIGN_IN;
use super::{render, team};
use crate::domain::member::LinkReason;
use crate::mail::Rendered;
use crate::{Result, Services};

/// A mail-queue message asking for a sign-in request's email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignInMail {
    /// The request's id (`sir_…`).
    pub sign_in_request: String,
}

impl SignInMail {
    /// The message, if the body is one (license-email messages are not).
    pub fn parse(body: &str) -> Option<SignInMail> {
        serde_json::from_str(body).ok()
    }
}

/// Sends a request's email (the mailer's side): nothing for an address without an account, or
/// for a request already sent.
pub async fn send(s: &Services, job: &SignInMail) -> Result<()> {
    let Some(request) = s.store.get_sign_in_request(&job.sign_in_request).await? else {
        tracing::info!("sign-in request expired before its email; nothing to send");
        return Ok(());
    };
    if request.sent_at.is_some() {
        tracing::info!("sign-in email already sent");
        return Ok(());
    }
    let accounts = team::accounts(s, &request.email).await?;
    if accounts.is_empty() {
        tracing::info!("sign-in link requested for an address without an account; nothing sent");
        s.store.mark_sign_in_request_sent(&request.id).await?;
        return Ok(());
    }
    // The account an invitation or welcome is about; else the only one, if one.
    let named = request
        .tenant_id
        .as_deref()
        .and_then(|id| accounts.iter().find(|(t, _)| t.id == id))
        .or(if accounts.len() == 1 {
            accounts.first()
        } else {
            None
        })
        .map(|(t, _)| t.name.clone());
    let token = DASHBOARD_SIGN_IN.issue(s, &request.email).await?;
    let url = DASHBOARD_SIGN_IN.url(s, &token);
    // Escaped by hand for the HTML body (MiniJinja would also escape `/`, which some mail
    // clients show as is); the text body gets it plain.
    let url_html = url
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let names: Vec<String> = accounts.iter().map(|(t, _)| t.name.clone()).collect();
    let reason = match request.reason {
        LinkReason::SignIn => "sign_in",
        LinkReason::Invitation => "invitation",
        LinkReason::Welcome => "welcome",
    };
    let ctx = context! {
        reason => reason,
        tenant_name => named,
        accounts => names,
        invited_by => request.invited_by,
        url => url,
        url_html => minijinja::Value::from_safe_string(url_html),
        email => request.email,
        minutes => DASHBOARD_SIGN_IN.lifetime.whole_minutes(),
    };
    let subject = match (request.reason, &named) {
        (LinkReason::Invitation, Some(name)) => format!("You're invited to {name} on Keyhook"),
        (LinkReason::Welcome, Some(name)) => format!("Welcome to Keyhook: sign in to {name}"),
        (_, Some(name)) => format!("Your sign-in link for {name} on Keyhook"),
        (_, None) => "Your sign-in link for Keyhook".to_string(),
    };
    let email = Rendered {
        subject,
        html: render::fragment("email_sign_in.html", None, ctx.clone())?,
        text: render::fragment("email_sign_in.txt", None, ctx)?,
    };
    let id = s.sender.send(&request.email, &email).await?;
    s.store.mark_sign_in_request_sent(&request.id).await?;
    tracing::info!(ses_message_id = %id, reason, accounts = accounts.len(), "sign-in email sent");
    Ok(())
}
