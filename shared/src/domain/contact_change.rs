//! A buyer's change of contact address with one merchant: asked from the customer portal,
//! confirmed from the new address by a one-time link before it takes effect. The request
//! record is what the mail queue names; the link record is stored under the SHA-256 of its
//! token (the token exists only in the email). Both carry a `ttl`, so DynamoDB drops them.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::time::serde_ts;

/// How long a confirmation link works.
pub const LIFETIME: Duration = Duration::hours(24);

/// One asked change: the tenant's licenses of `from_email` move to `to_email`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactChange {
    /// `ccr_…`.
    pub id: String,
    pub tenant_id: String,
    /// The current owner address, lowercase.
    pub from_email: String,
    /// The new address, lowercase: where the link goes.
    pub to_email: String,
    #[serde(with = "serde_ts")]
    pub created_at: OffsetDateTime,
    #[serde(with = "serde_ts")]
    pub expires_at: OffsetDateTime,
    /// Set once the mailer has sent the link (a redelivered job then sends nothing).
    #[serde(
        default,
        with = "serde_ts::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub sent_at: Option<OffsetDateTime>,
    /// DynamoDB's time to live (epoch seconds): a day past expiry.
    pub ttl: i64,
}

impl ContactChange {
    /// A new request, expiring [`LIFETIME`] after `now`.
    pub fn new(id: String, tenant_id: &str, from: &str, to: &str, now: OffsetDateTime) -> Self {
        let expires_at = now + LIFETIME;
        ContactChange {
            id,
            tenant_id: tenant_id.to_string(),
            from_email: from.trim().to_lowercase(),
            to_email: to.trim().to_lowercase(),
            created_at: now,
            expires_at,
            sent_at: None,
            ttl: (expires_at + Duration::days(1)).unix_timestamp(),
        }
    }

    pub fn is_usable(&self, now: OffsetDateTime) -> bool {
        self.expires_at > now
    }
}
