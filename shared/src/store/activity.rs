//! A license's activity log (`domain::activity`): the attribute `activity` of the license item,
//! appended to by the same write that makes the change it records, read with the license.
//!
//! Appends are `list_append` (never conditional on the list, so two concurrent writers both
//! keep their entries); once a write leaves more than `MAX_ACTIVITY + TRIM_SLACK` entries, a
//! second write removes the oldest, on condition that the list is still at least as long as
//! the writer saw it, so only entries older than the newest `MAX_ACTIVITY` ever go.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Deserialize;

use super::{applied, table_keys, Store};
use crate::domain::activity::{ActivityEntry, MAX_ACTIVITY, TRIM_SLACK};
use crate::{Error, Result};

/// The update expression's part that appends `:activity` to the log.
pub(crate) const APPEND: &str =
    "#activity = list_append(if_not_exists(#activity, :noActivity), :activity)";

/// The names and values [`APPEND`] uses, for `entries`.
pub(crate) fn append_values(
    entries: &[ActivityEntry],
) -> Result<(HashMap<String, String>, HashMap<String, AttributeValue>)> {
    let list = serde_dynamo::to_attribute_value(entries)
        .map_err(|e| Error::internal(format!("serialising activity: {e}")))?;
    Ok((
        HashMap::from([("#activity".to_string(), "activity".to_string())]),
        HashMap::from([
            (":activity".to_string(), list),
            (":noActivity".to_string(), AttributeValue::L(Vec::new())),
        ]),
    ))
}

/// The attribute a new license item carries: its first entries.
pub(crate) fn initial(entries: &[ActivityEntry]) -> Result<(String, AttributeValue)> {
    Ok((
        "activity".to_string(),
        serde_dynamo::to_attribute_value(entries)
            .map_err(|e| Error::internal(format!("serialising activity: {e}")))?,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LicenseActivity {
    tenant_id: String,
    #[serde(default)]
    activity: Vec<ActivityEntry>,
}

impl Store {
    /// A tenant's license's activity log, oldest first (one strongly consistent `GetItem` of
    /// the two attributes); `None` when the license is not the tenant's.
    pub async fn get_license_activity(
        &self,
        tenant_id: &str,
        license_id: &str,
    ) -> Result<Option<Vec<ActivityEntry>>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::license(license_id))))
            .consistent_read(true)
            .projection_expression("tenantId, #activity")
            .expression_attribute_names("#activity", "activity")
            .send()
            .await
            .map_err(super::dynamo_err)?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let found: LicenseActivity = Self::record(item)?;
        Ok((found.tenant_id == tenant_id).then_some(found.activity))
    }

    /// Cuts the log back to its newest [`MAX_ACTIVITY`] entries when a write left `length`
    /// (as far as the writer knows) over the slack. Best effort: a failure is logged, and the
    /// next write tries again.
    pub(crate) async fn trim_activity(&self, license_id: &str, length: usize) {
        if length <= MAX_ACTIVITY + TRIM_SLACK {
            return;
        }
        let cut = length - MAX_ACTIVITY;
        let removes: Vec<String> = (0..cut).map(|i| format!("#activity[{i}]")).collect();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::license(license_id))))
            .update_expression(format!("REMOVE {}", removes.join(", ")))
            .condition_expression("size(#activity) >= :length")
            .expression_attribute_names("#activity", "activity")
            .expression_attribute_values(":length", AttributeValue::N(length.to_string()))
            .send()
            .await;
        match applied(result) {
            Ok(true) => {}
            Ok(false) => tracing::info!(license_id, "activity trimmed meanwhile"),
            Err(e) => tracing::warn!(license_id, error = %e, "could not trim the activity log"),
        }
    }
}
