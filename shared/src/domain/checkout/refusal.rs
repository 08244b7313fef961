//! Why a checkout request is refused: one variant per rule, each naming the request field the
//! merchant has to change. They all answer 422 `validation_failed`.

use crate::Error;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("must be a whole number from 1 to {max} (one purchase issues at most {max} licenses), got {got}")]
    Quantity { got: i64, max: u32 },
    #[error("{reason}")]
    RedirectUrl { field: &'static str, reason: String },
    #[error("must be an email address such as \"buyer@example.com\"")]
    CustomerEmail,
    #[error("product {0} does not exist")]
    ProductNotFound(String),
    #[error("product {0} is archived and cannot be sold")]
    ProductArchived(String),
    #[error("product {0} has no price (0); Stripe Checkout cannot sell it for nothing")]
    ProductFree(String),
    #[error("plan {0} does not exist")]
    PlanNotFound(String),
    #[error("plan {plan} belongs to product {plan_product}, not to product {product}")]
    PlanOfOtherProduct {
        plan: String,
        plan_product: String,
        product: String,
    },
    #[error("price mapping {0} does not exist")]
    MappingNotFound(String),
    #[error("price mapping {mapping} sells product {mapping_product}, not product {product}")]
    MappingOfOtherProduct {
        mapping: String,
        mapping_product: String,
        product: String,
    },
    #[error("price mapping {mapping} belongs to Stripe app {mapping_app}, but the session is for app {app}; omit appId or pass {mapping_app}")]
    MappingOfOtherApp {
        mapping: String,
        mapping_app: String,
        app: String,
    },
    #[error("product {product} has {count} subscription price mappings for Stripe app {app} ({ids}); say which with priceMappingId")]
    SeveralMappings {
        product: String,
        app: String,
        count: usize,
        ids: String,
    },
    #[error("product {product} has no subscription price mapping for Stripe app {app}; create one (POST /api/stripe/price-mappings) or sell it with mode \"payment\"")]
    NoMapping { product: String, app: String },
    #[error("mode \"payment\" cannot use priceMappingId (price mappings are subscriptions)")]
    PaymentWithMapping,
    #[error("Stripe app {0} does not exist")]
    AppNotFound(String),
    #[error(
        "the tenant has no default active Stripe app; pass appId, or mark an active app as default"
    )]
    NoDefaultApp,
    #[error("Stripe app {0} is inactive; activate it or pass another appId")]
    AppInactive(String),
    #[error("Stripe app {0} has no secret key that Keyhook can decrypt (status not_configured); set its secretKey again")]
    AppWithoutSecretKey(String),
    #[error("product {product} costs {price}, which has more decimal places than {currency} allows ({decimals}); change the product's price or the currency")]
    TooManyDecimals {
        product: String,
        price: String,
        currency: String,
        decimals: u32,
    },
    #[error(
        "product {product} costs {price}; Stripe charges {currency} only in multiples of 0.010"
    )]
    ThreeDecimalRounding {
        product: String,
        price: String,
        currency: String,
    },
    #[error("product {product} costs {price} {currency} × {quantity}, more than Stripe can charge in one payment")]
    AmountTooLarge {
        product: String,
        price: String,
        currency: String,
        quantity: u32,
    },
    #[error("product {product} has no price in {currency}: its price ({price}) is in {app_currency}, the app's currency; set the product's prices.{currency}, or omit currency")]
    NoPriceInCurrency {
        product: String,
        price: String,
        currency: String,
        app_currency: String,
    },
    #[error("price mapping {mapping} uses Stripe price {price}, which is not a recurring price; subscriptions need one")]
    PriceNotRecurring { mapping: String, price: String },
}

impl Refusal {
    /// The request field to change (the contract's `field`).
    pub fn field(&self) -> &'static str {
        use Refusal::*;
        match self {
            Quantity { .. } => "quantity",
            RedirectUrl { field, .. } => field,
            CustomerEmail => "customerEmail",
            ProductNotFound(_) | ProductArchived(_) | ProductFree(_) | AmountTooLarge { .. } => {
                "productId"
            }
            PlanNotFound(_) | PlanOfOtherProduct { .. } => "planId",
            MappingNotFound(_)
            | MappingOfOtherProduct { .. }
            | MappingOfOtherApp { .. }
            | SeveralMappings { .. }
            | PriceNotRecurring { .. } => "priceMappingId",
            NoMapping { .. } | PaymentWithMapping => "mode",
            AppNotFound(_) | NoDefaultApp | AppInactive(_) | AppWithoutSecretKey(_) => "appId",
            TooManyDecimals { .. } | ThreeDecimalRounding { .. } | NoPriceInCurrency { .. } => {
                "currency"
            }
        }
    }
}

impl From<Refusal> for Error {
    /// A malformed field is `422` (the API document's schema refuses it too); a reference to
    /// nothing is `404`; a well-formed request the tenant's state cannot serve is `409`.
    fn from(r: Refusal) -> Self {
        match &r {
            Refusal::Quantity { .. } | Refusal::RedirectUrl { .. } | Refusal::CustomerEmail => {
                Error::Validation {
                    field: Some(r.field().to_string()),
                    message: r.to_string(),
                }
            }
            Refusal::ProductNotFound(_)
            | Refusal::PlanNotFound(_)
            | Refusal::MappingNotFound(_)
            | Refusal::AppNotFound(_) => Error::NotFound(format!("{} ({})", r, r.field())),
            _ => Error::conflict_at(r.field(), r.to_string()),
        }
    }
}
