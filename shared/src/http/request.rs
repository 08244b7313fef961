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

    /// Whether the client takes a gzip-compressed body (its `Accept-Encoding`).
    pub fn accepts_gzip(&self) -> bool {
        accepts_gzip(self.header("accept-encoding").unwrap_or(""))
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

/// Whether an `Accept-Encoding` header takes gzip (`gzip` or `*`, not with `q=0`).
fn accepts_gzip(accept: &str) -> bool {
    accept.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or("");
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_accepted_unless_refused() {
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("br;q=1.0, GZIP;q=0.5"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip(""));
        assert!(!accepts_gzip("br, deflate"));
        assert!(!accepts_gzip("gzip;q=0"));
    }
}
