//! Forms in, typed inputs out: a page's form fields carry the API's own JSON field names, so a
//! form becomes the body of the admin operation it stands for, read into that operation's
//! input exactly as the API reads it ([`input`]); the errors (which name their field) are
//! shown next to that very input.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::http::ApiRequest;
use crate::{Error, Result};

/// A submitted `application/x-www-form-urlencoded` form.
#[derive(Debug, Default, Clone)]
pub struct Form(Vec<(String, String)>);

/// What a form field holds, and so how it becomes JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text, trimmed; empty is omitted.
    Text,
    /// Text kept as typed (templates); empty is omitted.
    Multiline,
    /// A write-only secret: empty means "keep the stored one", so it is omitted.
    Secret,
    /// A checkbox: absent is `false`.
    Bool,
    /// A whole number; empty is omitted.
    Number,
    /// A whole number the API may leave unset: empty is `null`.
    OptionalNumber,
    /// A list typed one item a line or comma-separated: an array of the trimmed, non-empty
    /// items (empty is `[]`, which clears the list).
    List,
}

impl Form {
    pub fn parse(req: &ApiRequest) -> Result<Form> {
        let ct = req.header("content-type").unwrap_or_default();
        if !req.body.is_empty() && !ct.starts_with("application/x-www-form-urlencoded") {
            return Err(Error::BadRequest {
                code: "unsupported_media_type",
                message: "the dashboard's forms post application/x-www-form-urlencoded".into(),
            });
        }
        Ok(Form(
            url::form_urlencoded::parse(&req.body)
                .into_owned()
                .collect(),
        ))
    }

    /// A submitted form, `application/x-www-form-urlencoded` or `multipart/form-data` (a form
    /// with a file: the import page). A file field's value is the file's text, and
    /// `{name}.filename` its name; a file that is not UTF-8 text is an error at its field.
    pub async fn read(req: &ApiRequest) -> Result<Form> {
        let ct = req.header("content-type").unwrap_or_default();
        if !ct.starts_with("multipart/form-data") {
            return Form::parse(req);
        }
        let unreadable = |e: multer::Error| Error::BadRequest {
            code: "bad_request",
            message: format!("the form could not be read: {e}"),
        };
        let boundary = multer::parse_boundary(ct).map_err(unreadable)?;
        let body = req.body.clone();
        let stream = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
        let mut parts = multer::Multipart::new(stream, boundary);
        let mut pairs = Vec::new();
        while let Some(part) = parts.next_field().await.map_err(unreadable)? {
            let name = part.name().unwrap_or_default().to_string();
            let file_name = part.file_name().map(str::to_string);
            let bytes = part.bytes().await.map_err(unreadable)?;
            let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                Error::validation(name.clone(), "must be a text file (UTF-8 CSV or JSON)")
            })?;
            if let Some(f) = file_name {
                pairs.push((format!("{name}.filename"), f));
            }
            pairs.push((name, text));
        }
        Ok(Form(pairs))
    }

    pub fn from_pairs(pairs: Vec<(String, String)>) -> Form {
        Form(pairs)
    }

    /// A field as typed.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A field, trimmed; `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.raw(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// Every value of a repeated field (rows of a table), as typed, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn checked(&self, name: &str) -> bool {
        self.raw(name).is_some()
    }

    pub fn action(&self) -> &str {
        self.get("action").unwrap_or("save")
    }

    /// The submitted values to show again in a form that failed (secrets never echoed).
    pub fn echo(&self, secrets: &[&str]) -> Value {
        let mut out = Map::new();
        for (k, v) in &self.0 {
            if k == "csrf" || secrets.contains(&k.as_str()) {
                continue;
            }
            out.insert(k.clone(), Value::String(v.clone()));
        }
        Value::Object(out)
    }

    /// The API body for `fields` (JSON names, dotted for nested objects).
    pub fn body(&self, fields: &[(&str, Kind)]) -> Result<Value> {
        let mut body = Value::Object(Map::new());
        for &(name, kind) in fields {
            let value = match kind {
                Kind::Bool => Some(Value::Bool(self.checked(name))),
                Kind::Text => self.get(name).map(|v| Value::String(v.to_string())),
                Kind::Secret => self.get(name).map(|v| Value::String(v.to_string())),
                Kind::Multiline => self
                    .raw(name)
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| Value::String(v.replace("\r\n", "\n"))),
                Kind::Number | Kind::OptionalNumber => match self.get(name) {
                    None if kind == Kind::OptionalNumber => Some(Value::Null),
                    None => None,
                    Some(v) => Some(Value::from(v.parse::<u32>().map_err(|_| {
                        Error::validation(name, "must be a whole number (0 or more)")
                    })?)),
                },
                Kind::List => Some(Value::from(
                    list_items(self.raw(name).unwrap_or_default())
                        .into_iter()
                        .map(Value::from)
                        .collect::<Vec<_>>(),
                )),
            };
            if let Some(v) = value {
                set_path(&mut body, name, v);
            }
        }
        Ok(body)
    }
}

/// A form's body (from [`Form::body`]) as an operation's typed input, through the API's own
/// schema check and deserialisation (`required`: a create's required fields), so a page says
/// what the API would say about a bad field, at the same field.
pub fn input<T: DeserializeOwned + schemars::JsonSchema>(
    body: Value,
    required: &[&str],
) -> Result<T> {
    crate::http::input::value_requiring(body, required)
}

/// The items of a list field: split at line breaks and commas, trimmed, empties dropped.
pub fn list_items(text: &str) -> Vec<String> {
    text.split(['\n', ','])
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .map(str::to_string)
        .collect()
}

/// Sets `a.b.c` in a JSON object, creating the objects on the way.
pub fn set_path(target: &mut Value, path: &str, value: Value) {
    let mut cur = target;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            cur[part] = value;
            return;
        }
        if !cur[part].is_object() {
            cur[part] = Value::Object(Map::new());
        }
        cur = &mut cur[part];
    }
}

/// The status of a page showing a form: 422 when it carries errors (from [`errors_of`]).
pub fn form_status(errors: &Option<Value>) -> http::StatusCode {
    if errors.is_some() {
        http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        http::StatusCode::OK
    }
}

/// A failed form's error, for its template: the message by field (`_` when the error names
/// none). Non-validation errors are not form errors.
pub fn errors_of(e: &Error) -> Option<Value> {
    let (field, message) = match e {
        Error::Validation { field, message } => (field.clone(), message.clone()),
        Error::Conflict(m) => (None, m.clone()),
        Error::ConflictAt { field, message } => (Some(field.clone()), message.clone()),
        _ => return None,
    };
    let mut m = Map::new();
    let key = field.unwrap_or_else(|| "_".into());
    // `emailTemplate` errors concern the whole template; the first field shows them.
    let key = if key == "emailTemplate" {
        "emailTemplate.subject".to_string()
    } else {
        key
    };
    m.insert(key, Value::String(message));
    Some(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Form {
        Form::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn a_form_becomes_the_api_body() {
        let f = form(&[
            ("name", "  Pro "),
            ("autoEmail", "on"),
            ("trialDays", "7"),
            ("maxDevices", ""),
            ("defaultLicenseDays", ""),
            ("externalIds", " exo-1, exo-2\r\nlk-3\n\n"),
            ("secretKey", ""),
            ("emailTemplate.subject", "Hi"),
        ]);
        let body = f
            .body(&[
                ("name", Kind::Text),
                ("autoEmail", Kind::Bool),
                ("archived", Kind::Bool),
                ("trialDays", Kind::Number),
                ("maxDevices", Kind::Number),
                ("defaultLicenseDays", Kind::OptionalNumber),
                ("externalIds", Kind::List),
                ("entitlements", Kind::List),
                ("secretKey", Kind::Secret),
                ("emailTemplate.subject", Kind::Multiline),
            ])
            .unwrap();
        assert_eq!(
            body,
            serde_json::json!({"name": "Pro", "autoEmail": true, "archived": false,
                "trialDays": 7, "defaultLicenseDays": null,
                "externalIds": ["exo-1", "exo-2", "lk-3"], "entitlements": [],
                "emailTemplate": {"subject": "Hi"}})
        );
        let bad = form(&[("trialDays", "seven")]).body(&[("trialDays", Kind::Number)]);
        assert_eq!(
            errors_of(&bad.unwrap_err()).unwrap()["trialDays"],
            "must be a whole number (0 or more)"
        );
    }

    /// The API's answer to `body` posted as JSON to a create (`required`) or an update.
    fn api_reading<T: DeserializeOwned + schemars::JsonSchema>(
        body: &Value,
        required: &[&str],
    ) -> Result<T> {
        let req = ApiRequest {
            method: http::Method::POST,
            path: "/api/test".into(),
            query: Vec::new(),
            headers: http::HeaderMap::new(),
            body: serde_json::to_vec(body).unwrap().into(),
            source_ip: None,
            request_id: "test".into(),
        };
        crate::http::input::json_body_requiring(&req, required)
    }

    #[test]
    fn a_form_is_read_into_its_input_as_the_api_reads_the_body() {
        use crate::handlers::admin::apps::{AppInput, CREATE_REQUIRED};
        let fields = [
            ("name", Kind::Text),
            ("publishableKey", Kind::Text),
            ("secretKey", Kind::Secret),
            ("isLive", Kind::Bool),
        ];
        let good = form(&[("name", "Shop"), ("publishableKey", "pk_test_abcdef")])
            .body(&fields)
            .unwrap();
        let app: AppInput = input(good, CREATE_REQUIRED).unwrap();
        assert_eq!(app.name.as_deref(), Some("Shop"));
        assert_eq!(app.publishable_key.as_deref(), Some("pk_test_abcdef"));
        assert_eq!(app.is_live, Some(false));
        assert!(app.secret_key.is_none());
        // What the schema refuses, the form is refused for, at the same field, in the same words.
        let long_name = "x".repeat(201);
        for (pairs, required) in [
            (&[("publishableKey", "nope")][..], &[][..]),
            (&[("name", long_name.as_str())][..], &[][..]),
            (&[("secretKey", "whsec_abcdef")][..], CREATE_REQUIRED),
        ] {
            let body = form(pairs).body(&fields).unwrap();
            let (
                Err(Error::Validation { field, message }),
                Err(Error::Validation {
                    field: api_field,
                    message: api_message,
                }),
            ) = (
                input::<AppInput>(body.clone(), required),
                api_reading::<AppInput>(&body, required),
            )
            else {
                panic!("{pairs:?} should be refused by both");
            };
            assert_eq!((field, message), (api_field, api_message), "{pairs:?}");
        }
    }
}
