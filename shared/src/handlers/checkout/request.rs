//! The request body of `POST /api/stripe/checkout/session`, and the checks that need no I/O.

use serde::Deserialize;

use crate::domain::checkout::{redirect_url, selection, CheckoutMode, Refusal};
use crate::domain::currency::is_code;
use crate::http::input::is_email;
use crate::http::schema;

/// Fields a request must carry.
pub const REQUIRED: &[&str] = &["productId", "successUrl", "cancelUrl"];
use crate::{Error, Result};

/// The body. Unknown fields are refused (a typo must not silently sell the wrong thing).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckoutInput {
    /// The Keyhook product to sell (required).
    #[schemars(extend("pattern" = schema::NON_BLANK))]
    pub product_id: Option<String>,
    /// Licenses to issue (per paid cycle for subscriptions); also the line item's quantity.
    /// 1–98, default 1.
    #[schemars(extend("minimum" = 1, "maximum" = crate::domain::purchase::MAX_LICENSES_PER_PURCHASE))]
    pub quantity: Option<i64>,
    /// A plan of the product, setting the license duration.
    pub plan_id: Option<String>,
    /// A subscription price mapping of the product; makes the session a subscription.
    pub price_mapping_id: Option<String>,
    /// An active currency for a one-time session, instead of the app's `defaultCurrency`;
    /// another currency than the app's sells only at the product's explicit `prices.<code>`.
    /// Ignored for subscriptions (the Stripe price has its own). Case-insensitive; `""` = absent.
    #[schemars(extend("pattern" = "^$|^[A-Za-z]{3}$"))]
    pub currency: Option<String>,
    /// Prefills the buyer's email on Stripe's page; `""` = absent.
    #[schemars(extend("anyOf" = [{"maxLength": 0}, {"pattern": schema::EMAIL, "maxLength": schema::EMAIL_MAX_CHARS}]))]
    pub customer_email: Option<String>,
    /// Where Stripe sends the buyer after paying (absolute https; http only for localhost).
    /// Stripe's `{CHECKOUT_SESSION_ID}` placeholder is passed through.
    #[schemars(extend("pattern" = schema::WEB_URL, "maxLength" = schema::URL_MAX_CHARS))]
    pub success_url: Option<String>,
    /// Where Stripe sends the buyer who cancels (same rules).
    #[schemars(extend("pattern" = schema::WEB_URL, "maxLength" = schema::URL_MAX_CHARS))]
    pub cancel_url: Option<String>,
    /// The Stripe app to charge through; default: the price mapping's app, else the
    /// tenant's default active app.
    pub app_id: Option<String>,
    /// Forces `payment` (one-time, even if the product has price mappings) or
    /// `subscription` (requires a mapping). Default: subscription when the product has exactly
    /// one mapping for the app (or `priceMappingId` is given), else payment.
    pub mode: Option<CheckoutMode>,
}

/// A request that passed every check that needs no I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    pub product_id: String,
    pub quantity: u32,
    pub plan_id: Option<String>,
    pub price_mapping_id: Option<String>,
    pub currency: Option<String>,
    pub customer_email: Option<String>,
    pub success_url: String,
    pub cancel_url: String,
    pub app_id: Option<String>,
    pub mode: Option<CheckoutMode>,
}

/// Blank optional strings count as absent (HTML forms send "").
fn present(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

impl Ask {
    pub fn read(input: CheckoutInput) -> Result<Ask> {
        let product_id = present(input.product_id)
            .ok_or_else(|| Error::validation("productId", "is required"))?;
        let quantity = selection::quantity(input.quantity)?;
        let success_url =
            redirect_url::check("successUrl", input.success_url.as_deref().unwrap_or(""))?;
        let cancel_url =
            redirect_url::check("cancelUrl", input.cancel_url.as_deref().unwrap_or(""))?;
        let customer_email = present(input.customer_email);
        if customer_email.as_deref().is_some_and(|e| !is_email(e)) {
            return Err(Refusal::CustomerEmail.into());
        }
        // Stripe wants lowercase codes; accept "USD" from a storefront and say so otherwise.
        let currency = present(input.currency).map(|c| c.to_ascii_lowercase());
        if currency.as_deref().is_some_and(|c| !is_code(c)) {
            return Err(Error::validation(
                "currency",
                "must be a three-letter ISO 4217 code such as \"usd\"",
            ));
        }
        Ok(Ask {
            product_id,
            quantity,
            plan_id: present(input.plan_id),
            price_mapping_id: present(input.price_mapping_id),
            currency,
            customer_email,
            success_url,
            cancel_url,
            app_id: present(input.app_id),
            mode: input.mode,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: serde_json::Value) -> Result<Ask> {
        Ask::read(serde_json::from_value(v).unwrap())
    }

    fn field(r: Result<Ask>) -> Option<String> {
        match r.unwrap_err() {
            Error::Validation { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_minimal_request_gets_defaults() {
        let a = read(json!({"productId": "42", "successUrl": "https://s.example/ok", "cancelUrl": "https://s.example/no", "planId": "", "currency": "EUR"})).unwrap();
        assert_eq!(a.quantity, 1);
        assert_eq!(a.plan_id, None);
        assert_eq!(a.currency.as_deref(), Some("eur"));
    }

    #[test]
    fn each_bad_field_is_named() {
        let ok = json!({"productId": "42", "successUrl": "https://s.example/ok", "cancelUrl": "https://s.example/no"});
        let with = |k: &str, v: serde_json::Value| {
            let mut b = ok.clone();
            b[k] = v;
            b
        };
        assert_eq!(
            field(read(with("productId", json!(" ")))).as_deref(),
            Some("productId")
        );
        assert_eq!(
            field(read(with("quantity", json!(0)))).as_deref(),
            Some("quantity")
        );
        assert_eq!(
            field(read(with("successUrl", json!("http://s.example")))).as_deref(),
            Some("successUrl")
        );
        assert_eq!(
            field(read(with("cancelUrl", json!(null)))).as_deref(),
            Some("cancelUrl")
        );
        assert_eq!(
            field(read(with("customerEmail", json!("nope")))).as_deref(),
            Some("customerEmail")
        );
        assert_eq!(
            field(read(with("currency", json!("dollars")))).as_deref(),
            Some("currency")
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(
            serde_json::from_value::<CheckoutInput>(json!({"productId": "42", "price": "1"}))
                .is_err()
        );
    }
}
