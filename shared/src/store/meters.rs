//! The usage counts of a license (`domain::validation::meters`): read with the license
//! (`Store::get_license_with_usage`, one GetItem) and written by one conditional UpdateItem on
//! their own version, `meterVersion`, and on the status read. A write decided on a stale read
//! fails and the caller decides again on a fresh read, so no two records spend the same
//! remainder.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;

use super::applied;
use super::license_usage::ChangeWrite;
use super::{table_keys, Store};
use crate::domain::validation::meters::MeterCount;
use crate::domain::License;
use crate::{Error, Result};

impl Store {
    /// Writes `counts` as the license's usage if its meter version is still `version` (0:
    /// never written) and its status the one read.
    pub async fn write_meters(
        &self,
        license: &License,
        version: u64,
        counts: &BTreeMap<String, MeterCount>,
    ) -> Result<ChangeWrite> {
        let map = serde_dynamo::to_attribute_value(counts)
            .map_err(|e| Error::internal(format!("serialising usage: {e}")))?;
        let status = serde_dynamo::to_attribute_value(license.status)
            .map_err(|e| Error::internal(format!("serialising status: {e}")))?;
        let mut values = HashMap::from([
            (":meters".to_string(), map),
            (
                ":next".to_string(),
                AttributeValue::N((version + 1).to_string()),
            ),
            (":status".to_string(), status),
        ]);
        let condition = if version == 0 {
            "attribute_exists(pk) AND #status = :status AND attribute_not_exists(#mv)"
        } else {
            values.insert(":mv".into(), AttributeValue::N(version.to_string()));
            "attribute_exists(pk) AND #status = :status AND #mv = :mv"
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::license(&license.id))))
            .update_expression("SET meters = :meters, #mv = :next")
            .condition_expression(condition)
            .expression_attribute_names("#mv", "meterVersion")
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        Ok(if applied(result)? {
            ChangeWrite::Written
        } else {
            ChangeWrite::Stale
        })
    }
}
