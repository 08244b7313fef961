//! A keep-alive HTTP endpoint that answers DynamoDB's `GetItem` (JSON 1.0 protocol,
//! `x-amz-target: DynamoDB_20120810.GetItem`) from a fixed set of items: what the validate
//! benchmark points the real AWS SDK client at to measure the SDK's own cost per call without
//! the emulator's (moto answers slowly and closes connections, so its figures mix both).
//!
//! It runs on its own OS thread with its own Tokio runtime, so a benchmark that measures its
//! thread's CPU time does not count the responder's work. It checks nothing about the
//! signature (the SDK signs as it would for AWS; that cost is what is measured).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine;
use serde_json::{json, Map, Value};

/// Items by (pk, sk), in DynamoDB's wire JSON (`{"S": "..."}`, `{"N": "1"}`, ...).
type Items = HashMap<(String, String), Value>;

struct Shared {
    items: Items,
    served: AtomicU64,
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

    /// GetItem requests answered so far.
    pub fn served(&self) -> u64 {
        self.shared.served.load(Ordering::Relaxed)
    }
}

async fn answer(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
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
