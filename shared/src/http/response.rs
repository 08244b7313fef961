//! The response every handler returns.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};
use serde::Serialize;

use crate::Error;

#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Bytes,
    /// Headers besides `content-type` (the dashboard's cookies, redirects and security
    /// headers); empty for the JSON API.
    pub headers: HeaderMap,
}

impl ApiResponse {
    pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Self {
        let body = serde_json::to_vec(value).expect("response types serialise");
        ApiResponse {
            status,
            content_type: "application/json",
            body: body.into(),
            headers: HeaderMap::new(),
        }
    }

    pub fn ok<T: Serialize>(value: &T) -> Self {
        Self::json(StatusCode::OK, value)
    }

    pub fn created<T: Serialize>(value: &T) -> Self {
        Self::json(StatusCode::CREATED, value)
    }

    pub fn no_content() -> Self {
        ApiResponse {
            status: StatusCode::NO_CONTENT,
            content_type: "application/json",
            body: Bytes::new(),
            headers: HeaderMap::new(),
        }
    }

    /// A status with no body (`204` answers to `OPTIONS`).
    pub fn empty(status: StatusCode) -> Self {
        ApiResponse {
            status,
            content_type: "application/json",
            body: Bytes::new(),
            headers: HeaderMap::new(),
        }
    }

    pub fn text(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Self {
        ApiResponse {
            status,
            content_type,
            body: body.into(),
            headers: HeaderMap::new(),
        }
    }

    /// Adds a header (appended, so several `set-cookie` headers can be set).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// The contract's error body. Server errors are logged with their detail here, the one
    /// place every failure passes through.
    pub fn error(err: &Error) -> Self {
        if err.is_retryable() {
            tracing::error!(code = err.code(), error = %err, "request failed");
        } else {
            tracing::info!(code = err.code(), error = %err, "request refused");
        }
        Self::json(err.status(), &err.body())
    }
}
