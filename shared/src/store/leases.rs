//! The floating seats of a license (`domain::validation::leases`): read with the license
//! (`Store::get_license_with_usage`, one GetItem) and written by one conditional UpdateItem on
//! their own version, `leaseVersion`, and on the status read. A write decided on a stale read
//! fails and the caller decides again on a fresh read, so no two requests ever fill the same
//! free seat. Lapsed leases need no cleanup: the rules ignore them and every write drops them,
//! so the list never holds more than `maxConcurrent` live leases plus the lapsed ones since the
//! last write.

use aws_sdk_dynamodb::types::AttributeValue;

use super::applied;
use super::license_usage::ChangeWrite;
use super::{table_keys, Store};
use crate::domain::validation::leases::Lease;
use crate::domain::License;
use crate::Result;

impl Store {
    /// Writes `leases` as the license's seats if its lease version is still `version` (0:
    /// never written) and its status the one read.
    pub async fn write_leases(
        &self,
        license: &License,
        version: u64,
        leases: &[Lease],
    ) -> Result<ChangeWrite> {
        self.write_versioned(license, "leases", "leaseVersion", version, &leases)
            .await
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
