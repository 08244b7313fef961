//! Subscription price mappings: which Stripe recurring price (`price_…`) of which app sells
//! which product. Several per product are allowed ("Monthly", "Annual", "Pro").

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::time::serde_ts;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceMapping {
    pub id: String,
    pub tenant_id: String,
    pub app_id: String,
    pub product_id: String,
    pub stripe_price_id: String,
    pub display_name: Option<String>,
    pub display_price: Option<String>,
    #[serde(with = "serde_ts")]
    pub created_at: OffsetDateTime,
    #[serde(with = "serde_ts")]
    pub updated_at: OffsetDateTime,
}
