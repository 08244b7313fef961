//! What Stripe metadata asks us to issue.
//!
//! ExisOne style, on the Checkout Session (one-time) or the subscription
//! (`subscription_data.metadata`, read on each renewal): `productId` (required), `quantity`
//! (default 1) and `planId` (optional).

use serde_json::{Map, Value};

use crate::domain::purchase::MAX_LICENSES_PER_PURCHASE;

/// An ExisOne-style request: which product, how many keys, which plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductRequest {
    pub product_id: String,
    pub quantity: u32,
    pub plan_id: Option<String>,
}

/// Why metadata cannot issue anything. Retrying the event cannot fix these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("metadata.productId is missing: Keyhook cannot tell which product was bought")]
    MissingProductId,
    #[error("metadata.productId {0:?} is not a Keyhook product id (a number such as \"42\")")]
    InvalidProductId(String),
    #[error("metadata.quantity {0:?} is not a whole number from 1 to {max}", max = MAX_LICENSES_PER_PURCHASE)]
    InvalidQuantity(String),
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads `productId`, `quantity` and `planId` from a metadata object.
pub fn product_request(
    metadata: Option<&Map<String, Value>>,
) -> Result<ProductRequest, MetadataError> {
    let empty = Map::new();
    let m = metadata.unwrap_or(&empty);
    let product_id = m
        .get("productId")
        .and_then(text)
        .filter(|s| !s.is_empty())
        .ok_or(MetadataError::MissingProductId)?;
    if !(1..=20).contains(&product_id.len()) || !product_id.chars().all(|c| c.is_ascii_digit()) {
        return Err(MetadataError::InvalidProductId(product_id));
    }
    let quantity = match m.get("quantity").and_then(text) {
        None => 1,
        Some(q) if q.is_empty() => 1,
        Some(q) => match q.parse::<u32>() {
            Ok(n) if (1..=MAX_LICENSES_PER_PURCHASE).contains(&n) => n,
            _ => return Err(MetadataError::InvalidQuantity(q)),
        },
    };
    let plan_id = m.get("planId").and_then(text).filter(|s| !s.is_empty());
    Ok(ProductRequest {
        product_id,
        quantity,
        plan_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(v: Value) -> Result<ProductRequest, MetadataError> {
        product_request(v.as_object())
    }

    #[test]
    fn reads_exisone_metadata() {
        assert_eq!(
            req(json!({"productId": "42", "quantity": "3", "planId": "pln_1"})).unwrap(),
            ProductRequest {
                product_id: "42".into(),
                quantity: 3,
                plan_id: Some("pln_1".into())
            }
        );
        assert_eq!(req(json!({"productId": " 42 "})).unwrap().quantity, 1);
    }

    #[test]
    fn refuses_bad_metadata() {
        assert_eq!(req(json!({})), Err(MetadataError::MissingProductId));
        assert_eq!(
            req(json!({"productId": ""})),
            Err(MetadataError::MissingProductId)
        );
        assert!(matches!(
            req(json!({"productId": "abc"})),
            Err(MetadataError::InvalidProductId(_))
        ));
        for q in ["0", "-1", "1.5", "x", "99", "1000"] {
            assert!(
                matches!(
                    req(json!({"productId": "42", "quantity": q})),
                    Err(MetadataError::InvalidQuantity(_))
                ),
                "{q}"
            );
        }
        assert_eq!(
            req(json!({"productId": "42", "quantity": "98"}))
                .unwrap()
                .quantity,
            98
        );
    }
}
