//! A keep-alive HTTP endpoint that answers DynamoDB's `GetItem` (JSON 1.0 protocol,
//! `x-amz-target: DynamoDB_20120810.GetItem`) from a fixed set of items: what the validate
//! benchmark points the real AWS SDK client at to measure the SDK's own cost per call without
//! the emulator's (moto answers slowly and closes connections, so its figures mix both).
//!
//! It runs on its own OS thread with its own Tokio runtime, so a benchmark that measures its
//! thread's CPU time does not count the responder's work. By default it checks nothing about the
//! signature (the SDK signs as it would for AWS; that cost is what is measured); given the
//! secret keys it expects ([`DynamoResponder::check_signatures`]) it checks each request's SigV4
//! `Authorization` by recomputing it (its own implementation of AWS's published algorithm, not
//! the SDK's) and answers `InvalidSignatureException` when it does not match, as DynamoDB does.
//! It can also answer the next requests with errors ([`DynamoResponder::fail_next`]), and
//! records the credentials each request was signed with.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::AttributeValue;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// Items by (pk, sk), in DynamoDB's wire JSON (`{"S": "..."}`, `{"N": "1"}`, ...).
type Items = HashMap<(String, String), Value>;

struct Shared {
    items: Items,
    served: AtomicU64,
    /// Secret keys by access key id: when set, every request's signature is checked.
    secrets: Mutex<Option<HashMap<String, String>>>,
    /// Error answers for the next requests: (status, `__type`).
    failures: Mutex<VecDeque<(u16, String)>>,
    seen: Mutex<Vec<Signed>>,
}

/// What a request was signed with, as the responder saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub access_key_id: String,
    pub session_token: Option<String>,
    pub region: String,
    pub service: String,
    /// Whether the signature matched (only known when checking signatures).
    pub signature_ok: Option<bool>,
}

/// A running responder.
pub struct DynamoResponder {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl DynamoResponder {
    /// Starts answering `GetItem` for `items` (as the SDK returns them, e.g. from a Scan).
    pub fn start(items: &[HashMap<String, AttributeValue>]) -> DynamoResponder {
        let items = items
            .iter()
            .map(|item| {
                let key = |k: &str| match item.get(k) {
                    Some(AttributeValue::S(s)) => s.clone(),
                    other => panic!("item key {k} is a string: {other:?}"),
                };
                ((key("pk"), key("sk")), item_to_wire(item))
            })
            .collect();
        let shared = Arc::new(Shared {
            items,
            served: AtomicU64::new(0),
            secrets: Mutex::new(None),
            failures: Mutex::new(VecDeque::new()),
            seen: Mutex::new(Vec::new()),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let state = shared.clone();
        std::thread::Builder::new()
            .name("dynamo-responder".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    let app = Router::new().fallback(answer).with_state(state);
                    let _ = axum::serve(listener, app).await;
                });
            })
            .unwrap();
        DynamoResponder { addr, shared }
    }

    /// The endpoint URL to give the SDK (`endpoint_url`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// GetItem requests answered with their item (or its absence) so far.
    pub fn served(&self) -> u64 {
        self.shared.served.load(Ordering::Relaxed)
    }

    /// From now on, checks every request's SigV4 signature against these secret keys (by
    /// access key id); a request signed otherwise gets `InvalidSignatureException` (400).
    pub fn check_signatures(&self, secrets: &[(&str, &str)]) {
        *self.shared.secrets.lock().unwrap() = Some(
            secrets
                .iter()
                .map(|(id, secret)| (id.to_string(), secret.to_string()))
                .collect(),
        );
    }

    /// Answers the next `count` requests with an error: `status` and `__type` (e.g.
    /// `com.amazonaws.dynamodb.v20120810#ThrottlingException`).
    pub fn fail_next(&self, count: usize, status: u16, kind: &str) {
        let mut failures = self.shared.failures.lock().unwrap();
        failures.extend(std::iter::repeat_n((status, kind.to_string()), count));
    }

    /// Error answers still queued.
    pub fn failures_left(&self) -> usize {
        self.shared.failures.lock().unwrap().len()
    }

    /// What every request so far was signed with, in order.
    pub fn seen(&self) -> Vec<Signed> {
        self.shared.seen.lock().unwrap().clone()
    }
}

/// Every item of a table (a Scan, all pages), to give [`DynamoResponder::start`].
pub async fn table_items(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Vec<HashMap<String, AttributeValue>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        items.extend(page.items.unwrap_or_default());
        start = page.last_evaluated_key;
        if start.is_none() {
            return items;
        }
    }
}

/// The parts of `AWS4-HMAC-SHA256 Credential=ID/DATE/REGION/SERVICE/aws4_request,
/// SignedHeaders=a;b, Signature=hex`.
struct Authorization<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Option<Authorization<'_>> {
    let rest = value.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let mut fields = HashMap::new();
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        fields.insert(k, v);
    }
    let mut scope = fields.get("Credential")?.split('/');
    let auth = Authorization {
        access_key_id: scope.next()?,
        date: scope.next()?,
        region: scope.next()?,
        service: scope.next()?,
        signed_headers: fields.get("SignedHeaders")?,
        signature: fields.get("Signature")?,
    };
    (scope.next()? == "aws4_request").then_some(auth)
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The SigV4 signature of a request (AWS's published algorithm; the path is `/` with no
/// query here), or `None` when a signed header is missing.
fn sigv4(
    auth: &Authorization<'_>,
    secret: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<String> {
    let mut canonical_headers = String::new();
    for name in auth.signed_headers.split(';') {
        let values = headers
            .get_all(name)
            .iter()
            .map(|v| {
                v.to_str()
                    .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
            })
            .collect::<Result<Vec<_>, _>>()
            .ok()?;
        if values.is_empty() {
            return None;
        }
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let canonical_request = format!(
        "{method}\n{}\n{}\n{canonical_headers}\n{}\n{}",
        uri.path(),
        uri.query().unwrap_or_default(),
        auth.signed_headers,
        hex::encode(Sha256::digest(body)),
    );
    let amz_date = headers.get("x-amz-date")?.to_str().ok()?;
    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let key = hmac(format!("AWS4{secret}").as_bytes(), auth.date);
    let key = hmac(&key, auth.region);
    let key = hmac(&key, auth.service);
    let key = hmac(&key, "aws4_request");
    Some(hex::encode(hmac(&key, &string_to_sign)))
}

/// Records what the request was signed with; when checking signatures, whether it is
/// correctly signed with a known key (and `x-amz-date` is the credential scope's day).
fn check_signature(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> bool {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(auth) = parse_authorization(authorization) else {
        return shared.secrets.lock().unwrap().is_none();
    };
    let signature_ok = shared.secrets.lock().unwrap().as_ref().map(|secrets| {
        let dated = headers
            .get("x-amz-date")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|d| d.starts_with(auth.date));
        let signed_token = headers.get("x-amz-security-token").is_none()
            || auth
                .signed_headers
                .split(';')
                .any(|h| h == "x-amz-security-token");
        dated
            && signed_token
            && secrets.get(auth.access_key_id).is_some_and(|secret| {
                sigv4(&auth, secret, method, uri, headers, body).as_deref() == Some(auth.signature)
            })
    });
    shared.seen.lock().unwrap().push(Signed {
        access_key_id: auth.access_key_id.to_string(),
        session_token: headers
            .get("x-amz-security-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        region: auth.region.to_string(),
        service: auth.service.to_string(),
        signature_ok,
    });
    signature_ok != Some(false)
}

async fn answer(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !check_signature(&shared, &method, &uri, &headers, &body) {
        return aws_error(
            "com.amazon.coral.service#InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
        );
    }
    let failure = shared.failures.lock().unwrap().pop_front();
    if let Some((status, kind)) = failure {
        return (
            StatusCode::from_u16(status).unwrap(),
            [("content-type", "application/x-amz-json-1.0")],
            json!({"__type": kind, "message": "answered by the test responder"}).to_string(),
        )
            .into_response();
    }
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if target != "DynamoDB_20120810.GetItem" {
        return aws_error(
            "com.amazon.coral.service#UnknownOperationException",
            &format!("this responder answers GetItem only, not {target:?}"),
        );
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return aws_error(
            "com.amazon.coral.service#SerializationException",
            "body is not JSON",
        );
    };
    let key = |k: &str| {
        request["Key"][k]["S"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    shared.served.fetch_add(1, Ordering::Relaxed);
    let out = match shared.items.get(&(key("pk"), key("sk"))) {
        Some(item) => json!({ "Item": item }),
        None => json!({}),
    };
    (
        StatusCode::OK,
        [
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amzn-requestid", "responder"),
        ],
        out.to_string(),
    )
        .into_response()
}

fn aws_error(kind: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [("content-type", "application/x-amz-json-1.0")],
        json!({"__type": kind, "message": message}).to_string(),
    )
        .into_response()
}

/// An item in DynamoDB's wire JSON.
pub fn item_to_wire(item: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), value_to_wire(v)))
            .collect::<Map<_, _>>(),
    )
}

fn value_to_wire(v: &AttributeValue) -> Value {
    let b64 =
        |b: &aws_smithy_types::Blob| base64::engine::general_purpose::STANDARD.encode(b.as_ref());
    match v {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(n) => json!({ "NULL": n }),
        AttributeValue::B(b) => json!({ "B": b64(b) }),
        AttributeValue::Ss(s) => json!({ "SS": s }),
        AttributeValue::Ns(n) => json!({ "NS": n }),
        AttributeValue::Bs(bs) => json!({ "BS": bs.iter().map(b64).collect::<Vec<_>>() }),
        AttributeValue::L(l) => json!({ "L": l.iter().map(value_to_wire).collect::<Vec<_>>() }),
        AttributeValue::M(m) => json!({ "M": item_to_wire(m) }),
        other => panic!("unexpected attribute value {other:?}"),
    }
}
