//! Team members: invitations (rate-limited per tenant and per recipient), role changes and
//! removal, and the requests that email sign-in links.
//!
//! A tenant always keeps an owner, under any concurrency: a change that demotes or removes an
//! owner is written on condition that the member is still at the version read and that the
//! owner it relies on (the acting owner, or another owner when one acts on themselves) still is
//! one when it commits. Removing a member revokes the API tokens they answer for, or hands them
//! over to the acting owner, in the same transaction.

use super::public::{self, Limit};
use super::session::Signed;
use crate::domain::member::{
    normalize_email, LinkReason, Member, Role, SignInRequest, MAX_TOKENS_PER_MEMBER,
};
use crate::domain::Tenant;
use crate::http::input::is_email;
use crate::mail::SignInMail;
use crate::store::members::TokensOfRemoved;
use crate::{ids, Error, Result, Services};

/// Invitations one tenant may send in 15 minutes.
pub const INVITES_PER_TENANT: Limit = Limit {
    scope: "invite-tenant",
    max: 20,
    message: "This account has sent 20 invitations in the last 15 minutes. Wait a few minutes and try again.",
};
/// Invitations one address may receive in 15 minutes, from any tenant.
pub const INVITES_PER_RECIPIENT: Limit = Limit {
    scope: "invite-email",
    max: 3,
    message: "This address has been invited 3 times in the last 15 minutes. Wait a few minutes and try again.",
};

/// How long a sign-in request is kept (its email is sent within seconds).
const REQUEST_TTL: time::Duration = time::Duration::days(1);

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
        version: 0,
        token_hashes: Vec::new(),
    };
    if !s.store.add_member(&member).await? {
        return Err(Error::Conflict(format!(
            "{} is already a member of this team",
            member.email
        )));
    }
    Ok(member)
}

/// Asks for a sign-in link to be emailed to `email`: records the request and queues its email.
/// The same two writes whoever the address belongs to; the mailer finds its accounts.
pub async fn request_link(
    s: &Services,
    email: &str,
    reason: LinkReason,
    tenant_id: Option<&str>,
    invited_by: Option<&str>,
) -> Result<()> {
    let now = crate::time::now();
    let request = SignInRequest {
        id: ids::new_id("sir"),
        email: normalize_email(email),
        reason,
        tenant_id: tenant_id.map(str::to_string),
        invited_by: invited_by.map(str::to_string),
        created_at: now,
        sent_at: None,
        ttl: (now + REQUEST_TTL).unix_timestamp(),
    };
    s.store.put_sign_in_request(&request).await?;
    s.outbox
        .enqueue_message(&SignInMail {
            sign_in_request: request.id,
        })
        .await
}

/// The accounts an address belongs to (tenants that still exist), by name.
pub async fn accounts(s: &Services, email: &str) -> Result<Vec<(Tenant, Member)>> {
    let memberships = s.store.memberships(email).await?;
    let ids: Vec<String> = memberships.iter().map(|m| m.tenant_id.clone()).collect();
    let tenants = s.store.get_tenants(&ids).await?;
    let mut accounts: Vec<(Tenant, Member)> = memberships
        .into_iter()
        .filter_map(|m| {
            let t = tenants.iter().find(|t| t.id == m.tenant_id)?;
            Some((t.clone(), m))
        })
        .collect();
    accounts.sort_by(|(a, _), (b, _)| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    Ok(accounts)
}

/// A member as the settings page lists them.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    pub id: String,
    pub email: String,
    pub role: &'static str,
    pub created_at: String,
    pub invited_by: String,
    /// How many API tokens they answer for.
    pub tokens: usize,
}

/// The team of the signed-in member's tenant, by email.
pub async fn members(s: &Services, me: &Signed) -> Result<Vec<MemberView>> {
    let mut members: Vec<MemberView> = s
        .store
        .members(&me.tenant_id)
        .await?
        .into_iter()
        .map(|m| MemberView {
            role: m.role.as_str(),
            created_at: crate::time::format(m.created_at),
            tokens: m.token_hashes.len(),
            id: m.id,
            email: m.email,
            invited_by: m.invited_by,
        })
        .collect();
    members.sort_by(|a, b| a.email.cmp(&b.email));
    Ok(members)
}

/// An owner invites `email` with `role`: the member, emailed a sign-in link.
pub async fn invite(s: &Services, me: &Signed, email: &str, role: Role) -> Result<Member> {
    let email = normalize_email(email);
    if !is_email(&email) {
        return Err(Error::validation("email", "is not an email address"));
    }
    public::limit(s, INVITES_PER_TENANT, &me.tenant_id).await?;
    public::limit(s, INVITES_PER_RECIPIENT, &email).await?;
    let inviter = me.email.clone().unwrap_or_else(|| me.who.clone());
    let member = add_member(s, &me.tenant_id, &email, role, &inviter).await?;
    request_link(
        s,
        &member.email,
        LinkReason::Invitation,
        Some(&me.tenant_id),
        Some(&inviter),
    )
    .await?;
    Ok(member)
}

/// The acting owner's email (API-token sessions are admins, never owners).
fn actor(me: &Signed) -> Result<&str> {
    me.must_manage_team()?;
    me.email
        .as_deref()
        .ok_or_else(|| Error::Forbidden("Only owners can invite or remove team members.".into()))
}

/// The team as it stands (one consistent read) and the member `member_id` in it.
async fn team_and_member(
    s: &Services,
    me: &Signed,
    member_id: &str,
) -> Result<(Vec<Member>, Member)> {
    let members = s.store.members(&me.tenant_id).await?;
    let member = members
        .iter()
        .find(|m| m.id == member_id)
        .cloned()
        .ok_or_else(|| Error::not_found(format!("Member {member_id}")))?;
    Ok((members, member))
}

/// The owners a change of `target` relies on to leave the tenant an owner: the acting owner
/// (who must still be one when it commits), or, when an owner demotes or removes themselves,
/// another owner. `what` words the refusal for the last owner.
fn owners_relied_on<'a>(
    members: &'a [Member],
    target: &Member,
    actor: &'a str,
    takes_an_owner_away: bool,
    what: &str,
) -> Result<Vec<&'a str>> {
    if actor != target.email {
        return Ok(vec![actor]);
    }
    if !takes_an_owner_away {
        return Ok(Vec::new());
    }
    members
        .iter()
        .find(|m| m.role == Role::Owner && m.email != target.email)
        .map(|o| vec![o.email.as_str()])
        .ok_or_else(|| {
            Error::Conflict(format!(
                "The last owner cannot be {what}; make someone else owner first."
            ))
        })
}

fn changed_meanwhile() -> Error {
    Error::Conflict(
        "The team changed while you were on this page (a role changed, or a member left or created an API token). Reload it and try again."
            .into(),
    )
}

/// An owner changes a member's role.
pub async fn change_role(s: &Services, me: &Signed, member_id: &str, role: Role) -> Result<()> {
    let actor = actor(me)?;
    let (members, member) = team_and_member(s, me, member_id).await?;
    if member.role == role {
        return Ok(());
    }
    let demotes_an_owner = member.role == Role::Owner;
    let owners = owners_relied_on(&members, &member, actor, demotes_an_owner, "demoted")?;
    if !s.store.change_member_role(&member, role, &owners).await? {
        return Err(changed_meanwhile());
    }
    tracing::info!(tenant_id = %me.tenant_id, member_id = %member.id, role = role.as_str(), "member's role changed");
    Ok(())
}

/// What happens to a removed member's API tokens, as the removing owner chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenChoice {
    Revoke,
    HandOverToMe,
}

impl TokenChoice {
    pub fn parse(s: &str) -> Option<TokenChoice> {
        match s {
            "revoke" => Some(TokenChoice::Revoke),
            "hand_over" => Some(TokenChoice::HandOverToMe),
            _ => None,
        }
    }
}

/// An owner removes a member (their sessions end at once); the API tokens they answer for are
/// revoked or handed over to the acting owner, as `choice` says (required when they have
/// any). Returns how many tokens were revoked or handed over.
pub async fn remove(
    s: &Services,
    me: &Signed,
    member_id: &str,
    choice: Option<TokenChoice>,
) -> Result<usize> {
    let actor = actor(me)?;
    let (members, member) = team_and_member(s, me, member_id).await?;
    let owners = owners_relied_on(
        &members,
        &member,
        actor,
        member.role == Role::Owner,
        "removed",
    )?;
    let tokens = s
        .store
        .tokens_by_hash(&me.tenant_id, &member.token_hashes)
        .await?;
    let fate = match (choice, tokens.is_empty()) {
        (_, true) | (Some(TokenChoice::Revoke), _) => TokensOfRemoved::Revoke,
        (Some(TokenChoice::HandOverToMe), false) => {
            if actor == member.email {
                return Err(Error::validation(
                    "tokens",
                    "cannot be handed over to yourself as you leave; revoke them, or ask another owner to remove you",
                ));
            }
            let mine = members
                .iter()
                .find(|m| m.email == actor)
                .map_or(0, |m| m.token_hashes.len());
            if mine + tokens.len() > MAX_TOKENS_PER_MEMBER {
                return Err(Error::validation(
                    "tokens",
                    format!("would make you answer for more than {MAX_TOKENS_PER_MEMBER} API tokens; revoke them, or some of yours first"),
                ));
            }
            TokensOfRemoved::HandOverTo(actor.to_string())
        }
        (None, false) => {
            return Err(Error::validation(
                "tokens",
                format!(
                    "choose whether {}'s {} API token(s) are revoked or handed over to you",
                    member.email,
                    tokens.len()
                ),
            ))
        }
    };
    if !s
        .store
        .remove_member(&member, &tokens, &fate, &owners)
        .await?
    {
        return Err(changed_meanwhile());
    }
    tracing::info!(
        tenant_id = %me.tenant_id,
        member_id = %member.id,
        tokens = tokens.len(),
        handed_over = matches!(fate, TokensOfRemoved::HandOverTo(_)),
        "member removed"
    );
    Ok(tokens.len())
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
    request_link(s, &owner.email, LinkReason::Welcome, Some(&tenant.id), None).await?;
    Ok((tenant, token, owner))
}
