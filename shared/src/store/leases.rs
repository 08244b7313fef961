//! The floating seats of a license (`domain::validation::leases`): read with the license
//! (`Store::get_license_with_usage`, one GetItem) and written by one conditional UpdateItem on
//! their own version, `leaseVersion`, and on the status read. A write decided on a stale read
//! fails and the caller decides again on a fresh read, so no two requests ever fill the same
//! free seat. Lapsed leases need no cleanup: the rules ignore them and every write drops them,
//! so the list never holds more than `maxConcurrent` live leases plus the lapsed ones since the
//! last write.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::applied;
use super::license_usage::ChangeWrite;
use super::{table_keys, Store};
use crate::domain::validation::leases::Lease;
use crate::domain::License;
use crate::{Error, Result};

impl Store {
    /// Writes `leases` as the license's seats if its lease version is still `version` (0:
    /// never written) and its status the one read.
    pub async fn write_leases(
        &self,
        license: &License,
        version: u64,
        leases: &[Lease],
    ) -> Result<ChangeWrite> {
        let list = serde_dynamo::to_attribute_value(leases)
            .map_err(|e| Error::internal(format!("serialising leases: {e}")))?;
        let status = serde_dynamo::to_attribute_value(license.status)
            .map_err(|e| Error::internal(format!("serialising status: {e}")))?;
        let mut values = HashMap::from([
            (":leases".to_string(), list),
            (
                ":next".to_string(),
                AttributeValue::N((version + 1).to_string()),
            ),
            (":status".to_string(), status),
        ]);
        let condition = if version == 0 {
            "attribute_exists(pk) AND #status = :status AND attribute_not_exists(#lv)"
        } else {
            values.insert(":lv".into(), AttributeValue::N(version.to_string()));
            "attribute_exists(pk) AND #status = :status AND #lv = :lv"
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::license(&license.id))))
            .update_expression("SET leases = :leases, #lv = :next")
            .condition_expression(condition)
            .expression_attribute_names("#lv", "leaseVersion")
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

    /// Records that the seats of `license_id` ran out at `at` (epoch seconds), if the last
    /// record is still `previous` (so racing refusals record it once). Whether it was recorded.
    pub async fn mark_lease_limit_reached(
        &self,
        license_id: &str,
        previous: Option<i64>,
        at: i64,
    ) -> Result<bool> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(table_keys::license(license_id))))
            .update_expression("SET #at = :at")
            .expression_attribute_names("#at", "leaseLimitReachedAt")
            .expression_attribute_values(":at", AttributeValue::N(at.to_string()));
        let update = match previous {
            None => {
                update.condition_expression("attribute_exists(pk) AND attribute_not_exists(#at)")
            }
            Some(p) => update
                .condition_expression("#at = :previous")
                .expression_attribute_values(":previous", AttributeValue::N(p.to_string())),
        };
        applied(update.send().await)
    }
}
