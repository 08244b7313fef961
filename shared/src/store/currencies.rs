//! A tenant's currency settings (activated, deactivated or added codes), in its partition as
//! `CURRENCY#<code>`. What a tenant's currencies are, settings merged with Stripe's shipped
//! list and its apps' currencies, is `domain::currency`'s rule.

use super::table_keys::kind;
use super::Store;
use crate::domain::currency::Currency;
use crate::Result;

impl Store {
    /// Every currency setting of a tenant: one Query.
    pub async fn currency_settings(&self, tenant_id: &str) -> Result<Vec<Currency>> {
        self.all_tenant_items::<Currency>(tenant_id, kind::CURRENCY)
            .await
    }

    /// The tenant's setting for one currency, if it has one.
    pub async fn currency_setting(&self, tenant_id: &str, code: &str) -> Result<Option<Currency>> {
        self.get_tenant_item(tenant_id, kind::CURRENCY, code).await
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
