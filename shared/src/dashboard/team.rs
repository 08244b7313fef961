//! Team members and their one-time sign-in links. A link is 160 random bits, valid 15 minutes,
//! usable once; it is stored under its SHA-256, with the token itself sealed under the tenant
//! key for the mailer.

use time::Duration;

use super::mail::{SignInMail, TOKEN_SEAL_FIELD};
use crate::crypto::SealContext;
use crate::domain::member::{normalize_email, Member, Role, SignInLink};
use crate::domain::Tenant;
use crate::http::auth::token_hash;
use crate::http::input::is_email;
use crate::{ids, Error, Result, Services};

/// How long a sign-in link works.
pub const LINK_LIFETIME: Duration = Duration::minutes(15);

/// Adds a member; a validation error when the email is not one, a conflict when already in.
pub async fn add_member(
    s: &Services,
    tenant_id: &str,
    email: &str,
    role: Role,
    invited_by: &str,
) -> Result<Member> {
    let email = normalize_email(email);
    if !is_email(&email) {
        return Err(Error::validation("email", "is not an email address"));
    }
    let member = Member {
        id: ids::new_id("mem"),
        tenant_id: tenant_id.to_string(),
        email,
        role,
        invited_by: invited_by.to_string(),
        created_at: crate::time::now(),
    };
    if !s.store.add_member(&member).await? {
        return Err(Error::Conflict(format!(
            "{} is already a member of this team",
            member.email
        )));
    }
    Ok(member)
}

/// A new sign-in link for a member; the token (to email, or to print in `make dev`).
pub async fn create_link(
    s: &Services,
    tenant_id: &str,
    email: &str,
    reason: &str,
    invited_by: Option<&str>,
) -> Result<(String, String)> {
    let token = format!("khl_{}", ids::random_symbols(32).to_ascii_lowercase());
    let hash = token_hash(&token);
    let token_sealed = s
        .keyring
        .seal(
            SealContext {
                tenant_id,
                owner: &hash,
                field: TOKEN_SEAL_FIELD,
            },
            token.as_bytes(),
        )
        .await?;
    let now = crate::time::now();
    let expires_at = now + LINK_LIFETIME;
    s.store
        .put_sign_in_link(
            &hash,
            &SignInLink {
                tenant_id: tenant_id.to_string(),
                email: normalize_email(email),
                token_sealed,
                reason: reason.to_string(),
                invited_by: invited_by.map(str::to_string),
                created_at: now,
                expires_at,
                // Kept a day past expiry, then DynamoDB drops it.
                ttl: (expires_at + Duration::days(1)).unix_timestamp(),
            },
        )
        .await?;
    Ok((token, hash))
}

/// A new link, emailed (outbox -> mailer -> SES).
pub async fn send_link(
    s: &Services,
    tenant_id: &str,
    email: &str,
    reason: &str,
    invited_by: Option<&str>,
) -> Result<()> {
    let (_, hash) = create_link(s, tenant_id, email, reason, invited_by).await?;
    s.outbox
        .enqueue_message(&SignInMail {
            tenant_id: tenant_id.to_string(),
            sign_in_link: hash,
        })
        .await
}

/// `keyhook tenant create --owner-email`: a tenant, its first API token, and its owner, who is
/// emailed a welcome sign-in link.
pub async fn create_tenant_with_owner(
    s: &Services,
    name: &str,
    owner_email: &str,
) -> Result<(Tenant, String, Member)> {
    if !is_email(&normalize_email(owner_email)) {
        return Err(Error::validation("ownerEmail", "is not an email address"));
    }
    let (tenant, token) = crate::handlers::admin::tenant::create_tenant(s, name).await?;
    let owner = add_member(s, &tenant.id, owner_email, Role::Owner, "operator").await?;
    send_link(s, &tenant.id, &owner.email, "welcome", None).await?;
    Ok((tenant, token, owner))
}
