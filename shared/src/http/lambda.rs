//! The Lambda side of HTTP: API Gateway (HTTP API, payload v2) events in, responses out.

use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};

use crate::http::routes::{serve_function, FunctionRoutes};
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

pub fn to_lambda_response(res: ApiResponse) -> lambda_http::Response<Body> {
    let mut builder = lambda_http::Response::builder()
        .status(res.status)
        .header("content-type", res.content_type);
    if let Some(headers) = builder.headers_mut() {
        headers.extend(res.headers);
    }
    builder
        .body(if res.body.is_empty() {
            Body::Empty
        } else {
            Body::Text(String::from_utf8_lossy(&res.body).into_owned())
        })
        .expect("valid response")
}

/// Runs an HTTP Lambda: builds the services once, then serves `routes` (the function's own
/// rows and handlers, so its binary links no other function's code).
pub async fn run(routes: FunctionRoutes) -> Result<(), lambda_http::Error> {
    crate::logging::init_json();
    let services = Services::from_env().await?;
    let services = &services;
    lambda_http::run(lambda_http::service_fn(
        move |req: lambda_http::Request| async move {
            let res = serve_function(services, routes, to_api_request(req)).await;
            Ok::<_, std::convert::Infallible>(to_lambda_response(res))
        },
    ))
    .await
}
