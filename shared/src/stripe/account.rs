//! `GET /v1/account`: the account a secret key belongs to (its id, country, default currency
//! and name), which also tells whether Stripe accepts the key.

use serde::Deserialize;

use super::client::{Form, StripeClient, StripeError};
use crate::crypto::Secret;

/// The parts of Stripe's `account` object Keyhook uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Account {
    pub id: String,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub default_currency: Option<String>,
    #[serde(default)]
    settings: Option<Settings>,
    #[serde(default)]
    business_profile: Option<BusinessProfile>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
struct Settings {
    #[serde(default)]
    dashboard: Option<Dashboard>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
struct Dashboard {
    #[serde(default)]
    display_name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
struct BusinessProfile {
    #[serde(default)]
    name: Option<String>,
}

impl Account {
    /// The account's name as the merchant sees it in Stripe: the dashboard's display name,
    /// else the business name.
    pub fn name(&self) -> Option<&str> {
        let display = self
            .settings
            .as_ref()
            .and_then(|s| s.dashboard.as_ref())
            .and_then(|d| d.display_name.as_deref());
        let business = self
            .business_profile
            .as_ref()
            .and_then(|b| b.name.as_deref());
        display
            .or(business)
            .map(str::trim)
            .filter(|n| !n.is_empty())
    }
}

/// The account of `key`.
pub async fn retrieve(client: &StripeClient, key: &Secret) -> Result<Account, StripeError> {
    let body = client.get(key, "account", &Form::new()).await?;
    serde_json::from_value(body)
        .map_err(|e| StripeError::Unreachable(format!("Stripe's account object did not read: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stripes_account_object() {
        let mut fixture: serde_json::Value =
            serde_json::from_str(include_str!("../../../events/stripe/objects/account.json"))
                .unwrap();
        let a: Account = serde_json::from_value(fixture.clone()).unwrap();
        assert_eq!(a.id, "acct_1PgafTB7WZ01zgkW");
        assert_eq!(a.default_currency.as_deref(), Some("usd"));
        assert_eq!(a.name(), None, "the fixture names nothing");
        fixture["business_profile"]["name"] = "Acme Inc".into();
        let a: Account = serde_json::from_value(fixture.clone()).unwrap();
        assert_eq!(a.name(), Some("Acme Inc"));
        fixture["settings"]["dashboard"]["display_name"] = "Acme".into();
        let a: Account = serde_json::from_value(fixture).unwrap();
        assert_eq!(a.name(), Some("Acme"));
    }
}
