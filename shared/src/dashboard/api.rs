//! The admin API, called in-process: a page's reads and writes are requests to the very route
//! table and handlers the API serves, made as the signed-in member's tenant
//! ([`crate::http::auth::as_caller`]). What a page shows is what the API answers; what a page
//! changes goes through the API's validation and rules.

use http::{HeaderMap, HeaderValue, Method};
use serde_json::Value;

use super::session::Signed;
use crate::app::dispatch_for_dashboard;
use crate::http::auth::{as_caller, Caller};
use crate::http::ApiRequest;
use crate::{Error, Result, Services};

/// An in-process client of the API for one dashboard request.
pub struct Api<'a> {
    s: &'a Services,
    caller: Caller,
    source_ip: Option<std::net::IpAddr>,
    request_id: String,
}

impl<'a> Api<'a> {
    pub fn new(s: &'a Services, me: &Signed, req: &ApiRequest) -> Self {
        Api {
            s,
            caller: me.caller(),
            source_ip: req.source_ip,
            request_id: req.request_id.clone(),
        }
    }

    pub async fn get(&self, path: &str) -> Result<Value> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Result<Value> {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Result<Value> {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Result<Value> {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<Value> {
        self.call(Method::DELETE, path, None).await
    }

    /// One request through the dispatcher; the answer's JSON, or its error as an [`Error`]
    /// (with the field the API named).
    pub async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let (path, query) = path_and_query
            .split_once('?')
            .map_or((path_and_query, None), |(p, q)| (p, Some(q)));
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        let req = ApiRequest {
            method,
            path: path.to_string(),
            query: ApiRequest::parse_query(query),
            headers,
            body: body
                .map(|b| serde_json::to_vec(&b).expect("JSON serialises").into())
                .unwrap_or_default(),
            source_ip: self.source_ip,
            request_id: self.request_id.clone(),
        };
        // Boxed: the dispatcher's future holds every handler's it can reach (the admin API's
        // among them), too large for the stack when nested in a page's.
        let res = as_caller(
            self.caller.clone(),
            Box::pin(dispatch_for_dashboard(self.s, req)),
        )
        .await;
        let json: Value = if res.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&res.body).unwrap_or(Value::Null)
        };
        if res.status.is_success() {
            return Ok(json);
        }
        Err(error_from(res.status.as_u16(), &json["error"]))
    }
}

/// The contract's error body back into an [`Error`].
pub fn error_from(status: u16, e: &Value) -> Error {
    let message = e["message"].as_str().unwrap_or_default().to_string();
    match e["code"].as_str().unwrap_or_default() {
        "validation_failed" => Error::Validation {
            field: e["field"].as_str().map(str::to_string),
            message,
        },
        "not_found" => Error::NotFound(message),
        "conflict" => match e["field"].as_str() {
            Some(field) => Error::conflict_at(field, message),
            None => Error::Conflict(message),
        },
        "forbidden" => Error::Forbidden(message),
        "unauthorized" => Error::Unauthorized(message),
        "rate_limited" => Error::RateLimited(message),
        "upstream_unavailable" => Error::Upstream {
            service: "keyhook",
            detail: format!("in-process call answered {status}"),
        },
        code if status < 500 => Error::BadRequest {
            code: "bad_request",
            message: if message.is_empty() {
                code.to_string()
            } else {
                message
            },
        },
        _ => Error::internal(format!("in-process call answered {status}")),
    }
}

/// The items of a list answer.
pub fn items(list: &Value) -> Vec<Value> {
    list["items"].as_array().cloned().unwrap_or_default()
}

/// Percent-encodes a path segment or query value.
pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
