//! The Lambda side of HTTP: API Gateway (HTTP API, payload v2) events in, responses out.

use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};

use crate::app::routes::{serve_function, FunctionRoutes};
use crate::http::{ApiRequest, ApiResponse};
use crate::Services;

/// Converts API Gateway's request. The body arrives decoded (lambda_http undoes base64), so
/// signatures are checked over exactly the bytes the client sent.
pub fn to_api_request(req: lambda_http::Request) -> ApiRequest {
    let (source_ip, request_id) = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => (
            ctx.http.source_ip.as_deref().and_then(|ip| ip.parse().ok()),
            ctx.request_id.clone(),
        ),
        _ => (None, None),
    };
    let request_id = request_id
        .or_else(|| req.lambda_context_ref().map(|c| c.request_id.clone()))
        .unwrap_or_default();
    let query = req
        .query_string_parameters_ref()
        .map(|q| {
            q.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default();
    let path = req.raw_http_path().to_string();
    let (parts, body) = req.into_parts();
    let body = match body {
        Body::Empty => bytes::Bytes::new(),
        Body::Text(t) => bytes::Bytes::from(t),
        Body::Binary(b) => bytes::Bytes::from(b),
        _ => bytes::Bytes::new(),
    };
    ApiRequest {
        method: parts.method,
        path,
        query,
        headers: parts.headers,
        body,
        source_ip,
        request_id,
    }
}

/// Converts a response for API Gateway (payload v2) and Function URLs: a UTF-8 body of a
/// textual content type goes as text, anything else as binary (base64 on the wire), byte for
/// byte.
pub fn to_lambda_response(res: ApiResponse) -> lambda_http::Response<Body> {
    // `Vec::from` takes the bytes over without a copy when the response holds the only
    // reference to them (as handlers' bodies do).
    let body = if res.body.is_empty() {
        Body::Empty
    } else if is_textual(res.content_type) {
        match String::from_utf8(Vec::from(res.body)) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    } else {
        Body::Binary(Vec::from(res.body))
    };
    let mut builder = lambda_http::Response::builder()
        .status(res.status)
        .header("content-type", res.content_type);
    if let Some(headers) = builder.headers_mut() {
        headers.extend(res.headers);
    }
    builder.body(body).expect("valid response")
}

/// Content types sent as text: `text/*` and JSON (all Keyhook's answers but replayed
/// non-JSON idempotent ones).
fn is_textual(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.starts_with("text/") || essence == "application/json" || essence.ends_with("+json")
}

/// A response already in its final form. lambda_http's own `IntoResponse` for a
/// `Response<Body>` would decode a text body again by its `charset` (with `encoding_rs`, every
/// encoding linked into each function); [`to_lambda_response`] has decided text or binary.
pub struct Converted(pub lambda_http::Response<Body>);

impl lambda_http::IntoResponse for Converted {
    fn into_response(
        self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = lambda_http::Response<Body>> + Send>>
    {
        Box::pin(std::future::ready(self.0))
    }
}

/// Runs an HTTP Lambda: builds the services once, then serves `routes` (the function's own
/// rows and handlers, so its binary links no other function's code).
pub async fn run(routes: FunctionRoutes) -> Result<(), lambda_http::Error> {
    crate::logging::init_json();
    let services = Services::from_env()?;
    let services = &services;
    lambda_http::run(lambda_http::service_fn(
        move |req: lambda_http::Request| async move {
            let res = serve_function(services, routes, to_api_request(req)).await;
            Ok::<_, std::convert::Infallible>(Converted(to_lambda_response(res)))
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http::StatusCode;

    use super::*;

    fn body_of(content_type: &'static str, body: &[u8]) -> Body {
        to_lambda_response(ApiResponse::text(
            StatusCode::OK,
            content_type,
            Bytes::copy_from_slice(body),
        ))
        .into_body()
    }

    #[test]
    fn text_goes_as_text_and_anything_else_byte_for_byte_as_binary() {
        assert_eq!(
            body_of("application/json", "{\"é\":1}".as_bytes()),
            Body::Text("{\"é\":1}".into())
        );
        assert_eq!(
            body_of("text/html; charset=utf-8", b"<p>hi</p>"),
            Body::Text("<p>hi</p>".into())
        );
        let bytes = [0xff, 0xfe, 0x00, b'a'];
        assert_eq!(
            body_of("application/octet-stream", &bytes),
            Body::Binary(bytes.to_vec())
        );
        // A textual type whose bytes are not UTF-8 is not mangled into U+FFFD either.
        assert_eq!(
            body_of("application/json", &bytes),
            Body::Binary(bytes.to_vec())
        );
        assert_eq!(body_of("application/json", b""), Body::Empty);
    }
}
