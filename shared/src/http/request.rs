//! The request every handler receives, whatever served it.

use bytes::Bytes;
use http::{HeaderMap, Method};
use std::net::IpAddr;

#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: Method,
    /// The raw path, e.g. `/api/products/42`.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    /// The body exactly as the client sent it (API Gateway's base64 already undone).
    pub body: Bytes,
    /// The client's IP as API Gateway saw it (never from a client-supplied header).
    pub source_ip: Option<IpAddr>,
    /// API Gateway's request id (or a local one), for logs.
    pub request_id: String,
}

impl ApiRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The first value of a query parameter, if present and non-empty.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Parses a raw query string (`a=1&b=2`).
    pub fn parse_query(raw: Option<&str>) -> Vec<(String, String)> {
        raw.map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
    }
}

/// Path parameters captured by a route (`{name}` segments of its path, percent-decoded).
#[derive(Debug, Default)]
pub struct Params(pub(crate) Vec<(&'static str, String)>);

impl Params {
    /// A captured parameter; routes guarantee their own parameters exist.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }
}
