//! Who may use a tenant's dashboard: members (by email, with a role), their sign-in links and
//! their sessions. Nothing here is a secret in plain form: links and sessions are stored under
//! the SHA-256 of their token, and a link's token is kept only sealed (for the mailer).

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
}

/// The canonical form of an email address used as an identity (trimmed, lowercase).
pub fn normalize_email(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

/// A one-time sign-in link, stored under the SHA-256 of its token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInLink {
    pub tenant_id: String,
    pub email: String,
    /// The token, sealed under the tenant key: only the mailer opens it, to write the link.
    pub token_sealed: String,
    /// Why it was sent (`sign_in`, `invitation`, `welcome`): the email's wording.
    pub reason: String,
    /// Who asked for it (the inviter's email), for the invitation's wording.
    #[serde(default)]
    pub invited_by: Option<String>,
    #[serde(with = "serde_ts")]
    pub created_at: OffsetDateTime,
    #[serde(with = "serde_ts")]
    pub expires_at: OffsetDateTime,
    /// DynamoDB's time to live (epoch seconds): expired links disappear by themselves.
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
