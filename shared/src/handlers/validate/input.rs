//! The body of the validation routes. Unlike admin bodies, unknown fields are ignored: apps in
//! the field must keep working as we add fields. `productId` is accepted as a string or a
//! number (`"42"` or `42`), since product ids are numeric.

use serde::{Deserialize, Deserializer};

use crate::domain::validation::device::MAX_DEVICE_ID_CHARS;
use crate::domain::validation::DeviceId;
use crate::http::input::{json_body_requiring, value_requiring};
use crate::http::{schema, ApiRequest};
use crate::{Error, Result};

/// Longest `licenseKey` accepted: imported keys have up to 128 characters (a native key is 29
/// formatted).
const MAX_KEY_CHARS: usize = crate::domain::license_key::MAX_IMPORTED_KEY_CHARS;
const MAX_PRODUCT_ID_CHARS: usize = 64;
const MAX_DEVICE_NAME_CHARS: usize = 200;
const MAX_NONCE_CHARS: usize = 256;

/// The body as sent (every field optional here; [`parse`] says what is required).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Body {
    /// Blank counts as absent (a trial request).
    #[serde(default)]
    #[schemars(extend("pattern" = schema::PRINTABLE, "maxLength" = MAX_KEY_CHARS))]
    license_key: Option<String>,
    /// A string (`"42"`) or a number (`42`).
    #[serde(default, deserialize_with = "string_or_number")]
    #[schemars(schema_with = "product_id_schema")]
    product_id: Option<String>,
    #[serde(default)]
    #[schemars(extend("pattern" = schema::PRINTABLE_NON_BLANK, "maxLength" = MAX_DEVICE_ID_CHARS))]
    device_id: Option<String>,
    #[serde(default)]
    #[schemars(extend("pattern" = schema::PRINTABLE, "maxLength" = MAX_DEVICE_NAME_CHARS))]
    device_name: Option<String>,
    /// Echoed in the signed answer.
    #[serde(default)]
    #[schemars(extend("pattern" = schema::PRINTABLE, "minLength" = 1, "maxLength" = MAX_NONCE_CHARS))]
    nonce: Option<String>,
    /// `"live"` (default) or `"test"`: a test build accepts licenses from test-mode payments.
    #[serde(default)]
    #[schemars(extend("enum" = ["live", "test", null]))]
    environment: Option<String>,
    /// License checkout only: lifetime of the file in seconds (the product's default when
    /// absent; outside the product's bounds: 409).
    #[serde(default)]
    #[schemars(extend("maximum" = u64::MAX))]
    ttl: Option<u64>,
    /// License checkout only: encrypt the file to the license key (default false).
    #[serde(default)]
    encrypt: Option<bool>,
    /// Lease borrow only: how long to borrow the seat, in seconds (at most the license's
    /// `maxBorrowSeconds`; beyond it: 409).
    #[serde(default)]
    #[schemars(extend("minimum" = 1, "maximum" = u64::MAX))]
    seconds: Option<u64>,
    /// Usage only: the meter to record on (one of the product's `meters`).
    #[serde(default)]
    #[schemars(extend("pattern" = crate::domain::validation::meters::NAME_PATTERN))]
    meter: Option<String>,
    /// Usage only: how much to record (1 to 10^12).
    #[serde(default)]
    #[schemars(extend("minimum" = 1, "maximum" = crate::domain::validation::meters::MAX_LIMIT))]
    quantity: Option<u64>,
    /// Usage only: names the record, so that a retry counts once (1–64 printable ASCII
    /// characters, no spaces).
    #[serde(default)]
    #[schemars(extend("pattern" = crate::domain::validation::meters::IDEMPOTENCY_KEY_PATTERN))]
    idempotency_key: Option<String>,
    /// Validate only: more to answer; `["usage"]`: each meter's use this period (`meters`).
    #[serde(default)]
    #[schemars(extend("maxItems" = 1, "items" = {"type": "string", "enum": ["usage"]}))]
    include: Option<Vec<String>>,
}

/// Where the app runs: its production build (`live`, the default) or a test build (`test`),
/// which also accepts licenses issued by Stripe test-mode payments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Environment {
    #[default]
    Live,
    Test,
}

/// `productId`: a product id (text, or a whole number).
fn product_id_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "anyOf": [
            {"type": "string", "pattern": schema::PRINTABLE_NON_BLANK, "maxLength": MAX_PRODUCT_ID_CHARS},
            {"type": "integer", "minimum": 0, "maximum": u64::MAX},
            {"type": "null"}
        ]
    })
}

/// Fields each route requires (present, not null, and text not blank).
pub const VALIDATE_REQUIRED: &[&str] = &["productId"];
pub const ACTIVATE_REQUIRED: &[&str] = &["licenseKey", "productId"];
pub const CHECKOUT_REQUIRED: &[&str] = &["licenseKey", "productId", "deviceId"];
pub const LEASE_REQUIRED: &[&str] = &["licenseKey", "productId", "deviceId"];
pub const HEARTBEAT_REQUIRED: &[&str] = &["productId", "deviceId"];
pub const BORROW_REQUIRED: &[&str] = &["productId", "deviceId", "seconds"];
pub const USAGE_REQUIRED: &[&str] = &[
    "licenseKey",
    "productId",
    "meter",
    "quantity",
    "idempotencyKey",
];

fn string_or_number<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(u64),
    }
    Ok(Option::<Id>::deserialize(d)
        .map_err(|_| serde::de::Error::custom("must be a string or a whole number"))?
        .map(|id| match id {
            Id::Text(s) => s,
            Id::Number(n) => n.to_string(),
        }))
}

/// A checked validation request.
#[derive(Debug)]
pub struct ValidationInput {
    /// The key as typed (parsed leniently later); `None` when absent or blank.
    pub license_key: Option<String>,
    pub product_id: String,
    pub device: Option<DeviceId>,
    pub device_name: Option<String>,
    pub nonce: Option<String>,
    pub environment: Environment,
    /// License checkout: the file lifetime asked for, in seconds.
    pub ttl: Option<u64>,
    /// License checkout: encrypt the file to the license key.
    pub encrypt: bool,
    /// Lease borrow: seconds asked for.
    pub seconds: Option<u64>,
    /// Usage: the meter, the quantity and the idempotency key (checked).
    pub meter: Option<String>,
    pub quantity: Option<u64>,
    pub idempotency_key: Option<String>,
    /// `include: ["usage"]`.
    pub include_usage: bool,
}

impl ValidationInput {
    /// The device hash answers carry (`None` without a device).
    pub fn device_hash(&self) -> Option<String> {
        self.device
            .as_ref()
            .map(|d| keyhook_format::device_hash(&self.product_id, d.as_str()))
    }
}

fn bounded_text(field: &str, value: &str, max: usize) -> Result<()> {
    if value.chars().count() > max {
        return Err(Error::validation(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::validation(
            field,
            "must contain only printable characters",
        ));
    }
    Ok(())
}

/// Parses and checks the body of `POST /api/licenses/validate`.
pub fn parse(req: &ApiRequest) -> Result<ValidationInput> {
    parse_requiring(req, VALIDATE_REQUIRED)
}

/// Parses and checks the body of a validation route that requires `required`.
pub fn parse_requiring(req: &ApiRequest, required: &[&str]) -> Result<ValidationInput> {
    checked(json_body_requiring(req, required)?)
}

/// The body a client app sends `POST /api/licenses/deactivate` to free `device_id` from the
/// license of `license_key`, checked as that route checks it (for the dashboard, which frees a
/// device through the same rule).
pub fn deactivation(
    license_key: &str,
    product_id: &str,
    device_id: &str,
) -> Result<ValidationInput> {
    let body = serde_json::json!({
        "licenseKey": license_key,
        "productId": product_id,
        "deviceId": device_id,
    });
    checked(value_requiring(body, ACTIVATE_REQUIRED)?)
}

/// The checks of a body beyond its schema.
fn checked(body: Body) -> Result<ValidationInput> {
    let product_id = body
        .product_id
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Error::validation("productId", "is required"))?;
    bounded_text("productId", &product_id, MAX_PRODUCT_ID_CHARS)?;
    let license_key = body
        .license_key
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty());
    if let Some(k) = &license_key {
        bounded_text("licenseKey", k, MAX_KEY_CHARS)?;
    }
    let device = body
        .device_id
        .map(|d| DeviceId::parse(&d).map_err(|e| Error::validation("deviceId", e.to_string())))
        .transpose()?;
    let device_name = body
        .device_name
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    if let Some(n) = &device_name {
        bounded_text("deviceName", n, MAX_DEVICE_NAME_CHARS)?;
    }
    if let Some(n) = &body.nonce {
        if n.is_empty() {
            return Err(Error::validation("nonce", "must not be empty"));
        }
        bounded_text("nonce", n, MAX_NONCE_CHARS)?;
    }
    let environment = match body.environment.as_deref().map(str::trim) {
        None | Some("live") => Environment::Live,
        Some("test") => Environment::Test,
        Some(_) => return Err(Error::validation("environment", "must be live or test")),
    };
    use crate::domain::validation::meters;
    if body.meter.as_deref().is_some_and(|m| !meters::is_name(m)) {
        return Err(Error::validation(
            "meter",
            "must be 1 to 40 of a-z, 0-9, _ . - (a meter of the product)",
        ));
    }
    if body
        .quantity
        .is_some_and(|q| !(1..=meters::MAX_LIMIT).contains(&q))
    {
        return Err(Error::validation(
            "quantity",
            format!("must be 1 to {}", meters::MAX_LIMIT),
        ));
    }
    if body
        .idempotency_key
        .as_deref()
        .is_some_and(|k| !meters::is_idempotency_key(k))
    {
        return Err(Error::validation(
            "idempotencyKey",
            "must be 1 to 64 printable ASCII characters without spaces",
        ));
    }
    let mut include_usage = false;
    for item in body.include.iter().flatten() {
        match item.as_str() {
            "usage" => include_usage = true,
            _ => return Err(Error::validation("include", "may list only \"usage\"")),
        }
    }
    Ok(ValidationInput {
        license_key,
        product_id,
        device,
        device_name,
        nonce: body.nonce,
        environment,
        ttl: body.ttl,
        encrypt: body.encrypt.unwrap_or(false),
        seconds: body.seconds,
        meter: body.meter,
        quantity: body.quantity,
        idempotency_key: body.idempotency_key,
        include_usage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: &str) -> ApiRequest {
        ApiRequest {
            method: http::Method::POST,
            path: "/api/licenses/validate".into(),
            query: vec![],
            headers: Default::default(),
            body: body.as_bytes().to_vec().into(),
            source_ip: None,
            request_id: "r".into(),
        }
    }

    fn field_of(body: &str) -> Option<String> {
        match parse(&request(body)) {
            Err(Error::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn unknown_fields_are_ignored_and_numeric_product_ids_accepted() {
        let i = parse(&request(
            r#"{"productId":42,"licenseKey":" abcde ","appVersion":"9.1","extra":{"a":1}}"#,
        ))
        .unwrap();
        assert_eq!(i.product_id, "42");
        assert_eq!(i.license_key.as_deref(), Some("abcde"));
        assert!(i.device.is_none());
    }

    #[test]
    fn blank_keys_mean_no_key() {
        let i = parse(&request(
            r#"{"productId":"42","licenseKey":"  ","deviceId":"d"}"#,
        ))
        .unwrap();
        assert!(i.license_key.is_none());
        assert_eq!(i.device.unwrap().as_str(), "d");
    }

    #[test]
    fn malformed_fields_are_named() {
        assert_eq!(field_of(r#"{}"#).as_deref(), Some("productId"));
        assert_eq!(
            field_of(r#"{"productId":"42","deviceId":""}"#).as_deref(),
            Some("deviceId")
        );
        let long = "x".repeat(257);
        assert_eq!(
            field_of(&format!(r#"{{"productId":"42","deviceId":"{long}"}}"#)).as_deref(),
            Some("deviceId")
        );
        assert_eq!(
            field_of(r#"{"productId":"42","deviceId":7}"#).as_deref(),
            Some("deviceId")
        );
        assert_eq!(
            field_of(r#"{"productId":[1]}"#).as_deref(),
            Some("productId")
        );
        assert_eq!(
            field_of(r#"{"productId":"42","nonce":""}"#).as_deref(),
            Some("nonce")
        );
        assert_eq!(
            field_of(r#"{"productId":"42","environment":"staging"}"#).as_deref(),
            Some("environment")
        );
        assert!(matches!(
            parse(&request("not json")),
            Err(Error::Validation { .. })
        ));
    }
}
