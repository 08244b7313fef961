//! The dashboard's emails: one-time sign-in links (sign-in, invitation, welcome), sent the way
//! license emails are — a message on the mail queue, then the mailer and SES. The message
//! names the link record only; the mailer opens the link's sealed token itself, so no secret
//! travels through the queue.

use minijinja::context;
use serde::{Deserialize, Serialize};

use super::render;
use crate::crypto::SealContext;
use crate::mail::Rendered;
use crate::{Error, Result, Services};

/// The seal field of a sign-in link's token.
pub const TOKEN_SEAL_FIELD: &str = "signInToken";

/// A mail-queue message asking for a sign-in link's email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignInMail {
    pub tenant_id: String,
    /// The link's record (the SHA-256 of its token).
    pub sign_in_link: String,
}

impl SignInMail {
    /// The message, if the body is one (license-email messages are not).
    pub fn parse(body: &str) -> Option<SignInMail> {
        serde_json::from_str(body).ok()
    }
}

/// The URL a link's token signs in with.
pub fn link_url(s: &Services, token: &str) -> String {
    format!(
        "{}/dashboard/sign-in/link?token={token}",
        s.config.public_base_url
    )
}

/// Sends a link's email (the mailer's side). A used or expired link sends nothing.
pub async fn send(s: &Services, job: &SignInMail) -> Result<()> {
    let Some(link) = s.store.get_sign_in_link(&job.sign_in_link).await? else {
        tracing::info!("sign-in link used or expired before its email; nothing to send");
        return Ok(());
    };
    if link.tenant_id != job.tenant_id {
        tracing::error!("sign-in mail job names another tenant's link; dropped");
        return Ok(());
    }
    let token = s
        .keyring
        .open_secret(
            SealContext {
                tenant_id: &link.tenant_id,
                owner: &job.sign_in_link,
                field: TOKEN_SEAL_FIELD,
            },
            &link.token_sealed,
        )
        .await?
        .ok_or_else(|| Error::internal("a sign-in link's token does not open"))?;
    let tenant = s
        .store
        .get_tenant(&link.tenant_id)
        .await?
        .ok_or_else(|| Error::internal("sign-in link of a deleted tenant"))?;
    let url = link_url(s, token.expose());
    // Escaped by hand for the HTML body (MiniJinja would also escape `/`, which some mail
    // clients show as is); the text body gets it plain.
    let url_html = url
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let ctx = context! {
        reason => link.reason,
        tenant_name => tenant.name,
        invited_by => link.invited_by,
        url => url,
        url_html => minijinja::Value::from_safe_string(url_html),
        email => link.email,
    };
    let subject = match link.reason.as_str() {
        "invitation" => format!("You're invited to {} on Keyhook", tenant.name),
        "welcome" => format!("Welcome to Keyhook: sign in to {}", tenant.name),
        _ => format!("Your sign-in link for {} on Keyhook", tenant.name),
    };
    let email = Rendered {
        subject,
        html: render::fragment("email_sign_in.html", None, ctx.clone())?,
        text: render::fragment("email_sign_in.txt", None, ctx)?,
    };
    let id = s.sender.send(&link.email, &email).await?;
    tracing::info!(ses_message_id = %id, reason = %link.reason, "sign-in email sent");
    Ok(())
}
