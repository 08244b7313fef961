//! One-time links: a token emailed to an address that, once, proves the holder reads that
//! address. Stored only as the SHA-256 of the token; the token itself exists only in the email.
//! Opening a link changes nothing: its page shows a button, and only that button's POST uses
//! the link up (so a mail scanner that follows links does not burn them, and another site
//! cannot sign a browser in with a link of its own). The dashboard's sign-in is one purpose;
//! each purpose's links open only its own page.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::time::serde_ts;

/// A one-time link as stored (under the SHA-256 of its token).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OneTimeLink {
    /// What the link is for (`dashboard`: a team member's sign-in).
    pub purpose: String,
    /// The address it was emailed to, lowercase: whom it signs in.
    pub subject: String,
    #[serde(with = "serde_ts")]
    pub created_at: OffsetDateTime,
    #[serde(with = "serde_ts")]
    pub expires_at: OffsetDateTime,
    /// DynamoDB's time to live (epoch seconds): expired links disappear by themselves.
    pub ttl: i64,
}

impl OneTimeLink {
    /// Whether the link still works at `now` for `purpose`.
    pub fn is_usable(&self, purpose: &str, now: OffsetDateTime) -> bool {
        self.purpose == purpose && self.expires_at > now
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::Duration;

    #[test]
    fn a_link_works_for_its_purpose_until_it_expires() {
        let now = crate::time::now();
        let link = OneTimeLink {
            purpose: "dashboard".into(),
            subject: "ada@example.com".into(),
            created_at: now,
            expires_at: now + Duration::minutes(15),
            ttl: 0,
        };
        assert!(link.is_usable("dashboard", now));
        assert!(!link.is_usable("portal", now));
        assert!(!link.is_usable("dashboard", now + Duration::minutes(15)));
    }
}
