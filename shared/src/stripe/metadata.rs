//! What Stripe metadata asks us to issue.
//!
//! Two styles, and which wins:
//! 1. ExisOne, on the Checkout Session (one-time) or the subscription
//!    (`subscription_data.metadata`, read on each renewal): `productId`, `quantity` (default 1),
//!    `planId`. When present it decides alone: it was set for this very sale.
//! 2. Lukittu, on each Stripe Product sold (read from the line items): `product_id` (one id or a
//!    comma-separated list: one license per listed product, or one license for them all, as
//!    the first listed product says, times the line's quantity), `ip_limit`, `hwid_limit`
//!    (legacy `seats`), `expiration_days`, `expiration_start` (`CREATION` | `ACTIVATION`).
//!
//! Product ids are Keyhook's numeric ids or a product's `externalIds` (the ids a previous
//! service gave it, e.g. Lukittu's UUIDs): here they are only checked for shape; the webhook
//! resolves them. Day counts are bounded like the admin fields (`MAX_LICENSE_DAYS`).
//! Neither style present: the event cannot issue anything, and says so.

use serde_json::{Map, Value};

use crate::domain::purchase::{MAX_LICENSES_PER_PURCHASE, MAX_LICENSE_DAYS};
use crate::domain::ExpirationStart;

/// The metadata keys read, each once: the parsers below and the dashboard's Integrate page
/// (which lists [`EXISONE_KEYS`] and [`LUKITTU_KEYS`]) use these names.
pub mod key {
    pub const PRODUCT_ID: &str = "productId";
    pub const QUANTITY: &str = "quantity";
    pub const PLAN_ID: &str = "planId";
    pub const LUKITTU_PRODUCT_ID: &str = "product_id";
    pub const IP_LIMIT: &str = "ip_limit";
    pub const HWID_LIMIT: &str = "hwid_limit";
    pub const SEATS: &str = "seats";
    pub const EXPIRATION_DAYS: &str = "expiration_days";
    pub const EXPIRATION_START: &str = "expiration_start";
}

/// One key a merchant may set: its name, whether a sale needs it, what it does.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct KeyDoc {
    pub key: &'static str,
    pub required: bool,
    pub meaning: &'static str,
}

/// ExisOne style: on the Checkout Session, the Payment Link or `subscription_data`.
pub const EXISONE_KEYS: &[KeyDoc] = &[
    KeyDoc {
        key: key::PRODUCT_ID,
        required: true,
        meaning: "your Keyhook product id (or one of its external ids); decides alone when present",
    },
    KeyDoc {
        key: key::QUANTITY,
        required: false,
        meaning: "how many keys to issue (default 1)",
    },
    KeyDoc {
        key: key::PLAN_ID,
        required: false,
        meaning: "a plan of that product, overriding its default duration",
    },
];

/// Lukittu style: on each Stripe Product sold (read from the line items; only without
/// `productId` on the session).
pub const LUKITTU_KEYS: &[KeyDoc] = &[
    KeyDoc {
        key: key::LUKITTU_PRODUCT_ID,
        required: true,
        meaning: "your Keyhook product id or ids, comma-separated (or their external ids)",
    },
    KeyDoc {
        key: key::HWID_LIMIT,
        required: false,
        meaning: "device limit of each license",
    },
    KeyDoc {
        key: key::SEATS,
        required: false,
        meaning: "legacy name of hwid_limit (read when hwid_limit is absent)",
    },
    KeyDoc {
        key: key::IP_LIMIT,
        required: false,
        meaning: "IP limit of each license",
    },
    KeyDoc {
        key: key::EXPIRATION_DAYS,
        required: false,
        meaning: "how long each license runs, in days (0: perpetual)",
    },
    KeyDoc {
        key: key::EXPIRATION_START,
        required: false,
        meaning: "CREATION (default) or ACTIVATION: when the clock starts",
    },
];

/// What one line of a purchase asks for: which product, how many keys, which plan, and the
/// limits the Stripe Product's metadata sets (Lukittu).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProductRequest {
    pub product_id: String,
    pub quantity: u32,
    pub plan_id: Option<String>,
    pub limits: Limits,
    /// Requests listed together by one Stripe Product's `product_id` share a group (its
    /// position among the purchase's lines); `None` for ExisOne metadata.
    pub group: Option<usize>,
}

/// Longest product id or alias accepted in metadata.
pub const MAX_PRODUCT_REF_CHARS: usize = 100;

/// Per-license values from Lukittu metadata, overriding the Keyhook product's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    pub max_ips: Option<u32>,
    pub max_devices: Option<u32>,
    pub expiration_days: Option<u32>,
    pub expiration_start: Option<ExpirationStart>,
}

/// Why metadata cannot issue anything. Retrying the event cannot fix these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("metadata.productId is missing: Keyhook cannot tell which product was bought")]
    MissingProductId,
    #[error("product id {0:?} in the metadata is not a product id or alias (1 to 100 printable characters)")]
    InvalidProductId(String),
    #[error("metadata.quantity {0:?} is not a whole number from 1 to {max}", max = MAX_LICENSES_PER_PURCHASE)]
    InvalidQuantity(String),
    #[error("Stripe product metadata {key} {value:?} is not valid: {why}")]
    InvalidProductMetadata {
        key: &'static str,
        value: String,
        why: &'static str,
    },
    #[error("the purchase asks for {0} licenses; one purchase issues at most {max}", max = MAX_LICENSES_PER_PURCHASE)]
    TooMany(u64),
    #[error("no productId metadata on the session or subscription, and no line item's Stripe product has product_id metadata: Keyhook cannot tell what was bought")]
    NothingToIssue,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Whether `id` can name a product (a Keyhook id or an alias).
pub fn is_product_ref(id: &str) -> bool {
    (1..=MAX_PRODUCT_REF_CHARS).contains(&id.chars().count()) && !id.chars().any(char::is_control)
}

/// Reads `productId`, `quantity` and `planId` from a metadata object.
pub fn product_request(
    metadata: Option<&Map<String, Value>>,
) -> Result<ProductRequest, MetadataError> {
    let empty = Map::new();
    let m = metadata.unwrap_or(&empty);
    let product_id = m
        .get(key::PRODUCT_ID)
        .and_then(text)
        .filter(|s| !s.is_empty())
        .ok_or(MetadataError::MissingProductId)?;
    if !is_product_ref(&product_id) {
        return Err(MetadataError::InvalidProductId(product_id));
    }
    let quantity = match m.get(key::QUANTITY).and_then(text) {
        None => 1,
        Some(q) if q.is_empty() => 1,
        Some(q) => match q.parse::<u32>() {
            Ok(n) if (1..=MAX_LICENSES_PER_PURCHASE).contains(&n) => n,
            _ => return Err(MetadataError::InvalidQuantity(q)),
        },
    };
    let plan_id = m.get(key::PLAN_ID).and_then(text).filter(|s| !s.is_empty());
    Ok(ProductRequest {
        product_id,
        quantity,
        plan_id,
        limits: Limits::default(),
        group: None,
    })
}

/// Whether ExisOne metadata is present (it then decides alone).
pub fn has_product_id(metadata: Option<&Map<String, Value>>) -> bool {
    metadata.is_some_and(|m| {
        m.get(key::PRODUCT_ID)
            .and_then(text)
            .is_some_and(|s| !s.is_empty())
    })
}

fn number(m: &Map<String, Value>, key: &'static str) -> Result<Option<u32>, MetadataError> {
    match m.get(key).and_then(text).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<u32>()
            .map(Some)
            .map_err(|_| MetadataError::InvalidProductMetadata {
                key,
                value: v,
                why: "not a whole number",
            }),
    }
}

/// A day count, bounded like the admin fields.
fn days(m: &Map<String, Value>, key: &'static str) -> Result<Option<u32>, MetadataError> {
    match number(m, key)? {
        Some(d) if d > MAX_LICENSE_DAYS => Err(MetadataError::InvalidProductMetadata {
            key,
            value: d.to_string(),
            why: "must be at most 100000 days",
        }),
        other => Ok(other),
    }
}

/// The requests of one line item whose Stripe Product carries Lukittu metadata; empty when
/// it has no `product_id`. `group` tells this line's requests apart from other lines'.
pub fn lukittu_line(
    metadata: &Map<String, Value>,
    quantity: u32,
    group: usize,
) -> Result<Vec<ProductRequest>, MetadataError> {
    let Some(ids) = metadata
        .get(key::LUKITTU_PRODUCT_ID)
        .and_then(text)
        .filter(|s| !s.is_empty())
    else {
        return Ok(Vec::new());
    };
    let expiration_start = match metadata
        .get(key::EXPIRATION_START)
        .and_then(text)
        .as_deref()
    {
        None | Some("") => None,
        Some(v) if v.eq_ignore_ascii_case("creation") => Some(ExpirationStart::Creation),
        Some(v) if v.eq_ignore_ascii_case("activation") => Some(ExpirationStart::Activation),
        Some(v) => {
            return Err(MetadataError::InvalidProductMetadata {
                key: key::EXPIRATION_START,
                value: v.to_string(),
                why: "must be CREATION or ACTIVATION",
            })
        }
    };
    let limits = Limits {
        max_ips: number(metadata, key::IP_LIMIT)?,
        max_devices: match number(metadata, key::HWID_LIMIT)? {
            Some(n) => Some(n),
            None => number(metadata, key::SEATS)?,
        },
        expiration_days: days(metadata, key::EXPIRATION_DAYS)?,
        expiration_start,
    };
    ids.split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(|id| {
            if !is_product_ref(id) {
                return Err(MetadataError::InvalidProductId(id.to_string()));
            }
            Ok(ProductRequest {
                product_id: id.to_string(),
                quantity,
                plan_id: None,
                limits,
                group: Some(group),
            })
        })
        .collect()
}

/// The whole purchase: ExisOne metadata if present, else the Lukittu lines; at most
/// `MAX_LICENSES_PER_PURCHASE` licenses in all.
pub fn resolve(
    exisone: Option<&Map<String, Value>>,
    lukittu_lines: impl FnOnce() -> Result<Vec<ProductRequest>, MetadataError>,
) -> Result<Vec<ProductRequest>, MetadataError> {
    let requests = if has_product_id(exisone) {
        vec![product_request(exisone)?]
    } else {
        let lines = lukittu_lines()?;
        if lines.is_empty() {
            return Err(MetadataError::NothingToIssue);
        }
        lines
    };
    let total: u64 = requests.iter().map(|r| u64::from(r.quantity)).sum();
    if total > u64::from(MAX_LICENSES_PER_PURCHASE) {
        return Err(MetadataError::TooMany(total));
    }
    Ok(requests)
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
                plan_id: Some("pln_1".into()),
                limits: Limits::default(),
                group: None,
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
        assert_eq!(
            req(json!({"productId": "9f1c2e7a-lukittu"}))
                .unwrap()
                .product_id,
            "9f1c2e7a-lukittu",
            "aliases are resolved later"
        );
        assert!(matches!(
            req(json!({"productId": "x".repeat(101)})),
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

    #[test]
    fn reads_lukittu_product_metadata() {
        let m = json!({"product_id": "42, 43", "ip_limit": "2", "seats": "3", "expiration_days": "30", "expiration_start": "ACTIVATION"});
        let lines = lukittu_line(m.as_object().unwrap(), 2, 0).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].product_id, "43");
        assert_eq!(lines[0].quantity, 2);
        assert_eq!(
            lines[0].limits,
            Limits {
                max_ips: Some(2),
                max_devices: Some(3),
                expiration_days: Some(30),
                expiration_start: Some(ExpirationStart::Activation)
            }
        );
        let m = json!({"product_id": "42", "hwid_limit": "5", "seats": "3"});
        assert_eq!(
            lukittu_line(m.as_object().unwrap(), 1, 0).unwrap()[0]
                .limits
                .max_devices,
            Some(5)
        );
        assert!(
            lukittu_line(json!({"name": "x"}).as_object().unwrap(), 1, 0)
                .unwrap()
                .is_empty()
        );
        assert!(lukittu_line(
            json!({"product_id": "42", "ip_limit": "many"})
                .as_object()
                .unwrap(),
            1,
            0
        )
        .is_err());
        assert!(lukittu_line(
            json!({"product_id": "42", "expiration_start": "LATER"})
                .as_object()
                .unwrap(),
            1,
            0
        )
        .is_err());
    }

    #[test]
    fn exisone_wins_and_nothing_is_refused() {
        let exisone = json!({"productId": "7"});
        let r = resolve(exisone.as_object(), || panic!("line items are not read")).unwrap();
        assert_eq!(r[0].product_id, "7");
        let lines = || lukittu_line(json!({"product_id": "42"}).as_object().unwrap(), 3, 0);
        assert_eq!(
            resolve(json!({}).as_object(), lines).unwrap()[0].quantity,
            3
        );
        assert_eq!(
            resolve(None, || Ok(vec![])),
            Err(MetadataError::NothingToIssue)
        );
        let many = || lukittu_line(json!({"product_id": "1,2"}).as_object().unwrap(), 50, 0);
        assert_eq!(resolve(None, many), Err(MetadataError::TooMany(100)));
        let huge = || {
            lukittu_line(
                json!({"product_id": "1,2"}).as_object().unwrap(),
                u32::MAX,
                0,
            )
        };
        assert!(
            matches!(resolve(None, huge), Err(MetadataError::TooMany(_))),
            "no overflow"
        );
    }

    #[test]
    fn day_counts_are_bounded_like_the_admin_fields() {
        for (value, ok) in [
            ("100000", true),
            ("100001", false),
            ("4294967295", false),
            ("99999999999", false),
        ] {
            let m = json!({"product_id": "42", "expiration_days": value});
            let r = lukittu_line(m.as_object().unwrap(), 1, 0);
            assert_eq!(r.is_ok(), ok, "{value}");
            if let Err(e) = r {
                assert!(e.to_string().contains("expiration_days"), "{e}");
            }
        }
    }

    #[test]
    fn every_listed_key_is_read() {
        let exisone = json!({key::PRODUCT_ID: "7", key::QUANTITY: "2", key::PLAN_ID: "pln_1"});
        let r = req(exisone).unwrap();
        assert_eq!(
            (r.product_id.as_str(), r.quantity, r.plan_id.as_deref()),
            ("7", 2, Some("pln_1"))
        );
        assert_eq!(EXISONE_KEYS.len(), 3);
        let read = |m: Value| lukittu_line(m.as_object().unwrap(), 1, 0).unwrap();
        let base = json!({key::LUKITTU_PRODUCT_ID: "7"});
        assert_eq!(read(base.clone())[0].limits, Limits::default());
        for doc in LUKITTU_KEYS
            .iter()
            .filter(|d| d.key != key::LUKITTU_PRODUCT_ID)
        {
            let mut m = base.clone();
            let value = if doc.key == key::EXPIRATION_START {
                "ACTIVATION"
            } else {
                "5"
            };
            m[doc.key] = json!(value);
            assert_ne!(read(m)[0].limits, Limits::default(), "{} is read", doc.key);
        }
    }
}
