//! Forms in, typed inputs out: a page's form fields carry the API's own JSON field names, so a
//! form becomes the body of the admin operation it stands for, read into that operation's
//! input exactly as the API reads it ([`input`]); the errors (which name their field) are
//! shown next to that very input, and every one of them in a summary at the top of the form
//! ([`Refused`], `macros.html`'s `summary`).

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
    /// A code (a currency), trimmed and lowercased; empty is omitted.
    Code,
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

    /// The submitted values to show again in a form that failed (secrets never echoed: a
    /// secret typed in is marked `{name}.typed`, and the page asks for it again).
    pub fn echo(&self, secrets: &[&str]) -> Value {
        let mut out = Map::new();
        for (k, v) in &self.0 {
            if k == "csrf" || secrets.contains(&k.as_str()) {
                continue;
            }
            out.insert(k.clone(), Value::String(v.clone()));
        }
        self.typed_secrets(secrets, &mut out);
        Value::Object(out)
    }

    /// The API body for `fields` (JSON names, dotted for nested objects); the first field it
    /// cannot read is the error.
    pub fn body(&self, fields: &[(&str, Kind)]) -> Result<Value> {
        let (body, errors) = self.body_and_errors(fields);
        match errors.into_iter().next() {
            Some((field, message)) => Err(Error::validation(
                field,
                message.as_str().unwrap_or_default().to_string(),
            )),
            None => Ok(body),
        }
    }

    /// The API body for `fields`, and every field it could not read (left out of the body),
    /// so a page can list them all at once.
    pub fn body_and_errors(&self, fields: &[(&str, Kind)]) -> (Value, Map<String, Value>) {
        let mut body = Value::Object(Map::new());
        let mut errors = Map::new();
        for &(name, kind) in fields {
            let value = match kind {
                Kind::Bool => Some(Value::Bool(self.checked(name))),
                Kind::Text => self.get(name).map(|v| Value::String(v.to_string())),
                Kind::Code => self
                    .get(name)
                    .map(|v| Value::String(v.to_ascii_lowercase())),
                Kind::Secret => self.get(name).map(|v| Value::String(v.to_string())),
                Kind::Multiline => self
                    .raw(name)
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| Value::String(v.replace("\r\n", "\n"))),
                Kind::Number | Kind::OptionalNumber => match self.get(name) {
                    None if kind == Kind::OptionalNumber => Some(Value::Null),
                    None => None,
                    Some(v) => match whole_number(v) {
                        Ok(n) => Some(Value::from(n)),
                        Err(message) => {
                            errors.insert(name.to_string(), message.into());
                            None
                        }
                    },
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
        (body, errors)
    }

    /// The secret fields that were typed in (and so must be typed again: a page never shows a
    /// secret back), as `{name}.typed` values for [`Form::echo`]'s output.
    fn typed_secrets(&self, secrets: &[&str], out: &mut Map<String, Value>) {
        for name in secrets {
            if self.get(name).is_some() {
                out.insert(format!("{name}.typed"), Value::Bool(true));
            }
        }
    }
}

/// A whole number typed in a form: what is wrong with it in the field's own terms (a number
/// too large is "too large", not "not a number").
fn whole_number(text: &str) -> std::result::Result<u32, String> {
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(
            if text.starts_with('-') && text[1..].bytes().all(|b| b.is_ascii_digit()) {
                "must be 0 or more".into()
            } else {
                "must be a whole number (0 or more)".into()
            },
        );
    }
    text.parse::<u32>()
        .map_err(|_| format!("is too large (at most {})", u32::MAX))
}

/// Why a form was not accepted: its invalid fields (every one the form layer could find), or
/// another error (not the form's to show).
#[derive(Debug)]
pub enum Refused {
    Fields(Map<String, Value>),
    Other(Error),
}

impl From<Error> for Refused {
    fn from(e: Error) -> Self {
        match errors_of(&e) {
            Some(Value::Object(fields)) => Refused::Fields(fields),
            _ => Refused::Other(e),
        }
    }
}

impl Refused {
    /// The errors for the form's template, or the error that is not the form's.
    pub fn errors(self) -> Result<Value> {
        match self {
            Refused::Fields(fields) => Ok(Value::Object(fields)),
            Refused::Other(e) => Err(e),
        }
    }
}

/// Longest list of errors a form collects (a form has fewer fields).
const MAX_ERRORS: usize = 40;

/// A form as an operation's typed input through the API's own checks ([`input`]), or every
/// invalid field: the fields the form could not read (`unread`, from
/// [`Form::body_and_errors`]) and each field the schema refuses — asked again without the
/// field it refused, until it refuses none.
pub fn input_all<T: DeserializeOwned + schemars::JsonSchema>(
    (mut body, mut errors): (Value, Map<String, Value>),
    required: &[&str],
) -> std::result::Result<T, Refused> {
    let mut required = required;
    for _ in 0..MAX_ERRORS {
        match input::<T>(body.clone(), required) {
            Ok(v) if errors.is_empty() => return Ok(v),
            Err(Error::Validation {
                field: Some(field),
                message,
            }) => {
                let removed = remove_path(&mut body, &field);
                errors
                    .entry(shown_at(field))
                    .or_insert_with(|| Value::String(in_page_words(&message)));
                if !removed {
                    // A missing required field: the rest is checked as an update's body.
                    if required.is_empty() {
                        break;
                    }
                    required = &[];
                }
            }
            Err(e) if errors.is_empty() => return Err(e.into()),
            // Valid without the invalid fields, or an error about the whole body.
            _ => break,
        }
    }
    Err(Refused::Fields(errors))
}

/// Removes `a.b.c` (or `a.b[2]`: its object `a.b`) from a JSON object; whether it was there.
fn remove_path(target: &mut Value, path: &str) -> bool {
    let path = path.split('[').next().unwrap_or(path);
    let mut cur = target;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            return cur
                .as_object_mut()
                .is_some_and(|o| o.remove(part).is_some());
        }
        match cur.get_mut(part) {
            Some(next) => cur = next,
            None => return false,
        }
    }
    false
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

/// The forms' fields by the words their pages label them with, for the error summary's links
/// and for messages that name another field (the API's `isLive: true` is the page's "Is live"
/// box ticked).
pub const LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("publishableKey", "Publishable key"),
    ("secretKey", "Secret key"),
    ("webhookSigningSecret", "Webhook signing secret"),
    ("previousWebhookSigningSecret", "Previous signing secret"),
    ("defaultCurrency", "Default currency"),
    ("isLive", "Is live"),
    ("active", "Active"),
    ("isDefault", "Default app for its mode"),
    ("price", "Price"),
    ("prices", "Prices in other currencies"),
    ("autoEmail", "Auto Email"),
    ("defaultLicenseDays", "Default license days"),
    ("trialDays", "Trial days"),
    ("maxDevices", "Device limit"),
    ("maxIps", "IP limit"),
    ("expirationStart", "Expiry starts at"),
    ("renewalMode", "Subscription renewal"),
    ("graceDays", "Grace days"),
    ("refundAction", "On a full refund"),
    ("disputeAction", "On a dispute"),
    ("archived", "Archived"),
    ("acceptTestLicenses", "Accept test licenses"),
    ("externalIds", "External ids"),
    ("listedProducts", "When a purchase lists several products"),
    ("entitlements", "Entitlements"),
    ("licenseFileTtl", "License file lifetime"),
    ("licenseFileMaxTtl", "Longest license file lifetime"),
    ("emailTemplate.subject", "Email template"),
    ("emailTemplate.html", "HTML body"),
    ("emailTemplate.text", "Text body"),
    ("appId", "Stripe app"),
    ("productId", "Product"),
    ("planId", "Plan"),
    ("quantity", "Quantity"),
    ("email", "Buyer email"),
    ("customerEmail", "Customer email"),
    ("customerName", "Customer name"),
    ("expiresAt", "Expires on"),
    ("url", "URL"),
    ("description", "Description"),
    ("eventTypes", "Events to send"),
];

/// A field's label ([`LABELS`]; a price row's is its currency's).
pub fn label_of(field: &str) -> String {
    if let Some(currency) = field.strip_prefix("prices.") {
        return format!("Price in {}", currency.to_ascii_uppercase());
    }
    LABELS
        .iter()
        .find(|(name, _)| *name == field)
        .map_or_else(|| field.to_string(), |(_, label)| label.to_string())
}

/// The fields of a form's errors in the order the forms show them ([`LABELS`]' order; the
/// whole form's error, `_`, first), for the summary.
pub fn in_form_order(mut fields: Vec<String>) -> Vec<String> {
    let rank = |f: &str| {
        if f == "_" {
            return 0;
        }
        let f = if f.starts_with("prices.") {
            "prices"
        } else {
            f
        };
        1 + LABELS
            .iter()
            .position(|(name, _)| *name == f)
            .unwrap_or(LABELS.len())
    };
    fields.sort_by_key(|f| rank(f));
    fields
}

/// A message in the page's words: a checkbox named by its JSON field (`set isLive: true`,
/// `(isLive: true)`) becomes its label.
pub fn in_page_words(message: &str) -> String {
    let mut out = message.to_string();
    for (name, label) in LABELS {
        if !out.contains(name) {
            continue;
        }
        out = out
            .replace(&format!("set {name}: true"), &format!("tick “{label}”"))
            .replace(&format!("{name}: true"), &format!("“{label}” ticked"))
            .replace(&format!("{name}: false"), &format!("“{label}” not ticked"));
    }
    out
}

/// The errors of a form that comes back with errors, plus a request to type again each secret
/// that was typed (`values` from [`Form::echo`] mark them): a page never shows a secret back,
/// so it says so rather than leaving the field silently empty.
pub fn secrets_to_retype(errors: Option<Value>, values: &Value) -> Option<Value> {
    let Some(Value::Object(mut errors)) = errors else {
        return errors;
    };
    if let Value::Object(values) = values {
        for key in values.keys() {
            if let Some(name) = key.strip_suffix(".typed") {
                errors.entry(name.to_string()).or_insert_with(|| {
                    "re-enter it: secrets are never kept on a form sent back with errors".into()
                });
            }
        }
    }
    Some(Value::Object(errors))
}

/// The input that shows a field's error: `emailTemplate` errors concern the whole template,
/// and its first field shows them.
fn shown_at(field: String) -> String {
    if field == "emailTemplate" {
        "emailTemplate.subject".to_string()
    } else {
        field
    }
}

/// A failed form's error, for its template: the message by field (`_` when the error names
/// none), in the page's words. Non-validation errors are not form errors.
pub fn errors_of(e: &Error) -> Option<Value> {
    let (field, message) = match e {
        Error::Validation { field, message } => (field.clone(), message.clone()),
        Error::Conflict(m) => (None, m.clone()),
        Error::ConflictAt { field, message } => (Some(field.clone()), message.clone()),
        _ => return None,
    };
    let mut m = Map::new();
    let key = shown_at(field.unwrap_or_else(|| "_".into()));
    m.insert(key, Value::String(in_page_words(&message)));
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

    #[test]
    fn a_form_with_several_bad_fields_lists_them_all_in_its_words() {
        use crate::handlers::admin::products::{ProductInput, CREATE_REQUIRED};
        let fields = [
            ("name", Kind::Text),
            ("price", Kind::Text),
            ("trialDays", Kind::Number),
            ("maxDevices", Kind::Number),
            ("graceDays", Kind::Number),
        ];
        let f = form(&[
            ("price", "1234567890123.00"),
            ("trialDays", "seven"),
            ("maxDevices", "99999999999"),
            ("graceDays", "-1"),
        ]);
        let Err(Refused::Fields(errors)) =
            input_all::<ProductInput>(f.body_and_errors(&fields), CREATE_REQUIRED)
        else {
            panic!("refused");
        };
        assert_eq!(errors["name"], "is required");
        assert_eq!(
            errors["price"],
            "is too large (at most 12 digits before the decimal point)"
        );
        assert_eq!(errors["trialDays"], "must be a whole number (0 or more)");
        assert_eq!(errors["maxDevices"], "is too large (at most 4294967295)");
        assert_eq!(errors["graceDays"], "must be 0 or more");
        assert_eq!(errors.len(), 5, "{errors:?}");
        // A good form is still the operation's input.
        let ok = form(&[("name", "Pro"), ("price", "29.99")]);
        let input: ProductInput = input_all(ok.body_and_errors(&fields), CREATE_REQUIRED).unwrap();
        assert_eq!(input.name.as_deref(), Some("Pro"));
    }

    #[test]
    fn messages_name_checkboxes_by_their_label_and_keys_by_their_real_fault() {
        assert_eq!(
            in_page_words(
                "is a live-mode key but the app is a test app (set isLive: true for live keys)"
            ),
            "is a live-mode key but the app is a test app (tick “Is live” for live keys)"
        );
        use crate::handlers::admin::apps::{AppInput, CREATE_REQUIRED};
        let short = form(&[("name", "Shop"), ("secretKey", "sk_test_1")])
            .body(&[("name", Kind::Text), ("secretKey", Kind::Secret)])
            .unwrap();
        let Err(Error::Validation { field, message }) = input::<AppInput>(short, CREATE_REQUIRED)
        else {
            panic!("a short key is refused");
        };
        assert_eq!(field.as_deref(), Some("secretKey"));
        assert!(message.starts_with("is too short"), "{message}");
        // A typed secret comes back as a request to type it again.
        let echoed = form(&[("secretKey", "sk_test_x"), ("name", "")]).echo(&["secretKey"]);
        let errors = secrets_to_retype(Some(serde_json::json!({"name": "is required"})), &echoed);
        assert!(errors.unwrap()["secretKey"]
            .as_str()
            .unwrap()
            .starts_with("re-enter it"));
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
