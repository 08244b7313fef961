//! Plans: named license durations of a product ("Annual" = 365 days). A `planId` in Stripe
//! metadata picks one; 0 days means perpetual.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::time::serde_ts;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub id: String,
    pub tenant_id: String,
    pub product_id: String,
    pub name: String,
    pub days: u32,
    #[serde(with = "serde_ts")]
    pub created_at: OffsetDateTime,
    #[serde(with = "serde_ts")]
    pub updated_at: OffsetDateTime,
}
