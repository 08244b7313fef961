//! Request bodies are checked against the very JSON Schema the OpenAPI document publishes for
//! them (generated with `schemars` from the handler's input type at build time, published in
//! `shared/openapi/bodies/` and compiled into `http::request_bodies`: see `app::published`),
//! before the handler reads
//! them: a body the document calls invalid is refused with `422 validation_failed` naming the
//! field, so the document and the server cannot disagree on what is well formed. The handlers'
//! own checks stay (the dashboard and the CLI reach them too); the patterns
//! (`domain::patterns`, re-exported here) are written so that whatever matches them passes
//! those checks, and the tests at the bottom hold the two together where a pattern restates a
//! Rust check.

use jsonschema::error::ValidationErrorKind;
use schemars::generate::{Contract, SchemaSettings};
use schemars::transform::RecursiveTransform;
use schemars::{JsonSchema, Schema};
use serde_json::Value;

use crate::{Error, Result};

pub use crate::domain::patterns::{
    CURRENCY_CODE, EMAIL, EMAIL_MAX_CHARS, EMPTY_OR_COLOUR, EMPTY_OR_CONTACT, EMPTY_OR_HTTPS_URL,
    EMPTY_OR_NON_BLANK, EMPTY_OR_PRICE_3, NON_BLANK, PRICE_2, PRICE_3, PRINTABLE,
    PRINTABLE_NON_BLANK, PUBLISHABLE_KEY, SECRET_KEY, STRIPE_ACCOUNT_ID, STRIPE_KEY_MAX_CHARS,
    STRIPE_PRICE_ID, TIMESTAMP, URL_MAX_CHARS, WEBHOOK_SECRET, WEB_URL,
};

/// The messages of the patterns, for the error a client reads.
fn pattern_message(pattern: &str) -> String {
    let known: &[(&str, &str)] = &[
        (NON_BLANK, "must not be blank"),
        (EMPTY_OR_NON_BLANK, "must be empty or not blank"),
        (PRINTABLE_NON_BLANK, "must be printable text, not blank"),
        (PRINTABLE, "must contain only printable characters"),
        (EMAIL, "is not an email address"),
        (
            WEB_URL,
            "must be an https URL with a host name (http only on localhost, 127.0.0.1 or [::1]), without credentials or fragment",
        ),
        (EMPTY_OR_HTTPS_URL, "must be an https URL with a host name (or empty)"),
        (EMPTY_OR_CONTACT, "must be an email address or an https URL (or empty)"),
        (EMPTY_OR_COLOUR, "must be a colour such as #2457c5 (or empty)"),
        (PRICE_2, "must be a non-negative decimal with up to 2 decimals, such as \"29.99\""),
        (PRICE_3, "must be a non-negative decimal with up to 3 decimals, such as \"29.99\""),
        (EMPTY_OR_PRICE_3, "must be empty or a decimal with up to 3 decimals, such as \"29.99\""),
        (CURRENCY_CODE, "must be a lowercase ISO 4217 code such as \"usd\""),
        (STRIPE_PRICE_ID, "must be a Stripe price id such as \"price_1PgafmB7WZ01zgkW6dKueIc5\""),
        (STRIPE_ACCOUNT_ID, "must be a Stripe account id (acct_…)"),
        (TIMESTAMP, "must be an RFC 3339 timestamp such as 2027-01-31T00:00:00Z"),
        (PUBLISHABLE_KEY, "must start with pk_test_ or pk_live_ (or be empty)"),
        (SECRET_KEY, "must start with sk_test_, sk_live_, rk_test_ or rk_live_ (or be empty)"),
        (WEBHOOK_SECRET, "must start with whsec_ (or be empty)"),
    ];
    known
        .iter()
        .find(|(p, _)| *p == pattern)
        .map(|(_, m)| m.to_string())
        .unwrap_or_else(|| format!("must match the pattern {pattern}"))
}

/// What is wrong with `value`, more exactly than the pattern's general rule, where the value
/// shows it: a key with the right prefix that is too short is "too short", a price with too
/// many digits is "too large".
fn precise_pattern_message(pattern: &str, value: &str) -> Option<String> {
    let keys: &[(&str, &[&str])] = &[
        (PUBLISHABLE_KEY, &["pk_test_", "pk_live_"]),
        (
            SECRET_KEY,
            &["sk_test_", "sk_live_", "rk_test_", "rk_live_"],
        ),
        (WEBHOOK_SECRET, &["whsec_"]),
    ];
    if let Some((_, prefixes)) = keys.iter().find(|(p, _)| *p == pattern) {
        let prefix = prefixes.iter().find(|p| value.starts_with(*p))?;
        return Some(if value.chars().any(char::is_whitespace) {
            "must not contain spaces or line breaks".to_string()
        } else {
            format!(
                "is too short: a key is {prefix} and then its characters (copy it whole from Stripe)"
            )
        });
    }
    let decimals = match pattern {
        PRICE_2 => 2,
        PRICE_3 | EMPTY_OR_PRICE_3 => 3,
        _ => return None,
    };
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !(fraction.is_empty() || digits(fraction)) || value.ends_with('.') {
        return None;
    }
    Some(if whole.len() > 12 {
        "is too large (at most 12 digits before the decimal point)".to_string()
    } else {
        format!("has too many decimals (at most {decimals})")
    })
}

/// The schema of a request body of type `T`, as the document publishes it (deserialisation
/// contract), standalone (`$defs`), with `required` fields added: present, and not null.
pub fn request_schema<T: JsonSchema>(required: &[&str]) -> Value {
    let mut schema = SchemaSettings::draft2020_12()
        .with(|s| {
            s.contract = Contract::Deserialize;
            s.transforms
                .push(Box::new(RecursiveTransform(bound_integers)));
        })
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    require(&mut schema, required);
    schema
}

/// States the range of Rust's integer types, which schemars gives only as a `format` (and
/// `minimum: 0`): without a `maximum` a generator sends 2^40 for a `u32` field and sees it
/// refused. Bounds the type's attributes already narrow are kept.
pub fn bound_integers(schema: &mut Schema) {
    let (min, max): (Value, Value) = match schema.get("format").and_then(Value::as_str) {
        Some("uint32") => (0.into(), u32::MAX.into()),
        Some("uint64" | "uint") => (0.into(), u64::MAX.into()),
        Some("int32") => (i32::MIN.into(), i32::MAX.into()),
        Some("int64") => (i64::MIN.into(), i64::MAX.into()),
        _ => return,
    };
    if let Some(obj) = schema.as_object_mut() {
        obj.entry("minimum").or_insert(min);
        obj.entry("maximum").or_insert(max);
    }
}

/// Makes `fields` of an object schema required and not nullable.
pub fn require(schema: &mut Value, fields: &[&str]) {
    if fields.is_empty() {
        return;
    }
    let list = schema
        .as_object_mut()
        .expect("an object schema")
        .entry("required")
        .or_insert_with(|| Value::Array(Vec::new()));
    for f in fields {
        if let Some(list) = list.as_array_mut() {
            if !list.iter().any(|v| v == f) {
                list.push(Value::String(f.to_string()));
            }
        }
    }
    for f in fields {
        let Some(prop) = schema["properties"].get_mut(*f) else {
            panic!("required field {f} is not a property of the schema");
        };
        not_null(prop);
        // Required text of the public routes is not blank either.
        if prop.get("pattern").is_some_and(|p| p == PRINTABLE) {
            prop["pattern"] = Value::String(PRINTABLE_NON_BLANK.into());
        }
    }
}

/// Removes `null` from a property schema: `type: [T, null]` becomes `T`, an `anyOf` loses its
/// null branch.
fn not_null(prop: &mut Value) {
    if let Some(types) = prop.get_mut("type").and_then(Value::as_array_mut) {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let t = types[0].clone();
            prop["type"] = t;
        }
    }
    if let Some(branches) = prop.get_mut("anyOf").and_then(Value::as_array_mut) {
        branches.retain(|b| b.get("type").is_none_or(|t| t != "null"));
        if branches.len() == 1 {
            let only = branches[0].clone();
            let obj = prop.as_object_mut().expect("object");
            obj.remove("anyOf");
            if let Value::Object(m) = only {
                obj.extend(m);
            }
        }
    }
}

/// Checks a parsed body against the published schema of `T` with `required` (compiled into the
/// binary: `http::request_bodies`); the first error, as the contract's `validation_failed`
/// naming the field (`connect.accountIds[0]`). A body no operation publishes is a programming
/// error (the tests of the published files and of its route find it): it is answered
/// `500 internal`, never accepted unchecked.
pub fn check<T: JsonSchema>(body: &Value, required: &[&str]) -> Result<()> {
    let type_id = T::schema_id();
    let Some(first) = super::request_bodies::first_error(&type_id, required, body) else {
        return Err(Error::internal(format!(
            "no published request schema for {type_id} requiring {required:?} (run `make openapi`)"
        )));
    };
    let Some(e) = first else {
        return Ok(());
    };
    let (field, message) = field_and_message(&e);
    Err(Error::Validation {
        field: (!field.is_empty()).then_some(field),
        message,
    })
}

/// The field (`connect.accountIds[0]`) and the message of a schema error.
fn field_and_message(e: &jsonschema::ValidationError<'_>) -> (String, String) {
    // An optional value (`anyOf: [T, null]`) that is not null: the error of its `T` branch,
    // which names the field inside it.
    if let ValidationErrorKind::AnyOf { context } = e.kind() {
        let mut not_null = context.iter().filter(|branch| {
            !matches!(branch.as_slice(), [only] if matches!(only.kind(), ValidationErrorKind::Type { .. }))
        });
        // Exactly one branch the value could have meant (the others refused its type).
        if let (Some(branch), None) = (not_null.next(), not_null.next()) {
            if let Some(inner) = branch.first() {
                return field_and_message(inner);
            }
        }
    }
    let mut path = String::new();
    for segment in e.instance_path().iter() {
        match segment {
            jsonschema::paths::LocationSegment::Property(p) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&p);
            }
            jsonschema::paths::LocationSegment::Index(i) => path.push_str(&format!("[{i}]")),
        }
    }
    let join = |name: &str| {
        if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    let (field, message) = match e.kind() {
        ValidationErrorKind::Required { property } => (
            join(property.as_str().unwrap_or_default()),
            "is required".to_string(),
        ),
        ValidationErrorKind::AdditionalProperties { unexpected } => (
            join(unexpected.first().map(String::as_str).unwrap_or_default()),
            "is not a field of this request".to_string(),
        ),
        ValidationErrorKind::Pattern { pattern } => (
            path,
            e.instance()
                .as_str()
                .and_then(|value| precise_pattern_message(pattern, value))
                .unwrap_or_else(|| pattern_message(pattern)),
        ),
        ValidationErrorKind::MaxLength { limit } => {
            (path, format!("must be at most {limit} characters"))
        }
        ValidationErrorKind::MinLength { limit } => {
            (path, format!("must be at least {limit} characters"))
        }
        ValidationErrorKind::Maximum { limit } => (path, format!("must be at most {limit}")),
        ValidationErrorKind::Minimum { limit } => (path, format!("must be at least {limit}")),
        ValidationErrorKind::MaxItems { limit } => {
            (path, format!("must have at most {limit} items"))
        }
        ValidationErrorKind::MinItems { limit } => {
            (path, format!("must have at least {limit} items"))
        }
        ValidationErrorKind::MaxProperties { limit } => {
            (path, format!("must have at most {limit} entries"))
        }
        ValidationErrorKind::UniqueItems => (path, "must not list an item twice".to_string()),
        ValidationErrorKind::Enum { options } => (path, format!("must be one of {options}")),
        ValidationErrorKind::Type { .. } => (path, format!("has the wrong type ({e})")),
        _ => (path, e.to_string()),
    };
    // A map's key (`prices.xx1`): the compiled validators report the key's own error at the
    // map, with the key as the instance and a schema path through `propertyNames`. The key
    // comes first, then what keys must be.
    if e.schema_path().as_str().contains("/propertyNames/") {
        if let Some(key) = e.instance().as_str() {
            return (field, format!("{key}: {message}"));
        }
    }
    (field, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pattern compiled as the published validators compile it (`regex`, not `fancy-regex`).
    fn pattern(pattern: &str) -> jsonschema::Validator {
        jsonschema::options()
            .with_pattern_options(jsonschema::PatternOptions::regex())
            .build(&serde_json::json!({"pattern": pattern}))
            .expect("compiles")
    }

    fn matches(p: &str, s: &str) -> bool {
        pattern(p).is_valid(&Value::String(s.into()))
    }

    #[test]
    fn whitespace_and_control_classes_are_rusts() {
        let non_blank = pattern(NON_BLANK);
        let printable = pattern(PRINTABLE);
        // Every whitespace and control character is below U+3001; the classes list explicit
        // ranges, so the characters above (a sample of each plane) match like the last ones.
        let sample = (0x3001..=0x10FFFFu32).step_by(0x101);
        for c in (0..=0x3100u32).chain(sample).filter_map(char::from_u32) {
            let s = Value::String(c.to_string());
            assert_eq!(
                !non_blank.is_valid(&s),
                c.is_whitespace(),
                "{c:?} whitespace"
            );
            assert_eq!(!printable.is_valid(&s), c.is_control(), "{c:?} control");
        }
    }

    #[test]
    fn emails_that_match_are_emails() {
        for ok in ["a@b.co", "first.last+tag@sub.example.com", "ü@ex.ample"] {
            assert!(
                matches(EMAIL, ok) && crate::http::input::is_email(ok),
                "{ok}"
            );
        }
        for bad in [
            "a@b", "a b@c.de", "@c.de", "a@@c.de", "a@.c", "a@c.", "a,b@c.de",
        ] {
            assert!(!matches(EMAIL, bad), "{bad}");
        }
    }

    #[test]
    fn urls_that_match_pass_the_url_checks() {
        for ok in [
            "https://shop.example.com/thanks?session_id={CHECKOUT_SESSION_ID}",
            "https://my-shop.example/x",
            "http://localhost:8080/hook",
            "http://127.0.0.1/hook",
            "http://[::1]:9000/",
            "http://127.0.0.1:45123/hook",
            "https://a.example:65535/",
            "https://a.b",
        ] {
            assert!(matches(WEB_URL, ok), "{ok}");
            assert!(
                crate::domain::checkout::redirect_url::check("successUrl", ok).is_ok(),
                "{ok}"
            );
            assert!(
                crate::domain::webhooks::endpoint::check_url(
                    ok,
                    crate::domain::webhooks::endpoint::Reach::PublicAndLoopback
                )
                .is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "http://shop.example.com/",
            "https://10.0.0.1/",
            "https://1.2.3/",
            "https://user:pw@a.example/",
            "https://a.example/#frag",
            "https://xn--zz.example/",
            "ftp://a.example/",
            "https://a.example:65536/",
            "https://a.example:0/",
        ] {
            assert!(!matches(WEB_URL, bad), "{bad}");
        }
    }

    #[test]
    fn timestamps_that_match_parse() {
        for ok in [
            "2027-01-31T00:00:00Z",
            "0000-02-28T23:59:59.123456789+23:59",
            "9999-12-28t12:00:00-05:00",
            "2027-04-30T00:00:00Z",
            "2028-02-29T00:00:00Z",
            "2000-02-29T00:00:00Z",
        ] {
            assert!(matches(TIMESTAMP, ok), "{ok}");
            assert!(crate::time::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "2027-02-30T00:00:00Z",
            "2027-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2027-04-31T00:00:00Z",
            "2027-01-31",
            "2027-01-31T24:00:00Z",
        ] {
            assert!(!matches(TIMESTAMP, bad), "{bad}");
        }
    }

    #[test]
    fn keys_and_prices() {
        assert!(matches(SECRET_KEY, "") && matches(SECRET_KEY, "sk_test_abcde"));
        assert!(!matches(SECRET_KEY, "sk_test_abcd") && !matches(SECRET_KEY, "pk_test_abcde"));
        // A key goes into an HTTP header: printable ASCII only, as `apps::check_key` holds.
        assert!(
            !matches(SECRET_KEY, "sk_test_abcdé") && !matches(SECRET_KEY, "sk_test_ab\u{13}cd")
        );
        assert!(matches(WEBHOOK_SECRET, "whsec_abcdef") && !matches(WEBHOOK_SECRET, "whsec_ab cd"));
        assert!(
            matches(PRICE_2, "29.99") && !matches(PRICE_2, "29.999") && !matches(PRICE_2, "1.")
        );
        assert!(matches(EMPTY_OR_PRICE_3, "") && matches(EMPTY_OR_PRICE_3, "1.005"));
        assert!(matches(STRIPE_PRICE_ID, "price_1PgafmB7WZ01zgkW6dKueIc5"));
        assert!(!matches(STRIPE_PRICE_ID, "price_1") && !matches(STRIPE_PRICE_ID, "prod_123"));
    }

    #[test]
    fn required_fields_lose_null() {
        #[derive(schemars::JsonSchema, serde::Deserialize)]
        #[allow(dead_code)]
        struct In {
            name: Option<String>,
        }
        let s = request_schema::<In>(&["name"]);
        assert_eq!(s["properties"]["name"]["type"], "string");
        assert_eq!(s["required"], serde_json::json!(["name"]));
        let compiled = jsonschema::validator_for(&s).expect("compiles");
        assert!(!compiled.is_valid(&serde_json::json!({"name": null})));
        assert!(compiled.is_valid(&serde_json::json!({"name": "x"})));
    }

    #[test]
    fn a_body_no_operation_publishes_is_an_internal_error() {
        #[derive(schemars::JsonSchema, serde::Deserialize)]
        #[allow(dead_code)]
        struct Unpublished {
            name: String,
        }
        let e = check::<Unpublished>(&serde_json::json!({"name": "x"}), &[]).unwrap_err();
        assert_eq!(e.code(), "internal");
    }
}
