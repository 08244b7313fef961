//! A buyer changes their contact (owner) address with one merchant, confirmed from the new
//! address before it takes effect: whoever holds a portal session for the old address cannot
//! move the licenses to an address they do not read.
//!
//! 1. [`request`] (the portal, for a signed-in buyer): records the request and queues its
//!    email ([`crate::mail::MailMessage::ContactChange`]), the way dashboard sign-in links are sent.
//! 2. [`send`] (the mailer): makes the one-time link, stored only as the SHA-256 of its token
//!    (the token exists only in the email, never in a log or the queue), and emails it to the
//!    new address. A redelivered job sends nothing.
//! 3. [`confirm`] (the portal's confirmation page, by POST): uses the link up (exactly one
//!    confirmation gets it; expired or used links refuse), then moves every license of that
//!    tenant owned by the old address to the new one. Other tenants' licenses are untouched.

use std::net::IpAddr;

use crate::domain::activity::{Actor, Origin};
use crate::domain::contact_change::{ContactChange, LIFETIME};
use crate::domain::portal_links;
use crate::http::auth::token_hash;
use crate::http::input::is_email;
use crate::mail::contact_change::{self as email, ContactChangeEmail, ContactChangeMail};
use crate::{ids, Error, Result, Services};

/// What [`confirm`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactChanged {
    pub tenant_id: String,
    pub from_email: String,
    pub to_email: String,
    /// The licenses moved to `to_email`.
    pub license_ids: Vec<String>,
}

/// Why a change was not asked for or not confirmed.
#[derive(Debug, thiserror::Error)]
pub enum ContactChangeError {
    /// The new address is not an email address.
    #[error("enter a valid email address")]
    InvalidEmail,
    /// The new address is the current one.
    #[error("this is already your email address")]
    SameAddress,
    /// The link is unknown, already used, or another merchant's.
    #[error("this confirmation link is not valid or was already used; ask for a new one")]
    LinkUnusable,
    /// The link's time ran out (it is used up all the same).
    #[error("this confirmation link has expired; ask for a new one")]
    LinkExpired,
    #[error(transparent)]
    Internal(#[from] Error),
}

impl ContactChangeError {
    pub fn code(&self) -> &'static str {
        match self {
            ContactChangeError::InvalidEmail => "validation_failed",
            ContactChangeError::SameAddress => "same_address",
            ContactChangeError::LinkUnusable => "link_unusable",
            ContactChangeError::LinkExpired => "link_expired",
            ContactChangeError::Internal(e) => e.code(),
        }
    }
}

impl From<ContactChangeError> for Error {
    fn from(e: ContactChangeError) -> Self {
        let code = e.code();
        match e {
            ContactChangeError::InvalidEmail => Error::validation("email", e.to_string()),
            ContactChangeError::SameAddress => Error::ConflictAt {
                field: "email".into(),
                message: e.to_string(),
            },
            ContactChangeError::LinkUnusable | ContactChangeError::LinkExpired => {
                Error::BadRequest {
                    code,
                    message: e.to_string(),
                }
            }
            ContactChangeError::Internal(e) => e,
        }
    }
}

/// Asks to move `from_email`'s licenses with `tenant_id` to `to_email` (the caller is the
/// portal, for a buyer signed in as `from_email`). Queues the confirmation email to the new
/// address; nothing changes until it is confirmed. The request's id.
pub async fn request(
    s: &Services,
    tenant_id: &str,
    from_email: &str,
    to_email: &str,
) -> std::result::Result<String, ContactChangeError> {
    let to = to_email.trim().to_lowercase();
    if !is_email(&to) {
        return Err(ContactChangeError::InvalidEmail);
    }
    if to == from_email.trim().to_lowercase() {
        return Err(ContactChangeError::SameAddress);
    }
    let change = ContactChange::new(
        format!("ccr_{}", ids::random_symbols(26).to_ascii_lowercase()),
        tenant_id,
        from_email,
        &to,
        crate::time::now(),
    );
    s.store.put_contact_change_request(&change).await?;
    s.outbox
        .enqueue_message(&ContactChangeMail {
            contact_change_request: change.id.clone(),
        })
        .await?;
    tracing::info!(request_id = %change.id, "contact change asked; confirmation queued");
    Ok(change.id)
}

/// The mailer's side: makes the link and emails it to the new address, once per request.
pub async fn send(s: &Services, job: &ContactChangeMail) -> Result<()> {
    let Some(change) = s
        .store
        .get_contact_change_request(&job.contact_change_request)
        .await?
    else {
        tracing::info!("contact-change request gone before its email; nothing to send");
        return Ok(());
    };
    if change.sent_at.is_some() || !change.is_usable(crate::time::now()) {
        tracing::info!("contact-change email already sent or expired; nothing to send");
        return Ok(());
    }
    let merchant = s
        .store
        .get_tenant(&change.tenant_id)
        .await?
        .map(|t| t.name)
        .unwrap_or_else(|| "the merchant".into());
    if !s.store.mark_contact_change_sent(&change.id).await? {
        tracing::info!("contact-change email already sent");
        return Ok(());
    }
    let token = format!("khc_{}", ids::random_symbols(32).to_ascii_lowercase());
    s.store
        .put_contact_change_link(&token_hash(&token), &change)
        .await?;
    let url = format!(
        "{}?token={token}",
        portal_links::email_change_url(&s.config.public_base_url, &change.tenant_id)
    );
    let mail = email::compose(&ContactChangeEmail {
        merchant: &merchant,
        from_email: &change.from_email,
        to_email: &change.to_email,
        url: &url,
        hours: LIFETIME.whole_hours(),
    });
    let id = s.sender.send(&change.to_email, &mail).await?;
    tracing::info!(ses_message_id = %id, request_id = %change.id, "contact-change email sent");
    Ok(())
}

/// A well-formed token, or nothing (nothing else is hashed or looked up).
fn token_of(raw: &str) -> Option<&str> {
    let t = raw.trim();
    (t.starts_with("khc_")
        && t.len() <= 100
        && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    .then_some(t)
}

/// Confirms a change with the emailed link's token (the portal's confirmation page posts it):
/// uses the link up, then moves the tenant's licenses of the old address to the new one, each
/// move recorded on the license as the customer's, from `ip`.
pub async fn confirm(
    s: &Services,
    tenant_id: &str,
    token: &str,
    ip: Option<IpAddr>,
) -> std::result::Result<ContactChanged, ContactChangeError> {
    let token = token_of(token).ok_or(ContactChangeError::LinkUnusable)?;
    let change = s
        .store
        .take_contact_change_link(tenant_id, &token_hash(token))
        .await?
        .ok_or(ContactChangeError::LinkUnusable)?;
    if !change.is_usable(crate::time::now()) {
        return Err(ContactChangeError::LinkExpired);
    }
    // The licenses the buyer sees in the portal: the owner-address index, not a scan.
    let origin = Origin::new(Actor::Customer, ip);
    let mut moved = Vec::new();
    for license in s
        .store
        .buyer_licenses(tenant_id, &change.from_email)
        .await?
    {
        if s.store
            .set_license_contact(
                tenant_id,
                &license.id,
                Some(Some(change.to_email.clone())),
                None,
                &origin,
            )
            .await?
            .is_some()
        {
            moved.push(license.id);
        }
    }
    tracing::info!(request_id = %change.id, licenses = moved.len(), "contact change confirmed");
    Ok(ContactChanged {
        tenant_id: change.tenant_id,
        from_email: change.from_email,
        to_email: change.to_email,
        license_ids: moved,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_tokens_are_looked_up() {
        assert_eq!(token_of(" khc_abc123 "), Some("khc_abc123"));
        assert_eq!(token_of("khl_abc123"), None);
        assert_eq!(token_of("khc_a/b"), None);
        assert_eq!(token_of(&format!("khc_{}", "a".repeat(200))), None);
    }

    #[test]
    fn refusals_have_codes() {
        let e: Error = ContactChangeError::LinkExpired.into();
        assert_eq!((e.status().as_u16(), e.code()), (400, "link_expired"));
        let e: Error = ContactChangeError::InvalidEmail.into();
        assert_eq!(e.status().as_u16(), 422);
    }
}
