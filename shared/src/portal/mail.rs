//! The portal's sign-in email, the mailer's side: only here is the address looked up. An
//! address that owns no license of the tenant gets nothing (and the request path did the same
//! work as for any other); one that does gets a one-time link ([`PORTAL_SIGN_IN`]) whose token
//! exists nowhere but in the email.

use super::buyer;
use super::sign_in::{link_url, subject, PORTAL_SIGN_IN};
use crate::mail::portal_sign_in::{self, PortalSignInEmail, PortalSignInMail};
use crate::{Result, Services};

/// Sends a request's email: nothing for an address without licenses of the tenant, a closed
/// portal, or a request already sent.
pub async fn send(s: &Services, job: &PortalSignInMail) -> Result<()> {
    let Some(request) = s.store.get_sign_in_request(&job.sign_in_request).await? else {
        tracing::info!("portal sign-in request expired before its email; nothing to send");
        return Ok(());
    };
    if request.sent_at.is_some() {
        tracing::info!("portal sign-in email already sent");
        return Ok(());
    }
    let tenant_id = request.tenant_id.clone().unwrap_or_default();
    let tenant = match s.store.get_tenant(&tenant_id).await? {
        Some(t) if t.portal.enabled => t,
        _ => {
            s.store.mark_sign_in_request_sent(&request.id).await?;
            return Ok(());
        }
    };
    if buyer::licenses_of(s, &tenant.id, &request.email)
        .await?
        .is_empty()
    {
        tracing::info!(
            "portal sign-in link requested for an address without licenses; nothing sent"
        );
        s.store.mark_sign_in_request_sent(&request.id).await?;
        return Ok(());
    }
    let token = PORTAL_SIGN_IN
        .issue(s, &subject(&tenant.id, &request.email))
        .await?;
    let url = link_url(s, &tenant.id, &token);
    let support = (!tenant.portal.support.is_empty()).then_some(tenant.portal.support.as_str());
    let email = portal_sign_in::compose(&PortalSignInEmail {
        merchant: tenant.portal.name(&tenant.name),
        url: &url,
        minutes: PORTAL_SIGN_IN.lifetime.whole_minutes(),
        support,
        accent: tenant.portal.accent(),
    })?;
    let id = s.sender.send(&request.email, &email).await?;
    s.store.mark_sign_in_request_sent(&request.id).await?;
    tracing::info!(ses_message_id = %id, tenant_id = %tenant.id, "portal sign-in email sent");
    Ok(())
}
