//! The customer portal's settings, one set per tenant (stored on the tenant item): whether
//! the merchant's buyers may sign in to `/portal/{tenantId}`, how many devices a buyer may free
//! by themselves, and how the portal presents itself (name, accent colour, logo, support).
//! Everything has a default, so a merchant has nothing to turn on.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// The window of the self-service free quota: frees older than this no longer count.
pub const FREE_WINDOW: Duration = Duration::days(30);
/// Most self-service frees a merchant can allow per license and window.
pub const MAX_FREES: u32 = 100;
/// The accent colour when none is set (the dashboard's own).
pub const DEFAULT_ACCENT: &str = "#2457c5";

/// A tenant's portal settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PortalSettings {
    /// Buyers may sign in (on by default).
    pub enabled: bool,
    /// Devices a buyer may free per license in any 30 days; 0 turns self-service freeing off.
    pub frees_per_30_days: u32,
    /// Where buyers ask for help: an email address or an https URL (empty: none shown).
    pub support: String,
    /// The name the portal shows (empty: the tenant's name).
    pub display_name: String,
    /// `#rrggbb` (empty: [`DEFAULT_ACCENT`]).
    pub accent_colour: String,
    /// An https URL of the merchant's logo (empty: none).
    pub logo_url: String,
}

impl Default for PortalSettings {
    fn default() -> Self {
        PortalSettings {
            enabled: true,
            frees_per_30_days: 3,
            support: String::new(),
            display_name: String::new(),
            accent_colour: String::new(),
            logo_url: String::new(),
        }
    }
}

impl PortalSettings {
    /// The name to show: the display name, else the tenant's.
    pub fn name<'a>(&'a self, tenant_name: &'a str) -> &'a str {
        if self.display_name.is_empty() {
            tenant_name
        } else {
            &self.display_name
        }
    }

    /// The accent colour to use.
    pub fn accent(&self) -> &str {
        if is_colour(&self.accent_colour) {
            &self.accent_colour
        } else {
            DEFAULT_ACCENT
        }
    }

    /// The support contact as a link target: `mailto:` for an address.
    pub fn support_href(&self) -> Option<String> {
        if self.support.is_empty() {
            None
        } else if self.support.starts_with("https://") {
            Some(self.support.clone())
        } else {
            Some(format!("mailto:{}", self.support))
        }
    }
}

/// `#rrggbb`.
pub fn is_colour(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// The self-service frees of one license within the window (oldest first), and whether one
/// more is allowed: the rule the quota's conditional write enforces.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FreeQuota {
    /// When each recent free happened (epoch seconds).
    pub frees: Vec<i64>,
    /// Optimistic concurrency: a free is recorded only if the version read is still current.
    #[serde(default)]
    pub version: u64,
}

impl FreeQuota {
    /// The frees still inside the window at `now`.
    pub fn recent(&self, now: OffsetDateTime) -> Vec<i64> {
        let since = (now - FREE_WINDOW).unix_timestamp();
        self.frees.iter().copied().filter(|t| *t > since).collect()
    }

    /// How many frees remain at `now` under a limit of `allowed`.
    pub fn remaining(&self, allowed: u32, now: OffsetDateTime) -> u32 {
        allowed.saturating_sub(self.recent(now).len() as u32)
    }

    /// When the oldest counted free leaves the window (the next free becomes possible), if the
    /// quota is used up.
    pub fn next_free_at(&self, allowed: u32, now: OffsetDateTime) -> Option<OffsetDateTime> {
        if allowed == 0 || self.remaining(allowed, now) > 0 {
            return None;
        }
        let recent = self.recent(now);
        let oldest = recent.len().checked_sub(allowed as usize)?;
        OffsetDateTime::from_unix_timestamp(recent[oldest])
            .ok()
            .map(|t| t + FREE_WINDOW)
    }
}

/// A buyer signed in to one tenant's portal, stored under the SHA-256 of its cookie (apart
/// from dashboard sessions: a portal cookie is never a dashboard session, nor the reverse).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortalSession {
    pub tenant_id: String,
    /// The buyer's address, lowercase: they see the licenses it owns.
    pub email: String,
    /// The token every form of the session carries.
    pub csrf: String,
    #[serde(with = "crate::time::serde_ts")]
    pub created_at: OffsetDateTime,
    #[serde(with = "crate::time::serde_ts")]
    pub expires_at: OffsetDateTime,
    /// DynamoDB's time to live (epoch seconds).
    pub ttl: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_on_with_three_frees() {
        let d: PortalSettings = serde_json::from_str("{}").unwrap();
        assert!(d.enabled);
        assert_eq!(d.frees_per_30_days, 3);
        assert_eq!(d.accent(), DEFAULT_ACCENT);
        assert_eq!(d.name("Acme"), "Acme");
        assert_eq!(d.support_href(), None);
    }

    #[test]
    fn frees_leave_the_window_after_30_days() {
        let now = crate::time::now();
        let t = |days: i64| (now - Duration::days(days)).unix_timestamp();
        let q = FreeQuota {
            frees: vec![t(31), t(20), t(10), t(1)],
            version: 4,
        };
        assert_eq!(q.recent(now).len(), 3);
        assert_eq!(q.remaining(3, now), 0);
        assert_eq!(q.remaining(5, now), 2);
        assert_eq!(q.remaining(0, now), 0);
        let next = q.next_free_at(3, now).unwrap();
        assert_eq!(next.unix_timestamp(), t(20) + FREE_WINDOW.whole_seconds());
        assert_eq!(q.next_free_at(5, now), None);
    }

    #[test]
    fn colours_are_six_hex_digits() {
        assert!(is_colour("#a0B1c2"));
        for bad in ["a0b1c2", "#abc", "#a0b1c2;", "#ggg000", ""] {
            assert!(!is_colour(bad), "{bad}");
        }
    }
}
