//! The usage counts of a license (`domain::validation::meters`): read with the license
//! (`Store::get_license_with_usage`, one GetItem) and written by one conditional UpdateItem on
//! their own version, `meterVersion`, and on the status read. A write decided on a stale read
//! fails and the caller decides again on a fresh read, so no two records spend the same
//! remainder.

use std::collections::BTreeMap;

use super::license_usage::ChangeWrite;
use super::Store;
use crate::domain::validation::meters::MeterCount;
use crate::domain::License;
use crate::Result;

impl Store {
    /// Writes `counts` as the license's usage if its meter version is still `version` (0:
    /// never written) and its status the one read.
    pub async fn write_meters(
        &self,
        license: &License,
        version: u64,
        counts: &BTreeMap<String, MeterCount>,
    ) -> Result<ChangeWrite> {
        self.write_versioned(license, "meters", "meterVersion", version, counts)
            .await
    }
}
