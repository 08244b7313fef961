//! The local server: every route of the route table on one port, at its production path,
//! through the very same dispatcher the Lambdas use. Only the conversion of the request is
//! local (the client's address stands in for API Gateway's `sourceIp`).

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use axum::Router;
use keyhook_shared::app::dispatch;
use keyhook_shared::http::ApiRequest;
use keyhook_shared::Services;
use tokio::net::TcpListener;

/// Bodies above this are not even read (the dispatcher's own limit is far lower, and answers
/// 413 with the contract's body for anything between).
const READ_LIMIT: usize = 1024 * 1024;

async fn handle(
    State(services): State<Services>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, READ_LIMIT).await {
        Ok(b) => b,
        Err(_) => {
            let err = keyhook_shared::Error::PayloadTooLarge {
                limit: keyhook_shared::app::routes::MAX_BODY_BYTES,
            };
            return to_response(keyhook_shared::http::ApiResponse::error(&err));
        }
    };
    let request = ApiRequest {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: ApiRequest::parse_query(parts.uri.query()),
        headers: parts.headers,
        body,
        source_ip: Some(peer.ip()),
        request_id: keyhook_shared::ids::new_id("req"),
    };
    to_response(dispatch(&services, None, request).await)
}

fn to_response(res: keyhook_shared::http::ApiResponse) -> Response {
    let mut builder = Response::builder()
        .status(res.status)
        .header("content-type", res.content_type);
    if let Some(headers) = builder.headers_mut() {
        headers.extend(res.headers);
    }
    builder.body(Body::from(res.body)).expect("valid response")
}

/// The router serving every route.
pub fn router(services: Services) -> Router {
    Router::new().fallback(handle).with_state(services)
}

/// Binds `addr` (port 0 for any free port) and serves in the background; returns the
/// address actually bound.
pub async fn spawn(services: Services, addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = router(services).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "local server stopped");
        }
    });
    Ok(bound)
}
