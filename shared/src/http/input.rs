//! Reading request input: JSON bodies (unknown fields refused where the type says so, errors
//! naming the field), pagination parameters, and common field checks.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::http::ApiRequest;
use crate::store::Page;
use crate::{Error, Result};

/// Parses the JSON body into `T`, after checking it against `T`'s JSON Schema (the one the
/// OpenAPI document publishes, see `http::schema`); the error names the offending field path.
pub fn json_body<T: DeserializeOwned + schemars::JsonSchema>(req: &ApiRequest) -> Result<T> {
    json_body_requiring::<T>(req, &[])
}

/// [`json_body`] for a create: `required` fields must be present and not null (the document's
/// `<Type>Create` schema says the same, from the same list).
pub fn json_body_requiring<T: DeserializeOwned + schemars::JsonSchema>(
    req: &ApiRequest,
    required: &[&str],
) -> Result<T> {
    if req.body.is_empty() {
        return Err(Error::Validation {
            field: None,
            message: "a JSON body is required".into(),
        });
    }
    let value: serde_json::Value =
        serde_json::from_slice(&req.body).map_err(|e| Error::Validation {
            field: None,
            message: format!("the body is not valid JSON: {e}"),
        })?;
    value_requiring(value, required)
}

/// A JSON value into `T` as a body is read: checked against `T`'s JSON Schema (`required`
/// fields present and not null), then deserialised; the error names the offending field path.
/// The dashboard's forms go through it too, so they answer exactly as the API does.
pub fn value_requiring<T: DeserializeOwned + schemars::JsonSchema>(
    value: serde_json::Value,
    required: &[&str],
) -> Result<T> {
    crate::http::schema::check::<T>(&value, required)?;
    serde_path_to_error::deserialize(whole_numbers_as_integers(value)).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        Error::Validation {
            field: (path != ".").then_some(path),
            message,
        }
    })
}

/// A `true`/`false` query parameter.
pub fn bool_param(field: &str, value: &str) -> Result<bool> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Error::validation(field, "must be true or false")),
    }
}

/// Bounds of `?limit=`.
pub const MIN_LIMIT: usize = 1;
pub const MAX_LIMIT: usize = 200;

/// `?limit=` (default 50, 1–200: digits only) and `?cursor=`.
pub fn pagination(req: &ApiRequest) -> Result<(usize, Option<String>)> {
    let page = ListQuery::from_params(|k| raw_param(req, k))?;
    Ok((page.limit, page.cursor))
}

/// A query parameter as sent (empty included), for parameters whose emptiness is an error.
pub fn raw_param<'a>(req: &'a ApiRequest, name: &str) -> Option<&'a str> {
    req.query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The page a list asks for: `limit` (1–200) items after `cursor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub limit: usize,
    pub cursor: Option<String>,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            limit: DEFAULT_LIMIT,
            cursor: None,
        }
    }
}

/// `?limit=` when none is given.
pub const DEFAULT_LIMIT: usize = 50;

impl ListQuery {
    /// The first `limit` items.
    pub fn first(limit: usize) -> Self {
        ListQuery {
            limit,
            cursor: None,
        }
    }

    /// A request's `?limit=` and `?cursor=`.
    pub fn from_request(req: &ApiRequest) -> Result<Self> {
        Self::from_params(|k| raw_param(req, k))
    }

    /// `limit` (default 50, 1–200: digits only; present but empty is an error) and `cursor`
    /// (empty is none) from query parameters, `param` giving a parameter's raw value.
    pub fn from_params<'a>(param: impl Fn(&str) -> Option<&'a str>) -> Result<Self> {
        let limit = match param("limit") {
            None => DEFAULT_LIMIT,
            Some(l) => match l.parse::<usize>() {
                Ok(n)
                    if l.bytes().all(|b| b.is_ascii_digit())
                        && (MIN_LIMIT..=MAX_LIMIT).contains(&n) =>
                {
                    n
                }
                _ => {
                    return Err(Error::validation(
                        "limit",
                        "must be a whole number from 1 to 200",
                    ))
                }
            },
        };
        let cursor = param("cursor")
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        Ok(ListQuery { limit, cursor })
    }
}

/// The contract's list body.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListBody<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> ListBody<T> {
    pub fn from_page<S>(page: Page<S>, view: impl FnMut(S) -> T) -> Self {
        ListBody {
            items: page.items.into_iter().map(view).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

/// Checks a required, trimmed, length-bounded text field.
pub fn text_field(field: &str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::validation(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(Error::validation(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(v.to_string())
}

/// A plausible email address (one `@`, a dot in the domain, no spaces, at most 254 chars).
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && s.chars().count() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| c.is_whitespace() || c == ',' || c == ';')
        && !domain.contains('@')
}

/// `354.0` as `354`: JSON Schema (and so the document) calls a number with a zero fraction an
/// integer, while serde would refuse it for an integer field.
fn whole_numbers_as_integers(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if !n.is_i64() && !n.is_u64() && f.fract() == 0.0 => {
                if (0.0..=u64::MAX as f64).contains(&f) && f < 18_446_744_073_709_551_616.0 {
                    Value::from(f as u64)
                } else if (i64::MIN as f64..0.0).contains(&f) {
                    Value::from(f as i64)
                } else {
                    Value::Number(n)
                }
            }
            _ => Value::Number(n),
        },
        Value::Array(items) => {
            Value::Array(items.into_iter().map(whole_numbers_as_integers).collect())
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, whole_numbers_as_integers(v)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(is_email("a@b.co"));
        assert!(!is_email("a@b"));
        assert!(!is_email("a b@c.de"));
        assert!(!is_email("@c.de"));
        assert!(!is_email("a@@c.de"));
    }

    #[test]
    fn a_list_query_reads_limit_and_cursor_as_the_api_does() {
        let read = |pairs: &[(&'static str, &'static str)]| {
            ListQuery::from_params(|k| pairs.iter().find(|(p, _)| *p == k).map(|(_, v)| *v))
        };
        assert_eq!(read(&[]).unwrap(), ListQuery::first(50));
        assert_eq!(
            read(&[("limit", "200"), ("cursor", "")]).unwrap(),
            ListQuery::first(200)
        );
        assert_eq!(
            read(&[("cursor", "c1")]).unwrap().cursor.as_deref(),
            Some("c1")
        );
        for bad in ["", "0", "201", "+5", " 5", "5.0"] {
            match read(&[("limit", bad)]) {
                Err(Error::Validation { field, message }) => {
                    assert_eq!(field.as_deref(), Some("limit"), "{bad:?}");
                    assert_eq!(message, "must be a whole number from 1 to 200");
                }
                other => panic!("limit {bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_value_is_refused_as_the_same_body_would_be() {
        use crate::handlers::admin::tokens::{TokenInput, CREATE_REQUIRED};
        let request = |body: &str| ApiRequest {
            method: http::Method::POST,
            path: "/api/tokens".into(),
            query: vec![],
            headers: Default::default(),
            body: body.as_bytes().to_vec().into(),
            source_ip: None,
            request_id: "r".into(),
        };
        for body in [r#"{"name": ""}"#, r#"{}"#, r#"{"name": "ci", "extra": 1}"#] {
            let from_body =
                json_body_requiring::<TokenInput>(&request(body), CREATE_REQUIRED).expect_err(body);
            let value = serde_json::from_str(body).unwrap();
            let from_value = value_requiring::<TokenInput>(value, CREATE_REQUIRED).expect_err(body);
            assert_eq!(
                format!("{from_value:?}"),
                format!("{from_body:?}"),
                "{body}"
            );
            assert!(
                matches!(from_value, Error::Validation { field: Some(_), .. }),
                "{body}"
            );
        }
        let ok: TokenInput =
            value_requiring(serde_json::json!({"name": "ci"}), CREATE_REQUIRED).unwrap();
        assert_eq!(ok.name.as_deref(), Some("ci"));
    }

    #[test]
    fn whole_floats_become_integers() {
        use serde_json::json;
        let v = whole_numbers_as_integers(json!({"a": 354.0, "b": [2.5, -3.0], "c": "1.0"}));
        assert_eq!(v, json!({"a": 354, "b": [2.5, -3], "c": "1.0"}));
        assert!(v["a"].is_u64());
    }
}
