//! The API reference, `GET /docs`: the published document ([`super::openapi::PUBLISHED`])
//! rendered in the browser by RapiDoc, a renderer vendored under `shared/vendor/rapidoc/`
//! (version and licence there; `scripts/vendor-rapidoc.sh` fetches it) and served by Keyhook
//! itself at a URL naming its version, so browsers keep it for a year. Nothing is loaded from
//! elsewhere, and the page has no script of its own: RapiDoc reads its settings from the
//! `<rapi-doc>` element's attributes.
//!
//! The bundle is embedded as the npm package's own gzip (217,516 bytes, 863,099 raw) and sent
//! as is (`Content-Encoding: gzip`): a function's zip grows by the gzip's size either way, its
//! binary by a quarter of the raw size, and every browser asks for gzip. Only the docs
//! function's handlers (`operations.rs`, `function Docs`) call this module, so only the
//! `keyhook-docs` binary links the bundle: in the admin function it took that function's zip
//! over 4 MB (tests/lambda_runtime.rs checks which binaries carry it).

use http::{header, HeaderValue, StatusCode};

use crate::dashboard::{assets, web};
use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result};

/// RapiDoc's version: the one `scripts/vendor-rapidoc.sh` fetches.
pub const RENDERER_VERSION: &str = "9.3.8";

/// The renderer's file name under `/docs/assets/` (its version in it, so the URL changes with it).
pub const RENDERER: &str = "rapidoc-9.3.8.js";

/// The renderer, gzip-compressed.
const RENDERER_GZIP: &[u8] = include_bytes!("../../vendor/rapidoc/rapidoc-min.js.gz");

/// The page: the `<rapi-doc>` element pointed at `/openapi.json`, and the renderer's script.
const PAGE: &str = include_str!("docs_page.html");

/// The dashboard's policy with one difference: inline styles. RapiDoc's templates (lit) carry
/// `style` attributes, and Redoc and Scalar inject `<style>` elements just the same; styles run
/// no script, the page shows nothing but Keyhook's own document, and scripts stay `'self'`
/// (no inline script, no eval), so the page keeps what the dashboard's policy protects.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// `GET /docs`.
pub fn page() -> ApiResponse {
    web::secure(
        ApiResponse::text(StatusCode::OK, "text/html; charset=utf-8", PAGE),
        CSP,
    )
    .with_header(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"))
}

/// `GET /docs/assets/{asset}`: the renderer, gzip-compressed, cached for good (the name
/// carries the version). A client that does not accept gzip is told so (400 `gzip_required`):
/// every browser accepts it, and keeping a raw copy would grow the function by 0.8 MB.
pub fn serve(req: &ApiRequest, name: &str) -> Result<ApiResponse> {
    if name != RENDERER {
        return Err(Error::not_found(format!("Asset {name}")));
    }
    if !req.accepts_gzip() {
        return Err(Error::BadRequest {
            code: "gzip_required",
            message: "This file is served gzip-compressed only: send `Accept-Encoding: gzip`."
                .into(),
        });
    }
    let res = ApiResponse::text(
        StatusCode::OK,
        "text/javascript; charset=utf-8",
        RENDERER_GZIP,
    );
    Ok(assets::cached(res)
        .with_header(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"))
        .with_header(header::VARY, HeaderValue::from_static("Accept-Encoding")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_the_served_renderer_and_the_vendor_script_fetches_that_version() {
        assert!(PAGE.contains(&format!("src=\"/docs/assets/{RENDERER}\"")));
        assert!(!PAGE.contains("<script>"), "the page has no inline script");
        assert_eq!(RENDERER, format!("rapidoc-{RENDERER_VERSION}.js"));
        let script = include_str!("../../../scripts/vendor-rapidoc.sh");
        assert!(script.contains(&format!("RAPIDOC_VERSION={RENDERER_VERSION}\n")));
        // gzip's magic number: the file is the package's gzip, not the raw bundle.
        assert_eq!(&RENDERER_GZIP[..2], &[0x1f, 0x8b]);
    }
}
