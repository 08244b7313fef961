//! Checkout sessions Keyhook creates for a merchant: the rules that turn a request into what is
//! sold (one-time price or mapped subscription price, through which app, in which currency, for
//! how much), and the record kept of each session so its webhook can be matched to it.
//!
//! Everything here is pure; `handlers::checkout` does the I/O.

pub mod amount;
pub mod redirect_url;
pub mod refusal;
pub mod selection;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::time::serde_ts;

pub use amount::Charge;
pub use refusal::Refusal;
pub use selection::Sale;

/// Stripe Checkout's `mode`, as far as Keyhook sells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckoutMode {
    /// One-time payment of the product's price.
    Payment,
    /// A mapped Stripe recurring price; licenses are issued on each paid cycle.
    Subscription,
}

impl CheckoutMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckoutMode::Payment => "payment",
            CheckoutMode::Subscription => "subscription",
        }
    }
}

/// A checkout session Keyhook created, kept in the tenant's partition under its Stripe id
/// (`cs_…`). The webhook records the purchase under the same id, so the two are joined by key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutSessionRecord {
    pub session_id: String,
    pub tenant_id: String,
    pub app_id: String,
    pub product_id: String,
    pub plan_id: Option<String>,
    pub price_mapping_id: Option<String>,
    /// The mapped Stripe price (subscriptions).
    pub stripe_price_id: Option<String>,
    pub mode: CheckoutMode,
    /// Licenses per purchase (per paid cycle for subscriptions).
    pub quantity: u32,
    pub currency: String,
    /// What the buyer is asked to pay, as a decimal string (per cycle for subscriptions);
    /// `None` when the Stripe price has no fixed unit amount (tiered prices).
    pub amount: Option<String>,
    /// The same in Stripe's minor units.
    pub amount_minor: Option<i64>,
    pub livemode: bool,
    #[serde(with = "serde_ts")]
    pub created_at: OffsetDateTime,
    /// The purchase the session's webhook issued (`pi_…`, `in_…` or `cs_…`), once it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_ref: Option<String>,
}
