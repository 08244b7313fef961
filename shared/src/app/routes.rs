//! Matching requests against the route table and serving them. The table itself, with every
//! operation's handler and description, is declared once in [`super::operations`]; here is
//! what is the same for every route: path templates and their parameters, `HEAD`, `OPTIONS`
//! and CORS, 405 with `Allow`, body limits, the per-function dispatch, and the routes API
//! Gateway must declare.

use std::time::Instant;

use futures::future::BoxFuture;
use http::{HeaderValue, Method, StatusCode};
use tracing::Instrument;

use super::operations::{
    admin_handlers, checkout_handlers, docs_handlers, pages_handlers, validate_handlers,
    webhook_handlers,
};
pub use super::operations::{Op, Page, ROUTES};
use crate::app::idempotency;
use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result, Services};

/// Largest body any route accepts (an app's own Stripe webhook URL included): 256 KiB.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Largest body the shared Stripe webhook URLs accept: 64 KiB, sized to Stripe's events
/// (a Checkout Session's or an invoice's event is 3–10 KB; one of a subscription with many
/// items, with its previous attributes, some tens of KB). Matching there costs one HMAC of
/// the body per candidate app, so the cap bounds that work; a larger event still arrives on
/// the app's own URL, and reconciliation fetches any event a URL refused from Stripe's API.
pub const SHARED_WEBHOOK_MAX_BODY_BYTES: usize = 64 * 1024;

/// The Lambda function that serves a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Webhook,
    Checkout,
    Validate,
    Admin,
    /// The API reference (`/docs`) and its renderer: the admin function would carry the
    /// renderer's 217 KB over its 4 MB budget.
    Docs,
    /// The merchant dashboard and the customer portal (pages, their assets and form posts):
    /// in the admin function their templates and code took its zip over its 4 MiB budget.
    Pages,
}

impl Function {
    pub fn name(self) -> &'static str {
        match self {
            Function::Webhook => "webhook",
            Function::Checkout => "checkout",
            Function::Validate => "validate",
            Function::Admin => "admin",
            Function::Docs => "docs",
            Function::Pages => "pages",
        }
    }
}

/// How API Gateway reaches a route's function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gateway {
    /// The route is declared in the template, with `ANY` on its path (`HEAD`, `OPTIONS` and
    /// 405 answered by its own function, under the path's throttle).
    OwnRoute,
    /// Through `$default`, the admin function's catch-all: nothing in the template.
    Default,
    /// Through a greedy route on the path's first segment, `ANY /dashboard/{proxy+}` (and
    /// `ANY /dashboard` for a row of that very path): the pages' many rows in a few routes.
    /// Every row under such a segment must be its function's (a unit test checks).
    Prefix,
}

impl Route {
    /// The API Gateway route key reaching a [`Gateway::Prefix`] row: `ANY /first-segment` for
    /// a one-segment path, else `ANY /first-segment/{proxy+}`.
    pub fn prefix_route_key(&self) -> String {
        let rest = self.path.trim_start_matches('/');
        match rest.split_once('/') {
            None => format!("ANY /{rest}"),
            Some((first, _)) => format!("ANY /{first}/{{proxy+}}"),
        }
    }
}

/// One row of the route table ([`ROUTES`], declared in [`super::operations`]).
#[derive(Debug)]
pub struct Route {
    pub method: Method,
    /// Path template; `{name}` matches one segment.
    pub path: &'static str,
    pub function: Function,
    pub op: Op,
    pub gateway: Gateway,
    /// Browsers may call it from any origin (CORS): the public routes apps call from a web
    /// page or a webview. Other routes stay same-origin: they answer no CORS headers.
    pub cross_origin: bool,
    /// Accepts `Idempotency-Key` ([`idempotency`]): the POSTs that create something.
    pub idempotent: bool,
    /// Largest body it accepts.
    pub max_body: usize,
}

impl Route {
    /// A row without flags: same-origin, no `Idempotency-Key`, bodies up to [`MAX_BODY_BYTES`].
    pub(super) const fn new(
        method: Method,
        path: &'static str,
        function: Function,
        op: Op,
        gateway: Gateway,
    ) -> Self {
        Route {
            method,
            path,
            function,
            op,
            gateway,
            cross_origin: false,
            idempotent: false,
            max_body: MAX_BODY_BYTES,
        }
    }

    /// Flag `cross_origin`.
    pub(super) const fn cross_origin(mut self) -> Self {
        self.cross_origin = true;
        self
    }

    /// Flag `idempotent`.
    pub(super) const fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    /// Flag `shared_webhook_body`: [`SHARED_WEBHOOK_MAX_BODY_BYTES`].
    pub(super) const fn shared_webhook_body(mut self) -> Self {
        self.max_body = SHARED_WEBHOOK_MAX_BODY_BYTES;
        self
    }
}

/// Path parameters captured by a route.
#[derive(Debug, Default)]
pub struct Params(Vec<(&'static str, String)>);

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

/// The name of a `{name}` template segment.
fn param_name(segment: &str) -> Option<&str> {
    segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'))
}

/// Whether `path` fits the route's `template` (`{name}` stands for one non-empty segment; a
/// trailing `/` is ignored). Allocates nothing: every request tries it on many routes.
fn path_fits(template: &str, path: &str) -> bool {
    let mut t = template.split('/');
    let mut p = path.trim_end_matches('/').split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(ts), Some(ps)) => {
                let fits = match param_name(ts) {
                    Some(_) => !ps.is_empty(),
                    None => ts == ps,
                };
                if !fits {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// The parameters `path` gives the route's `template` (which it fits), percent-decoded.
fn captures(template: &'static str, path: &str) -> Params {
    Params(
        template
            .split('/')
            .zip(path.trim_end_matches('/').split('/'))
            .filter_map(|(ts, ps)| {
                let name = param_name(ts)?;
                let value = url::form_urlencoded::parse(format!("v={ps}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                Some((name, value))
            })
            .collect(),
    )
}

/// The methods a path answers, for `Allow`: its routes' methods, `HEAD` where `GET` is, and
/// `OPTIONS`; `None` when no route has this path.
pub fn allowed_methods(path: &str) -> Option<String> {
    let mut methods: Vec<&str> = routes_of(path).map(|r| r.method.as_str()).collect();
    if methods.is_empty() {
        return None;
    }
    if methods.contains(&"GET") {
        methods.push("HEAD");
    }
    methods.push("OPTIONS");
    Some(methods.join(", "))
}

/// One segment of a path template, split once.
#[derive(Debug, PartialEq)]
enum Segment {
    Literal(&'static str),
    /// `{name}`: any one non-empty segment.
    Param,
}

/// The route table's distinct path templates, split into segments once, with their rows.
/// Every request is matched against it: splitting each template per request was 2.6% of a
/// validation's CPU (issue 33's profile).
struct PathIndex {
    /// By segment count (index = count), each list ordered by parameter count (fewer is more
    /// specific), then by the table's order.
    by_length: Vec<Vec<Template>>,
}

struct Template {
    segments: Vec<Segment>,
    params: usize,
    routes: Vec<&'static Route>,
}

impl Template {
    fn fits(&self, path: &[&str]) -> bool {
        self.segments.iter().zip(path).all(|(t, p)| match t {
            Segment::Literal(l) => l == p,
            Segment::Param => !p.is_empty(),
        })
    }
}

impl PathIndex {
    fn of(routes: &'static [Route]) -> Self {
        let mut by_length: Vec<Vec<Template>> = Vec::new();
        for route in routes {
            let segments: Vec<Segment> = route
                .path
                .split('/')
                .map(|s| match param_name(s) {
                    Some(_) => Segment::Param,
                    None => Segment::Literal(s),
                })
                .collect();
            if by_length.len() <= segments.len() {
                by_length.resize_with(segments.len() + 1, Vec::new);
            }
            let same = &mut by_length[segments.len()];
            match same.iter_mut().find(|t| t.segments == segments) {
                Some(t) => t.routes.push(route),
                None => same.push(Template {
                    params: route.path.matches('{').count(),
                    segments,
                    routes: vec![route],
                }),
            }
        }
        for same in &mut by_length {
            same.sort_by_key(|t| t.params); // stable: the table's order among equals
        }
        PathIndex { by_length }
    }

    /// The routes of the most specific templates `path` fits (the fewest parameters; every
    /// template with that many that fits).
    fn routes_of<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'static Route> + 'a {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let same = self
            .by_length
            .get(segments.len())
            .map(Vec::as_slice)
            .unwrap_or_default();
        let fewest = same.iter().find(|t| t.fits(&segments)).map(|t| t.params);
        same.iter()
            .take_while(move |t| Some(t.params) <= fewest)
            .filter(move |t| t.fits(&segments))
            .flat_map(|t| t.routes.iter().copied())
    }
}

static PATH_INDEX: std::sync::LazyLock<PathIndex> =
    std::sync::LazyLock::new(|| PathIndex::of(ROUTES));

/// The routes of the most specific path template matching `path`: `/api/licenses/activate`
/// is that literal path (POST), never `/api/licenses/{licenseId}` with the id "activate".
fn routes_of(path: &str) -> impl Iterator<Item = &'static Route> + '_ {
    PATH_INDEX.routes_of(path)
}

/// Finds the route for a request (`HEAD` is served by the `GET` route): 404 when no path
/// matches, 405 (with the methods the path answers) when the path exists with other methods.
pub fn find(method: &Method, path: &str) -> Result<(&'static Route, Params)> {
    let wanted = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    if let Some(route) = routes_of(path).find(|r| r.method == *wanted) {
        return Ok((route, captures(route.path, path)));
    }
    match allowed_methods(path) {
        Some(allow) => Err(Error::MethodNotAllowed {
            method: method.to_string(),
            path: path.to_string(),
            allow,
        }),
        None => Err(Error::not_found(format!("Route {method} {path}"))),
    }
}

/// The routes API Gateway must send to the functions, with the function each goes to: the
/// rows of [`Gateway::OwnRoute`], and `ANY` on each of their paths (so `HEAD`, `OPTIONS` and
/// 405 with `Allow` are answered by the same function, under the path's throttle); the greedy
/// routes of the [`Gateway::Prefix`] rows (the pages); and `$default`, the admin function, for
/// everything else (its own rows, unknown paths).
/// `tests/template.rs` checks that the SAM template declares exactly these.
pub fn gateway_routes() -> Vec<(String, Function)> {
    let mut out: Vec<(String, Function)> = Vec::new();
    for r in ROUTES.iter().filter(|r| r.gateway == Gateway::OwnRoute) {
        out.push((format!("{} {}", r.method, r.path), r.function));
        let any = format!("ANY {}", r.path);
        if !out.iter().any(|(key, _)| *key == any) {
            out.push((any, r.function));
        }
    }
    for r in ROUTES.iter().filter(|r| r.gateway == Gateway::Prefix) {
        let key = r.prefix_route_key();
        if !out.iter().any(|(k, _)| *k == key) {
            out.push((key, r.function));
        }
    }
    out.push(("$default".to_string(), Function::Admin));
    out
}

/// `OPTIONS`: 204 with `Allow`; on a cross-origin path, also the CORS preflight answer
/// (any origin, the path's methods, the headers the browser asks for, cached a day).
fn options(req: &ApiRequest) -> Result<ApiResponse> {
    let allow = allowed_methods(&req.path)
        .ok_or_else(|| Error::not_found(format!("Route OPTIONS {}", req.path)))?;
    let mut res = ApiResponse::empty(StatusCode::NO_CONTENT).with_header(
        http::header::ALLOW,
        HeaderValue::from_str(&allow).expect("method names are header-safe"),
    );
    let cross_origin = ROUTES
        .iter()
        .any(|r| r.cross_origin && path_fits(r.path, &req.path));
    if cross_origin {
        let asked = req
            .header("access-control-request-headers")
            .filter(|h| {
                h.len() <= 1000
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_, ".contains(&b))
            })
            .unwrap_or("content-type");
        res = with_cors(res)
            .with_header(
                http::header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_str(&allow).expect("method names are header-safe"),
            )
            .with_header(
                http::header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_str(asked).expect("checked above"),
            )
            .with_header(
                http::header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("86400"),
            );
    }
    Ok(res)
}

/// The CORS header of a cross-origin route's answers (errors included, so a page can read
/// them). No credentials: these routes take none.
fn with_cors(res: ApiResponse) -> ApiResponse {
    res.with_header(
        http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    )
}

/// The code behind one function's routes: `op` is one of its rows (the dispatcher checked).
pub type Handlers =
    for<'a> fn(&'a Services, Op, &'a ApiRequest, &'a Params) -> BoxFuture<'a, Result<ApiResponse>>;

/// A Lambda function's share of the route table: which rows it serves and the code serving
/// them. Each function's binary names its own (`FunctionRoutes::VALIDATE`, ...), so it links
/// only its own handlers: a dispatcher matching every `Op` put the dashboard, the admin API
/// and their templates into every HTTP function's binary.
#[derive(Clone, Copy)]
pub struct FunctionRoutes {
    pub function: Function,
    pub handlers: Handlers,
}

impl FunctionRoutes {
    pub const WEBHOOK: Self = Self::new(Function::Webhook, webhook_handlers);
    pub const CHECKOUT: Self = Self::new(Function::Checkout, checkout_handlers);
    pub const VALIDATE: Self = Self::new(Function::Validate, validate_handlers);
    pub const ADMIN: Self = Self::new(Function::Admin, admin_handlers);
    pub const DOCS: Self = Self::new(Function::Docs, docs_handlers);
    pub const PAGES: Self = Self::new(Function::Pages, pages_handlers);

    const fn new(function: Function, handlers: Handlers) -> Self {
        Self { function, handlers }
    }

    /// A function's routes (the local server serves them all).
    pub fn of(function: Function) -> Self {
        match function {
            Function::Webhook => Self::WEBHOOK,
            Function::Checkout => Self::CHECKOUT,
            Function::Validate => Self::VALIDATE,
            Function::Admin => Self::ADMIN,
            Function::Docs => Self::DOCS,
            Function::Pages => Self::PAGES,
        }
    }
}

/// Serves one request with every function's routes (`only: None`, the local server) or one
/// function's (as that Lambda would; tests and benches). A Lambda binary calls [`serve`] with
/// its own [`FunctionRoutes`] instead, so it does not link the others.
pub async fn dispatch(services: &Services, only: Option<Function>, req: ApiRequest) -> ApiResponse {
    serve(services, req, |f| {
        only.is_none_or(|o| o == f)
            .then(|| FunctionRoutes::of(f).handlers)
    })
    .await
}

/// Serves one request in a Lambda: only `routes`' rows (others are 404, as API Gateway would
/// never send them).
pub async fn serve_function(
    services: &Services,
    routes: FunctionRoutes,
    req: ApiRequest,
) -> ApiResponse {
    serve(services, req, move |f| {
        (f == routes.function).then_some(routes.handlers)
    })
    .await
}

/// Serves one request: finds its route, takes the handlers `handlers_for` gives its function
/// (none: 404), runs the handler, turns errors into the contract's error body, and logs the
/// outcome with the request id.
async fn serve(
    services: &Services,
    req: ApiRequest,
    handlers_for: impl Fn(Function) -> Option<Handlers>,
) -> ApiResponse {
    let started = Instant::now();
    let span = tracing::info_span!("request", request_id = %req.request_id, method = %req.method, path = %req.path);
    async move {
        let mut cross_origin = false;
        let result = async {
            if req.method == Method::OPTIONS {
                return options(&req);
            }
            let (route, params) = find(&req.method, &req.path)?;
            let Some(handlers) = handlers_for(route.function) else {
                return Err(Error::not_found(format!(
                    "Route {} {}",
                    req.method, req.path
                )));
            };
            cross_origin = route.cross_origin;
            let limit = route.max_body;
            if req.body.len() > limit {
                return Err(Error::PayloadTooLarge { limit });
            }
            idempotency::run(
                services,
                route,
                &req,
                handlers(services, route.op, &req, &params),
            )
            .await
        }
        .await;
        let mut response = match result {
            Ok(r) => r,
            Err(e) => {
                let r = ApiResponse::error(&e);
                match &e {
                    Error::MethodNotAllowed { allow, .. } => r.with_header(
                        http::header::ALLOW,
                        HeaderValue::from_str(allow).expect("method names are header-safe"),
                    ),
                    _ => r,
                }
            }
        };
        if cross_origin {
            response = with_cors(response);
        }
        if req.method == Method::HEAD {
            // The GET answer's status and headers, without its body.
            response.body = bytes::Bytes::new();
        }
        tracing::info!(
            status = response.status.as_u16(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "request done"
        );
        response
    }
    .instrument(span)
    .await
}

/// A route's op reached a function that does not serve it: the route table and the handler
/// tables disagree (a bug: tests/lambda_adapter.rs sends every route to its function).
pub(super) fn not_served(function: Function, op: Op) -> Error {
    Error::internal(format!(
        "{op:?} is not served by the {} function",
        function.name()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_with_params() {
        let (r, p) = find(&Method::POST, "/api/stripe/webhook/app_123").unwrap();
        assert_eq!(r.op, Op::StripeWebhookForApp);
        assert_eq!(p.get("appId"), "app_123");
        let (r, _) = find(&Method::POST, "/api/stripe/webhook").unwrap();
        assert_eq!(r.op, Op::StripeWebhook);
        let (r, _) = find(&Method::POST, "/api/v1/integrations/stripe").unwrap();
        assert_eq!(
            (r.op, r.function),
            (Op::LukittuStripeWebhook, Function::Webhook)
        );
        let (r, _) = find(&Method::POST, "/api/licenses/import").unwrap();
        assert_eq!((r.op, r.function), (Op::ImportLicenses, Function::Admin));
        assert_eq!(
            find(&Method::GET, "/api/products/").unwrap().0.op,
            Op::ListProducts
        );
    }

    #[test]
    fn validation_routes_are_served_by_the_validate_function() {
        for path in [
            "/api/licenses/validate",
            "/api/licenses/activate",
            "/api/licenses/deactivate",
            "/api/licenses/leases",
            "/api/licenses/leases/lse_x_y/heartbeat",
            "/api/licenses/leases/lse_x_y/borrow",
        ] {
            assert_eq!(
                find(&Method::POST, path).unwrap().0.function,
                Function::Validate
            );
        }
        let (r, p) = find(&Method::DELETE, "/api/licenses/leases/lse_x_y").unwrap();
        assert_eq!(
            (r.op, r.function, p.get("leaseId")),
            (Op::ReleaseLease, Function::Validate, "lse_x_y")
        );
        let (r, p) = find(&Method::GET, "/api/tenants/ten_1/signing-key").unwrap();
        assert_eq!((r.op, p.get("tenantId")), (Op::GetSigningKey, "ten_1"));
    }

    #[test]
    fn unknown_paths_and_methods_are_told_apart() {
        assert_eq!(find(&Method::GET, "/nope").unwrap_err().code(), "not_found");
        assert_eq!(
            find(&Method::PATCH, "/api/products").unwrap_err().code(),
            "method_not_allowed"
        );
    }

    #[test]
    fn the_pages_are_their_own_function_reached_by_prefix() {
        for (method, path) in [
            (Method::GET, "/dashboard"),
            (Method::GET, "/dashboard/assets/app.css"),
            (Method::POST, "/dashboard/licenses/lic_1"),
            (Method::GET, "/portal/ten_1"),
            (Method::POST, "/portal/ten_1/licenses/lic_1/key"),
        ] {
            let (r, _) = find(&method, path).unwrap();
            assert_eq!(
                (r.function, r.gateway),
                (Function::Pages, Gateway::Prefix),
                "{path}"
            );
        }
        let (r, _) = find(&Method::GET, "/api/portal-settings").unwrap();
        assert_eq!(r.function, Function::Admin);
        let routes = gateway_routes();
        let pages: Vec<&str> = routes
            .iter()
            .filter(|(_, f)| *f == Function::Pages)
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(
            pages,
            [
                "ANY /dashboard",
                "ANY /dashboard/{proxy+}",
                "ANY /portal/{proxy+}"
            ]
        );
        // A greedy route takes every path under its segment that has no route of its own:
        // a row there of another function reached through `$default` would never get it.
        let first = |path: &str| {
            path.trim_start_matches('/')
                .split('/')
                .next()
                .unwrap()
                .to_string()
        };
        for p in ROUTES.iter().filter(|r| r.gateway == Gateway::Prefix) {
            for r in ROUTES.iter().filter(|r| first(r.path) == first(p.path)) {
                assert!(
                    r.function == p.function || r.gateway == Gateway::OwnRoute,
                    "{} {} is under the greedy route of the {} function",
                    r.method,
                    r.path,
                    p.function.name()
                );
            }
        }
    }

    /// The index answers exactly what scanning the whole table answers, on every route's
    /// path (parameters filled in, with and without a trailing `/`) and on near misses.
    #[test]
    fn the_path_index_answers_what_a_scan_of_the_table_answers() {
        fn scan(path: &str) -> Vec<(String, &'static str)> {
            let fewest = ROUTES
                .iter()
                .filter(|r| path_fits(r.path, path))
                .map(|r| r.path.matches('{').count())
                .min();
            ROUTES
                .iter()
                .filter(|r| Some(r.path.matches('{').count()) == fewest && path_fits(r.path, path))
                .map(|r| (r.method.to_string(), r.path))
                .collect()
        }
        let mut paths = vec![
            "/".to_string(),
            "".to_string(),
            "/api".to_string(),
            "/api/licenses/validate/extra".to_string(),
            "/dashboard//x".to_string(),
        ];
        for r in ROUTES.iter() {
            let filled: Vec<String> = r
                .path
                .split('/')
                .map(|s| match param_name(s) {
                    Some(_) => "activate".to_string(),
                    None => s.to_string(),
                })
                .collect();
            paths.push(filled.join("/"));
            paths.push(format!("{}/", filled.join("/")));
            paths.push(format!("{}/more", filled.join("/")));
        }
        let mut matched = 0;
        for path in &paths {
            let mut indexed: Vec<(String, &str)> = routes_of(path)
                .map(|r| (r.method.to_string(), r.path))
                .collect();
            let mut scanned = scan(path);
            indexed.sort();
            scanned.sort();
            assert_eq!(indexed, scanned, "{path}");
            matched += usize::from(!indexed.is_empty());
        }
        assert!(matched > ROUTES.len(), "every route's own path matched");
    }

    #[test]
    fn every_route_is_unique() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(
                    !(a.method == b.method && a.path == b.path),
                    "{} {}",
                    a.method,
                    a.path
                );
            }
        }
    }
}
