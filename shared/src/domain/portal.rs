//! The customer portal's settings, one set per tenant (stored on the tenant item): whether
//! the merchant's buyers may sign in to `/portal/{tenantId}`, how many devices a buyer may free
//! by themselves, and how the portal presents itself (name, accent colour, logo, support).
//! Everything has a default, so a merchant has nothing to turn on.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

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
    fn colours_are_six_hex_digits() {
        assert!(is_colour("#a0B1c2"));
        for bad in ["a0b1c2", "#abc", "#a0b1c2;", "#ggg000", ""] {
            assert!(!is_colour(bad), "{bad}");
        }
    }
}
