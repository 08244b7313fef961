//! Reconciliation watermarks: per Stripe app, up to when its events have been checked against
//! the event log, and what the last run found (in the tenant's partition, `RECONCILE#<appId>`).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{dynamo_err, table_keys, Store};
use crate::time::serde_ts;
use crate::Result;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconcileMark {
    pub tenant_id: String,
    pub app_id: String,
    /// Every event Stripe created up to here has been checked.
    #[serde(with = "serde_ts")]
    pub through: OffsetDateTime,
    #[serde(with = "serde_ts")]
    pub last_run_at: OffsetDateTime,
    /// Events the last run listed, and the ids of those it had to process itself.
    pub last_listed: u32,
    pub last_recovered: Vec<String>,
}

impl Store {
    pub async fn reconcile_mark(
        &self,
        tenant_id: &str,
        app_id: &str,
    ) -> Result<Option<ReconcileMark>> {
        self.get(table_keys::reconcile_mark(tenant_id, app_id))
            .await
    }

    pub async fn put_reconcile_mark(&self, m: &ReconcileMark) -> Result<()> {
        let item = Self::item(m, table_keys::reconcile_mark(&m.tenant_id, &m.app_id))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(dynamo_err)?;
        Ok(())
    }
}
