//! A tenant's currencies: Stripe's shipped list merged with the tenant's own settings
//! (deactivated codes, added codes), which live in its partition as `CURRENCY#<code>`.

use std::collections::BTreeMap;

use super::keys::kind;
use super::Store;
use crate::domain::currency::{self, Currency};
use crate::Result;

impl Store {
    /// Every currency of a tenant, sorted by code: one Query.
    pub async fn currencies(&self, tenant_id: &str) -> Result<Vec<Currency>> {
        let mut all: BTreeMap<String, Currency> =
            currency::shipped().map(|c| (c.code.clone(), c)).collect();
        for setting in self
            .all_tenant_items::<Currency>(tenant_id, kind::CURRENCY)
            .await?
        {
            all.insert(setting.code.clone(), setting);
        }
        Ok(all.into_values().collect())
    }

    /// One currency of a tenant, if it exists (shipped or added).
    pub async fn currency(&self, tenant_id: &str, code: &str) -> Result<Option<Currency>> {
        if let Some(c) = self
            .get_tenant_item(tenant_id, kind::CURRENCY, code)
            .await?
        {
            return Ok(Some(c));
        }
        Ok(currency::shipped().find(|c| c.code == code))
    }

    /// Stores a tenant's setting for a currency.
    pub async fn put_currency(&self, tenant_id: &str, c: &Currency) -> Result<()> {
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Setting<'a> {
            tenant_id: &'a str,
            #[serde(flatten)]
            currency: &'a Currency,
        }
        self.put_tenant_item(
            tenant_id,
            kind::CURRENCY,
            &c.code,
            &Setting {
                tenant_id,
                currency: c,
            },
        )
        .await
    }
}
