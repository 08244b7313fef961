//! The dashboard's stylesheet and script (and the customer portal's stylesheet, which uses
//! the same script), embedded and served by Keyhook itself (no CDN, no
//! fetch from elsewhere). Their URLs carry a hash of their content, so browsers may cache them
//! for good and still get a new version at once.

use std::sync::LazyLock;

use http::{header, HeaderValue, StatusCode};
use sha2::{Digest, Sha256};

use crate::http::ApiResponse;
use crate::{Error, Result};

const FILES: &[(&str, &str, &str)] = &[
    (
        "dashboard.css",
        "text/css; charset=utf-8",
        include_str!("assets/dashboard.css"),
    ),
    (
        "portal.css",
        "text/css; charset=utf-8",
        include_str!("assets/portal.css"),
    ),
    (
        "dashboard.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/dashboard.js"),
    ),
];

static VERSIONS: LazyLock<Vec<String>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(_, _, body)| hex::encode(&Sha256::digest(body.as_bytes())[..6]))
        .collect()
});

/// The URL of an asset, with its content hash.
pub fn url(name: &str) -> String {
    let i = FILES
        .iter()
        .position(|(n, _, _)| *n == name)
        .expect("known asset");
    format!("/dashboard/assets/{name}?v={}", VERSIONS[i])
}

/// `GET /dashboard/assets/{asset}`.
pub fn serve(name: &str) -> Result<ApiResponse> {
    let (_, content_type, body) = FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| Error::not_found(format!("Asset {name}")))?;
    Ok(cached(ApiResponse::text(
        StatusCode::OK,
        content_type,
        *body,
    )))
}

/// The headers of a file whose URL changes with its content (a hash or a version in it):
/// cached for a year, never sniffed. The API reference's renderer is served the same way.
pub fn cached(res: ApiResponse) -> ApiResponse {
    res.with_header(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    )
    .with_header(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    )
}
