//! One error type for the whole crate and its mapping to the contract's error body
//! (`{ "error": { "code", "message", "field" } }`) and status code.
//!
//! Messages of client errors are written for the merchant; infrastructure errors keep their
//! detail for the logs only and answer a generic sentence, so nothing internal (or secret)
//! leaks into a response.

use http::StatusCode;
use serde::Serialize;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 422: a field of the request is invalid.
    #[error("{message}")]
    Validation {
        field: Option<String>,
        message: String,
    },
    /// 400 with a specific machine-readable code (e.g. `no_app_matched_signature`).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// 401: no, malformed, unknown or revoked credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 403 with a specific machine-readable code (`not_from_stripe`).
    #[error("{message}")]
    ForbiddenCode { code: &'static str, message: String },
    /// 404: the resource does not exist for this caller (other tenants' resources included).
    #[error("{0}")]
    NotFound(String),
    /// 409: the request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// 409 about one field: well formed (the API document's schema accepts it), but the
    /// tenant's state cannot take it (an inactive currency, a live key on a test app). The
    /// field is named, so forms show the error next to it.
    #[error("{message}")]
    ConflictAt { field: String, message: String },
    /// 409 with a specific machine-readable code (`idempotency_key_in_use`, ...).
    #[error("{message}")]
    ConflictCode { code: &'static str, message: String },
    /// 405: the path exists, with other methods (`allow`, for the `Allow` header).
    #[error("{method} is not allowed on {path}; it answers {allow}")]
    MethodNotAllowed {
        method: String,
        path: String,
        allow: String,
    },
    /// 413: the body is larger than the route accepts.
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 429.
    #[error("{0}")]
    RateLimited(String),
    /// 502/503: a service we depend on (AWS, Stripe) failed; the caller should retry.
    /// The detail is logged, never returned.
    #[error("{service} unavailable: {detail}")]
    Upstream {
        service: &'static str,
        detail: String,
    },
    /// 500: a bug or corrupted state. The detail is logged, never returned.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Validation {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    pub fn conflict_at(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::ConflictAt {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Error::NotFound(what.into())
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Error::Internal(detail.into())
    }

    /// Wraps an AWS SDK error: always retryable from the caller's point of view.
    pub fn aws(service: &'static str, err: impl std::fmt::Display) -> Self {
        Error::Upstream {
            service,
            detail: err.to_string(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) | Error::ForbiddenCode { .. } => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) | Error::ConflictAt { .. } | Error::ConflictCode { .. } => {
                StatusCode::CONFLICT
            }
            Error::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Error::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Error::Upstream { service, .. } if *service == "stripe" => StatusCode::BAD_GATEWAY,
            Error::Upstream { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code of the contract.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Validation { .. } => "validation_failed",
            Error::BadRequest { code, .. } => code,
            Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::ForbiddenCode { code, .. } => code,
            Error::NotFound(_) => "not_found",
            Error::Conflict(_) | Error::ConflictAt { .. } => "conflict",
            Error::ConflictCode { code, .. } => code,
            Error::MethodNotAllowed { .. } => "method_not_allowed",
            Error::PayloadTooLarge { .. } => "payload_too_large",
            Error::RateLimited(_) => "rate_limited",
            Error::Upstream { .. } => "upstream_unavailable",
            Error::Internal(_) => "internal",
        }
    }

    /// True for failures of our infrastructure, where Stripe must retry (5xx).
    pub fn is_retryable(&self) -> bool {
        self.status().is_server_error()
    }

    /// The body of the contract. Server errors get a generic message.
    pub fn body(&self) -> ErrorBody {
        let message = match self {
            Error::Upstream { service, .. } if *service == "stripe" => {
                "Stripe could not be reached (or failed to answer); retry later.".to_string()
            }
            Error::Upstream { service, .. } => {
                format!("A service Keyhook depends on ({service}) is unavailable; retry later.")
            }
            Error::Internal(_) => "An internal error occurred.".to_string(),
            Error::NotFound(what) => format!("{what} not found."),
            other => other.to_string(),
        };
        let field = match self {
            Error::Validation { field, .. } => field.clone(),
            Error::ConflictAt { field, .. } => Some(field.clone()),
            _ => None,
        };
        ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message,
                field,
            },
        }
    }
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ErrorDetail {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_hide_their_detail() {
        let e = Error::aws("kms", "AccessDenied for key arn:aws:kms:secret-detail");
        let body = serde_json::to_string(&e.body()).unwrap();
        assert!(!body.contains("secret-detail"));
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.code(), "upstream_unavailable");
        let e = Error::internal("db row corrupt: xyz");
        assert!(!serde_json::to_string(&e.body()).unwrap().contains("xyz"));
    }

    #[test]
    fn validation_carries_field() {
        let e = Error::validation("price", "must be a decimal");
        let v = serde_json::to_value(e.body()).unwrap();
        assert_eq!(v["error"]["code"], "validation_failed");
        assert_eq!(v["error"]["field"], "price");
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
}
