//! The dashboard's emails: sign-in links (a requested sign-in, an invitation, a welcome), sent
//! the way license emails are — a message on the mail queue ([`SignInMail`]), then the mailer
//! and SES; the email itself is composed by `mail::sign_in`. The message names the request
//! record only. The mailer finds the address's accounts and, only if it has some, makes the
//! one-time link ([`DASHBOARD_SIGN_IN`]) and sends it: the link's token exists nowhere but in
//! the email, and a request for an address without an account costs the request path exactly
//! what any other does.

use super::link::DASHBOARD_SIGN_IN;
use super::team;
use crate::mail::sign_in::{self, SignInEmail, SignInMail};
use crate::{Result, Services};

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
    let names: Vec<String> = accounts.iter().map(|(t, _)| t.name.clone()).collect();
    let email = sign_in::compose(&SignInEmail {
        reason: request.reason,
        tenant_name: named.as_deref(),
        accounts: &names,
        invited_by: request.invited_by.as_deref(),
        url: &url,
        email: &request.email,
        minutes: DASHBOARD_SIGN_IN.lifetime.whole_minutes(),
    })?;
    let reason = sign_in::reason_name(request.reason);
    let id = s.sender.send(&request.email, &email).await?;
    s.store.mark_sign_in_request_sent(&request.id).await?;
    tracing::info!(ses_message_id = %id, reason, accounts = accounts.len(), "sign-in email sent");
    Ok(())
}
