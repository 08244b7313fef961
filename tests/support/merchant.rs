//! A merchant's webhook endpoint: a small HTTP server on loopback that records every request
//! (headers and exact body) and answers from a script (e.g. 500 three times, then 200).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Router;

/// One request the endpoint received.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    /// What the endpoint answered.
    pub status: u16,
    /// When it arrived (Unix seconds, by the stack's clock, which tests move forward).
    pub received_at: i64,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct Inner {
    /// Statuses to answer, in order; then `then`.
    script: VecDeque<u16>,
    then: u16,
    received: Vec<Received>,
    clock: keyhook_shared::clock::Clock,
}

#[derive(Clone)]
pub struct MerchantEndpoint {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut i = inner.lock().unwrap();
    let status = i.script.pop_front().unwrap_or(i.then);
    let received_at = i.clock.now().unix_timestamp();
    i.received.push(Received {
        headers,
        body,
        status,
        received_at,
    });
    StatusCode::from_u16(status).unwrap()
}

impl MerchantEndpoint {
    /// Answers `script` in order, then `then` for ever; times arrivals by `clock`.
    pub async fn start(
        clock: &keyhook_shared::clock::Clock,
        script: &[u16],
        then: u16,
    ) -> MerchantEndpoint {
        let inner = Arc::new(Mutex::new(Inner {
            script: script.iter().copied().collect(),
            then,
            received: Vec::new(),
            clock: clock.clone(),
        }));
        let app = Router::new()
            .fallback(axum::routing::post(handle))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        MerchantEndpoint {
            url: format!("http://{addr}/keyhook/webhooks"),
            inner,
        }
    }

    /// Answers `status` from now on (what is left of the script is dropped).
    pub fn answer_from_now(&self, status: u16) {
        let mut i = self.inner.lock().unwrap();
        i.script.clear();
        i.then = status;
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }
}

/// A URL nothing listens on (connections are refused at once).
pub fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/hook")
}
