//! The OpenAPI 3.1 document of the whole HTTP surface, generated from the code: paths and
//! methods from the route table, request and response schemas derived (`schemars`) from the
//! very types the handlers read and write. Each operation's description is part of its row in
//! [`super::operations`] (a row cannot be declared without one); this module is the builder
//! those descriptions use, and the assembly of the document.
//!
//! The generation runs at build time, not in the functions (`app::published`): the document
//! and each request body's standalone schema are checked in under `shared/openapi/`, the admin
//! function serves the document ([`PUBLISHED`]), and every function checks request bodies with
//! validators compiled from those schemas (`http::schema`). So no binary links `schemars`'
//! generators, the schema of every answer type or a JSON Schema compiler, and what is served is
//! what was reviewed.

use std::collections::{BTreeMap, HashSet};

use schemars::generate::{Contract, SchemaSettings};
use schemars::transform::RecursiveTransform;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

use crate::app::idempotency;
use crate::app::routes::ROUTES;
use crate::error::ErrorBody;
use crate::http::input::ListBody;
use crate::http::schema;

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Admin API token.
    Token,
    /// Stripe's signature.
    Stripe,
    /// Public.
    Public,
    /// The dashboard's session cookie (and the CSRF token of its forms).
    Session,
    /// A buyer's customer-portal session cookie (and the CSRF token of its forms).
    Portal,
}

/// Collects schemas: request bodies under the deserialisation contract, responses under
/// the serialisation one, both into `components/schemas`.
pub(crate) struct Gen {
    requests: SchemaGenerator,
    responses: SchemaGenerator,
    /// `<Type>Create` components to derive: (type's component, required fields, name).
    creates: Vec<(String, &'static [&'static str], String)>,
    /// Each request body's standalone schema (what the server checks), by the body type's
    /// schema id and the fields it requires.
    bodies: BTreeMap<(String, Vec<String>), Value>,
}

impl Gen {
    pub(crate) fn new() -> Self {
        let settings = |contract| {
            SchemaSettings::draft2020_12().with(|s| {
                s.definitions_path = "/components/schemas".into();
                s.contract = contract;
                s.transforms
                    .push(Box::new(RecursiveTransform(schema::bound_integers)));
            })
        };
        Gen {
            requests: settings(Contract::Deserialize).into_generator(),
            responses: settings(Contract::Serialize).into_generator(),
            creates: Vec::new(),
            bodies: BTreeMap::new(),
        }
    }

    /// Records the standalone schema of a request body of `T` with `required` fields.
    fn body_schema<T: JsonSchema>(&mut self, required: &[&str]) {
        self.bodies.insert(
            (
                T::schema_id().into_owned(),
                required.iter().map(|f| f.to_string()).collect(),
            ),
            schema::request_schema::<T>(required),
        );
    }

    fn request<T: JsonSchema>(&mut self) -> Value {
        any_as_object(self.requests.subschema_for::<T>().to_value())
    }

    fn response<T: JsonSchema>(&mut self) -> Value {
        any_as_object(self.responses.subschema_for::<T>().to_value())
    }

    /// The body of a create: `T`'s schema with `required` fields present and not null, as
    /// its own component (`<T>Create`), from the list the handler checks with.
    fn create<T: JsonSchema>(&mut self, required: &'static [&'static str]) -> Value {
        let reference = self.request::<T>();
        let name = reference["$ref"]
            .as_str()
            .and_then(|r| r.rsplit('/').next())
            .expect("input types are components")
            .to_string();
        // One component per (type, required list): the public routes share one body type
        // with a different required list each (`BodyCreate`, `BodyCreate2`, ...).
        let same_type = self.creates.iter().filter(|(n, _, _)| *n == name);
        let create = match same_type.clone().find(|(_, r, _)| *r == required) {
            Some((_, _, component)) => component.clone(),
            None => {
                let component = match same_type.count() {
                    0 => format!("{name}Create"),
                    n => format!("{name}Create{}", n + 1),
                };
                self.creates.push((name, required, component.clone()));
                component
            }
        };
        json!({"$ref": format!("#/components/schemas/{create}")})
    }
}

/// "Any JSON" as `{}` rather than the boolean schema `true`: both are valid OpenAPI 3.1, but
/// client generators (openapi-python-client) read only the object form.
fn any_as_object(schema: Value) -> Value {
    if schema == Value::Bool(true) {
        json!({})
    } else {
        schema
    }
}

/// One operation being described.
pub(crate) struct Operation {
    summary: &'static str,
    tag: &'static str,
    auth: Auth,
    body: Option<Value>,
    success: (u16, &'static str, Option<Value>),
    query: Vec<(&'static str, &'static str)>,
    /// Header parameters: (name, required, description, schema).
    headers: Vec<(&'static str, bool, &'static str, Value)>,
    /// Answers whose headers matter: CORS on the public routes.
    cross_origin: bool,
    extra_errors: Vec<(u16, &'static str)>,
}

impl Operation {
    pub(crate) fn new(summary: &'static str, tag: &'static str, auth: Auth) -> Self {
        Operation {
            summary,
            tag,
            auth,
            body: None,
            success: (200, "OK", None),
            query: Vec::new(),
            headers: Vec::new(),
            cross_origin: false,
            extra_errors: Vec::new(),
        }
    }

    pub(crate) fn body<T: JsonSchema>(mut self, g: &mut Gen) -> Self {
        g.body_schema::<T>(&[]);
        self.body = Some(g.request::<T>());
        self
    }

    /// A body with `required` fields (the list the handler checks with).
    pub(crate) fn body_requiring<T: JsonSchema>(
        mut self,
        g: &mut Gen,
        required: &'static [&'static str],
    ) -> Self {
        g.body_schema::<T>(required);
        self.body = Some(g.create::<T>(required));
        self
    }

    pub(crate) fn ok<T: JsonSchema>(mut self, g: &mut Gen) -> Self {
        self.success = (200, "OK", Some(g.response::<T>()));
        self
    }

    /// 200 with one of two bodies (a license file, or the refusal's answer).
    pub(crate) fn ok_either<A: JsonSchema, B: JsonSchema>(mut self, g: &mut Gen) -> Self {
        let either = json!({"anyOf": [g.response::<A>(), g.response::<B>()]});
        self.success = (200, "OK", Some(either));
        self
    }

    pub(crate) fn created<T: JsonSchema>(mut self, g: &mut Gen) -> Self {
        self.success = (201, "Created", Some(g.response::<T>()));
        self
    }

    pub(crate) fn status<T: JsonSchema>(
        mut self,
        g: &mut Gen,
        status: u16,
        description: &'static str,
    ) -> Self {
        self.success = (status, description, Some(g.response::<T>()));
        self
    }

    pub(crate) fn no_content(mut self) -> Self {
        self.success = (204, "Deleted", None);
        self
    }

    /// A paginated list of `T`, with extra query filters.
    pub(crate) fn list<T: JsonSchema>(
        mut self,
        g: &mut Gen,
        filters: &[(&'static str, &'static str)],
    ) -> Self {
        self.success = (200, "One page", Some(g.response::<ListBody<T>>()));
        self.query.push(("limit", "Page size, 1–200 (default 50)."));
        self.query
            .push(("cursor", "The `nextCursor` of the previous page of this listing; any other value is `404 not_found`."));
        self.query.extend_from_slice(filters);
        self
    }

    pub(crate) fn error(mut self, status: u16, description: &'static str) -> Self {
        self.extra_errors.push((status, description));
        self
    }

    /// What the shared Stripe webhook URLs refuse before matching (`webhook::shared_url`).
    pub(crate) fn shared_webhook_errors(self) -> Self {
        self.error(403, "The request does not come from one of Stripe's webhook addresses (`not_from_stripe`): post to the app's own URL from elsewhere.")
            .error(413, "The body is larger than 64 KiB, the shared URL's limit (`payload_too_large`); the app's own URL takes up to 256 KiB.")
    }

    fn into_json(self, g: &mut Gen, path: &str, method: &str) -> Value {
        let error_schema = g.response::<ErrorBody>();
        let error = |description: &str| json!({"description": description, "content": {"application/json": {"schema": error_schema}}});
        let mut responses = Map::new();
        let (status, description, schema) = self.success;
        responses.insert(
            status.to_string(),
            match schema {
                Some(s) => json!({"description": description, "content": {"application/json": {"schema": s}}}),
                None => json!({"description": description}),
            },
        );
        let mut errors: Vec<(u16, &str)> = self.extra_errors;
        if self.query.iter().any(|(n, _)| query_schema(n).is_some())
            || self.headers.iter().any(|h| h.0 == idempotency::HEADER)
        {
            errors.push((
                422,
                "A parameter is invalid (`validation_failed`, with `field`).",
            ));
        }
        if self.headers.iter().any(|h| h.0 == idempotency::HEADER) {
            errors.push((409, "The `Idempotency-Key` is in use by a request still running (`idempotency_key_in_use`; retry), or was used within 24 hours for a different request (`idempotency_key_mismatch`); or the request conflicts with the current state (`conflict`)."));
        }
        if matches!(self.auth, Auth::Token) {
            errors.push((
                401,
                "Missing, malformed, unknown or revoked API token (`unauthorized`).",
            ));
        }
        if path.contains('{') {
            errors.push((404, "No such resource for this tenant (`not_found`)."));
        }
        if self.query.iter().any(|(n, _)| *n == "cursor") {
            errors.push((
                404,
                "The `cursor` is not one this listing returned (`not_found`).",
            ));
        }
        if self.body.is_some() {
            errors.push((
                422,
                "A field is invalid (`validation_failed`, with `field`).",
            ));
            errors.push((
                413,
                "The body is larger than 256 KiB (`payload_too_large`).",
            ));
        }
        errors.push((500, "Internal error (`internal`); no details are returned."));
        errors.push((
            503,
            "A service Keyhook depends on is unavailable (`upstream_unavailable`); retry.",
        ));
        for (status, description) in errors {
            responses
                .entry(status.to_string())
                .or_insert_with(|| error(description));
        }
        let mut parameters = path_parameters(path);
        parameters.extend(self.query.iter().map(|(name, description)| {
            let required = *name == "deviceId";
            let schema = query_schema(name).unwrap_or_else(|| json!({"type": "string"}));
            let name = name.split('@').next().unwrap_or(name);
            let mut parameter = json!({"name": name, "in": "query", "required": required, "description": description, "schema": schema});
            // `?status=` is `status` left out (`ApiRequest::query_param`), as an HTML form
            // with "any" chosen sends it; `?limit=` must be a number.
            if !required && name != "limit" {
                parameter["allowEmptyValue"] = json!(true);
            }
            parameter
        }));
        parameters.extend(self.headers.iter().map(|(name, required, description, schema)| {
            json!({"name": name, "in": "header", "required": required, "description": description, "schema": schema})
        }));
        let mut op = json!({
            "operationId": format!("{}{}", method, path.replace(['/', '{', '}', '-'], "_")),
            "summary": self.summary,
            "tags": [self.tag],
            "responses": responses,
        });
        if !parameters.is_empty() {
            op["parameters"] = Value::Array(parameters);
        }
        if let Some(body) = self.body {
            op["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": body}}});
        }
        if self.cross_origin {
            let cors = json!({"Access-Control-Allow-Origin": {"description": "`*`: any web page may call this route.", "schema": {"type": "string", "const": "*"}}});
            for r in responses_of(&mut op) {
                r["headers"] = cors.clone();
            }
        }
        match self.auth {
            Auth::Token => {
                op["security"] = json!([{"bearer": []}, {"keyhookApi": []}, {"exisOneApi": []}])
            }
            Auth::Stripe => op["security"] = json!([{"stripeSignature": []}]),
            Auth::Public | Auth::Session | Auth::Portal => op["security"] = json!([]),
        }
        op
    }
}

/// `OPTIONS` on a cross-origin path: the CORS preflight.
/// The `{name}` segments of a path, as path parameters.
fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect()
}

fn preflight(path: &str) -> Value {
    let header =
        |description: &str| json!({"description": description, "schema": {"type": "string"}});
    json!({
        "operationId": format!("options{}", path.replace(['/', '{', '}', '-'], "_")),
        "summary": "CORS preflight: any origin may call this route from a browser (no credentials)",
        "tags": ["validation"],
        "security": [],
        "parameters": path_parameters(path),
        "responses": {"204": {
            "description": "The methods and headers a page may use",
            "headers": {
                "Allow": header("The methods of this path."),
                "Access-Control-Allow-Origin": {"description": "`*`", "schema": {"type": "string", "const": "*"}},
                "Access-Control-Allow-Methods": header("The methods of this path."),
                "Access-Control-Allow-Headers": header("The headers the browser asked for (default `content-type`)."),
                "Access-Control-Max-Age": header("Seconds the browser may cache this answer (86400)."),
            },
        }},
    })
}

/// The responses of an operation, to add headers to.
fn responses_of(op: &mut Value) -> impl Iterator<Item = &mut Value> {
    op["responses"]
        .as_object_mut()
        .into_iter()
        .flat_map(|m| m.values_mut())
}

/// The schema of a query parameter, by name: what the handlers accept (`None`: any text).
fn query_schema(name: &str) -> Option<Value> {
    use crate::http::input::{MAX_LIMIT, MIN_LIMIT};
    Some(match name {
        "limit" => {
            json!({"type": "integer", "minimum": MIN_LIMIT, "maximum": MAX_LIMIT, "default": 50})
        }
        "livemode" | "active" | "encrypt" => json!({"type": "boolean"}),
        "status@licenses" => {
            json!({"type": "string", "enum": ["active", "suspended", "revoked", "expired"]})
        }
        "status@events" => json!({"type": "string", "enum": ["received", "verified", "failed"]}),
        "status@deliveries" => {
            json!({"type": "string", "enum": ["pending", "succeeded", "failed"]})
        }
        "source" => json!({"type": "string", "enum": ["webhook", "reconcile"]}),
        "type@prices" => json!({"type": "string", "enum": ["recurring", "one_time"]}),
        "ttl" => json!({"type": "integer", "minimum": 0, "maximum": u64::MAX}),
        "deviceId" => {
            json!({"type": "string", "pattern": crate::http::schema::PRINTABLE_NON_BLANK, "maxLength": crate::domain::validation::device::MAX_DEVICE_ID_CHARS})
        }
        _ => return None,
    })
}

impl Operation {
    /// Extra query parameters: (name, description); `name@context` picks the schema of
    /// [`query_schema`].
    pub(crate) fn query(mut self, params: &[(&'static str, &'static str)]) -> Self {
        self.query.extend_from_slice(params);
        self
    }
}

/// `GET /health`.
#[derive(serde::Serialize, JsonSchema)]
pub struct Health {
    pub status: String,
}

/// The published document (`shared/openapi/openapi.json`), which `/openapi.json` serves.
pub const PUBLISHED: &str = include_str!("../../openapi/openapi.json");

/// [`PUBLISHED`], gzip-compressed at build time (`shared/build.rs`): what `GET /openapi.json`
/// sends to clients that accept gzip (442,033 bytes of JSON, 31,455 of gzip on 2026-12-08).
pub const PUBLISHED_GZIP: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/openapi.json.gz"));

/// The whole document, generated from the code (at build time: see the module doc). It
/// describes the API, for programs: the dashboard's routes, pages and form posts for people
/// (docs/dashboard.md), are left out ([`super::operations`]' `describe` answers `None`).
pub fn document() -> Value {
    generate().0
}

/// A request body as an operation of the document reads it.
pub struct RequestBody {
    /// The body type's `schemars` schema id (module path and name).
    pub type_id: String,
    /// The fields the handler requires (present and not null).
    pub required: Vec<String>,
    /// The standalone schema (with `$defs`) the server checks the body against.
    pub schema: Value,
}

/// The document, and every operation's request body (each type and required fields once),
/// collected while describing it.
pub fn generate() -> (Value, Vec<RequestBody>) {
    let mut g = Gen::new();
    let mut paths = Map::new();
    for route in ROUTES {
        let method = route.method.as_str().to_ascii_lowercase();
        let Some(mut op) = super::operations::describe(&mut g, route.op) else {
            continue;
        };
        if route.idempotent {
            op.headers.push((
                idempotency::HEADER,
                false,
                "Makes a retried create safe: the first answer (status and body) is returned again for 24 hours (with `Idempotent-Replayed: true`), per tenant and route; concurrent duplicates never create twice. Printable ASCII, 1–255 characters.",
                json!({"type": "string", "pattern": idempotency::KEY_PATTERN}),
            ));
        }
        op.cross_origin = route.cross_origin;
        let op = op.into_json(&mut g, route.path, &method);
        if route.cross_origin {
            paths
                .entry(route.path.to_string())
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("path item is an object")
                .insert("options".into(), preflight(route.path));
        }
        paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("path item is an object")
            .insert(method, op);
    }
    let mut requests = g.requests.take_definitions(true);
    for (name, required, component) in std::mem::take(&mut g.creates) {
        let mut create = requests[&name].clone();
        crate::http::schema::require(&mut create, required);
        requests.insert(component, create);
    }
    let mut schemas = g.responses.take_definitions(true);
    // A type both read and written (`ConnectSettings`) has two schemas: a field with a default
    // may be left out of a request but is always in an answer. The request's is published as
    // `<Type>Input`, and every reference from a request body follows it.
    let both: HashSet<String> = requests
        .iter()
        .filter(|(name, schema)| schemas.get(*name).is_some_and(|r| r != *schema))
        .map(|(name, _)| name.clone())
        .collect();
    for (name, mut schema) in requests {
        input_refs(&mut schema, &both);
        let name = if both.contains(&name) {
            format!("{name}Input")
        } else {
            name
        };
        schemas.insert(name, schema);
    }
    for op in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in op.values_mut() {
            if let Some(body) = op.get_mut("requestBody") {
                input_refs(body, &both);
            }
        }
    }
    let document = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Keyhook API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Stripe payments to delivered license keys. Errors: `{\"error\": {\"code\", \"message\", \"field\"}}`: `422 validation_failed` (with `field`) when a request breaks this document's schema (the server checks bodies against the very schemas published here), `404 not_found` when it names something that does not exist, `409 conflict` when it is well formed but the current state cannot serve it (with `field` when one field is at odds with that state: an inactive currency, a live key on a test app). Lists: `?limit=` (1–200, default 50) and `?cursor=`, answering `{items, nextCursor}`. Timestamps are RFC 3339 UTC; money is a decimal string. Every path answers `HEAD` where it answers `GET` (same status and headers, no body), `OPTIONS` with `Allow` (204), and any other method with `405` and `Allow`. The public validation routes answer CORS preflights and carry `Access-Control-Allow-Origin: *`; the admin routes are same-origin (no CORS headers). Creates accept `Idempotency-Key`.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer <token>`"},
                "keyhookApi": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "`Authorization: KeyhookApi <token>`"},
                "exisOneApi": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "`Authorization: ExisOneApi <token>` (as in ExisOne's examples; the same token)"},
                "stripeSignature": {"type": "apiKey", "in": "header", "name": "Stripe-Signature", "description": "Stripe's webhook signature (`t=…,v1=…`)."},
            },
        },
    });
    let bodies = g
        .bodies
        .into_iter()
        .map(|((type_id, required), schema)| RequestBody {
            type_id,
            required,
            schema,
        })
        .collect();
    (document, bodies)
}

/// Points references to the types of `names` at their request schemas (`<Type>Input`).
fn input_refs(value: &mut Value, names: &HashSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref") {
                if let Some(name) = r.strip_prefix("#/components/schemas/") {
                    if names.contains(name) {
                        *r = format!("{r}Input");
                    }
                }
            }
            map.values_mut().for_each(|v| input_refs(v, names));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| input_refs(v, names)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::routes::Op;

    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let doc = document();
        let mut documented: Vec<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(p, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    // CORS preflights are documented beside the routes they serve.
                    .filter(|m| *m != "options")
                    .map(move |m| (m.to_uppercase(), p.clone()))
            })
            .collect();
        let mut routed: Vec<(String, String)> = ROUTES
            .iter()
            .filter(|r| !matches!(r.op, Op::Dashboard(_)))
            .map(|r| (r.method.to_string(), r.path.to_string()))
            .collect();
        documented.sort();
        routed.sort();
        assert_eq!(documented, routed);
    }

    #[test]
    fn every_reference_resolves_and_every_operation_answers() {
        let doc = document();
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("{r}"));
            assert!(
                doc["components"]["schemas"].get(name).is_some(),
                "unresolved {r}"
            );
        }
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                assert!(
                    op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                    "{method} {path}"
                );
                assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()));
            }
        }
        assert_eq!(doc["openapi"], "3.1.0");
    }

    #[test]
    fn the_dashboards_and_portals_routes_are_not_in_the_document() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths
            .keys()
            .all(|p| !p.starts_with("/dashboard") && !p.starts_with("/portal/")));
        assert!(ROUTES
            .iter()
            .any(|r| matches!(r.op, Op::Dashboard(_)) && r.path.starts_with("/portal/")));
        assert!(ROUTES
            .iter()
            .any(|r| matches!(r.op, Op::Dashboard(_)) && r.path == "/dashboard/sign-in"));
        // Nothing left in the document is for a browser session or answers HTML.
        let text = doc.to_string();
        assert!(!text.contains("dashboardSession") && !text.contains("portalSession"));
        assert!(!text.contains("text/html"));
        assert!(!text.contains("x-www-form-urlencoded"));
        assert!(paths.contains_key("/docs") && paths.contains_key("/docs/assets/{asset}"));
    }

    #[test]
    fn request_schemas_refuse_unknown_fields_and_secrets_are_write_only() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(schemas["AppInput"]["additionalProperties"], false);
        let view = schemas["AppView"]["properties"].as_object().unwrap();
        assert!(!view.contains_key("secretKey") && !view.contains_key("webhookSigningSecret"));
        assert!(schemas["AppInput"]["properties"].get("secretKey").is_some());
    }

    #[test]
    fn a_type_read_and_written_is_published_twice_when_its_schemas_differ() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        // An answer always carries `enabled`; a request may leave it out (default false).
        let required = |name: &str| {
            schemas[name]["required"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        };
        assert!(required("ConnectSettings").contains(&json!("enabled")));
        assert!(!required("ConnectSettingsInput").contains(&json!("enabled")));
        let refs = |v: &Value| v.to_string();
        assert!(
            refs(&schemas["AppInput"]["properties"]["connect"]).contains("ConnectSettingsInput")
        );
        assert!(refs(&schemas["AppInputCreate"]["properties"]["connect"])
            .contains("ConnectSettingsInput"));
        assert!(!refs(&schemas["AppView"]["properties"]["connect"]).contains("Input"));
    }
}
