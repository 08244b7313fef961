//! Who may use a tenant's dashboard: members (by email, with a role), the requests that email
//! them a sign-in link, and their sessions. Nothing here is a secret in plain form: sessions are
//! stored under the SHA-256 of their cookie, and a link's token exists only in its email.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::time::serde_ts;

/// What a member may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything, changes nothing.
    Viewer,
    /// Changes everything but the team.
    Admin,
    /// Also invites and removes members.
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "admin" => Some(Role::Admin),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }

    /// May change the tenant's apps, products, licenses, keys and tokens.
    pub fn can_edit(self) -> bool {
        self >= Role::Admin
    }

    /// May invite and remove members.
    pub fn can_manage_team(self) -> bool {
        self == Role::Owner
    }
}

/// How many API tokens one member may answer for (created, or handed over to them): removing a
/// member revokes or hands over all of theirs in one transaction, which this keeps in bounds.
pub const MAX_TOKENS_PER_MEMBER: usize = 50;

/// A member of a tenant's team. An email may belong to several tenants.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// `mem_…`: names the member in the dashboard's URLs (never the email).
    pub id: String,
    pub tenant_id: String,
    /// Lowercase.
    pub email: String,
    pub role: Role,
    /// Who invited them (an email, or `operator` for the CLI).
    pub invited_by: String,
    #[serde(with = "serde_ts")]
    pub created_at: OffsetDateTime,
    /// Moves on every change of the member (a role, a token they answer for): role changes and
    /// removal are conditional on the version read. 0: never changed.
    #[serde(default)]
    pub version: u64,
    /// The SHA-256 of every API token this member answers for (a DynamoDB string set), so
    /// removing them finds each of their tokens with the read that removal is conditional on.
    #[serde(
        default,
        with = "serde_dynamo::string_set",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub token_hashes: Vec<String>,
}

/// The canonical form of an email address used as an identity (trimmed, lowercase).
pub fn normalize_email(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

/// Why a sign-in link is emailed: the email's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkReason {
    /// Someone asked for a link on the sign-in page.
    SignIn,
    /// An owner invited them.
    Invitation,
    /// Their new tenant was created.
    Welcome,
}

/// A request to email a sign-in link. The request path writes one for every address asked
/// for, member or not (the same work either way); the mailer finds the address's accounts, and
/// only if it has some makes the link and sends it. Its id is all the mail queue carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInRequest {
    pub id: String,
    /// Lowercase.
    pub email: String,
    pub reason: LinkReason,
    /// The account an invitation or welcome is about (listed first on the link's page).
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// Who invited them, for the invitation's wording.
    #[serde(default)]
    pub invited_by: Option<String>,
    #[serde(with = "serde_ts")]
    pub created_at: OffsetDateTime,
    /// Set once the mailer has sent its email (a redelivered job then sends nothing). Never
    /// written while unset: a stored NULL would fail the mark's `attribute_not_exists`.
    #[serde(
        default,
        with = "serde_ts::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub sent_at: Option<OffsetDateTime>,
    /// DynamoDB's time to live (epoch seconds).
    pub ttl: i64,
}

/// A signed-in browser, stored under the SHA-256 of its cookie.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub tenant_id: String,
    /// The member signed in (absent for an API-token session).
    #[serde(default)]
    pub email: Option<String>,
    /// The API token signed in with, by id and hash (absent for a member).
    #[serde(default)]
    pub token_id: Option<String>,
    #[serde(default)]
    pub token_hash: Option<String>,
    /// The tenant's name, for the page header.
    pub tenant_name: String,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
    #[serde(with = "serde_ts")]
    pub created_at: OffsetDateTime,
    #[serde(with = "serde_ts")]
    pub expires_at: OffsetDateTime,
    pub ttl: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_order_their_powers() {
        assert!(!Role::Viewer.can_edit());
        assert!(Role::Admin.can_edit() && !Role::Admin.can_manage_team());
        assert!(Role::Owner.can_edit() && Role::Owner.can_manage_team());
        assert_eq!(Role::parse("admin"), Some(Role::Admin));
        assert_eq!(Role::parse("root"), None);
        assert_eq!(normalize_email(" Ada@Example.COM "), "ada@example.com");
    }
}
