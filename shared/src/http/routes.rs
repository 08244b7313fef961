//! The route table: every HTTP route of Keyhook, the Lambda function that serves it, and its
//! handler. The local server serves the whole table; each Lambda serves its own rows. The SAM
//! template and the OpenAPI document are checked against this table by tests.

use std::time::Instant;

use futures::future::BoxFuture;
use http::{HeaderValue, Method, StatusCode};
use tracing::Instrument;

use crate::dashboard::{self, Page};
use crate::handlers::{admin, checkout, validate, webhook};
use crate::http::{idempotency, openapi, ApiRequest, ApiResponse};
use crate::{Error, Result, Services};

/// Largest body any route accepts (an app's own Stripe webhook URL included): 256 KiB.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Largest body the shared Stripe webhook URLs accept: 64 KiB, sized to Stripe's events
/// (a Checkout Session's or an invoice's event is 3–10 KB; one of a subscription with many
/// items, with its previous attributes, some tens of KB). Matching there costs one HMAC of
/// the body per candidate app, so the cap bounds that work; a larger event still arrives on
/// the app's own URL, and reconciliation fetches any event a URL refused from Stripe's API.
pub const SHARED_WEBHOOK_MAX_BODY_BYTES: usize = 64 * 1024;

/// Largest body a route accepts.
pub fn max_body_bytes(op: Op) -> usize {
    match op {
        Op::StripeWebhook | Op::LukittuStripeWebhook => SHARED_WEBHOOK_MAX_BODY_BYTES,
        _ => MAX_BODY_BYTES,
    }
}

/// The Lambda function that serves a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Webhook,
    Checkout,
    Validate,
    Admin,
}

impl Function {
    pub fn name(self) -> &'static str {
        match self {
            Function::Webhook => "webhook",
            Function::Checkout => "checkout",
            Function::Validate => "validate",
            Function::Admin => "admin",
        }
    }
}

/// What a route does: one variant per handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Health,
    OpenApi,
    ApiDocs,
    StripeWebhook,
    StripeWebhookForApp,
    /// Lukittu's webhook URL shape, served as the shared webhook URL.
    LukittuStripeWebhook,
    CreateCheckoutSession,
    GetCheckoutSession,
    GetTenant,
    ListApps,
    CreateApp,
    GetApp,
    UpdateApp,
    DeleteApp,
    Diagnostics,
    ListEvents,
    GetEvent,
    ListProducts,
    CreateProduct,
    GetProduct,
    UpdateProduct,
    DeleteProduct,
    ListPlans,
    CreatePlan,
    GetPlan,
    UpdatePlan,
    DeletePlan,
    ListPriceMappings,
    CreatePriceMapping,
    GetPriceMapping,
    UpdatePriceMapping,
    DeletePriceMapping,
    ListCurrencies,
    CreateCurrency,
    UpdateCurrency,
    ListLicenses,
    CreateLicense,
    GetLicense,
    PatchLicense,
    ResendLicenseEmail,
    ImportLicenses,
    ListTenantKeys,
    CreateTenantKey,
    ActivateTenantKey,
    ListTokens,
    CreateToken,
    DeleteToken,
    ValidateLicense,
    ActivateLicense,
    DeactivateLicense,
    GetSigningKey,
    GetSigningKeys,
    CheckoutLicenseFile,
    GetLicenseFile,
    ListSigningKeys,
    CreateSigningKey,
    ActivateSigningKey,
    /// A page (or form post) of the merchant dashboard.
    Dashboard(Page),
    ListWebhookEndpoints,
    CreateWebhookEndpoint,
    GetWebhookEndpoint,
    UpdateWebhookEndpoint,
    DeleteWebhookEndpoint,
    RollWebhookEndpointSecret,
    ListWebhookDeliveries,
    TestWebhookEndpoint,
    RetryWebhookDelivery,
}

#[derive(Debug)]
pub struct Route {
    pub method: Method,
    /// Path template; `{name}` matches one segment.
    pub path: &'static str,
    pub function: Function,
    pub op: Op,
}

macro_rules! routes {
    ($($method:ident $path:literal => $function:ident :: $op:ident $(($page:ident))?),* $(,)?) => {
        &[$(Route { method: Method::$method, path: $path, function: Function::$function, op: Op::$op $((Page::$page))? }),*]
    };
}

/// Every route of the HTTP API.
pub static ROUTES: &[Route] = routes![
    GET "/health" => Admin::Health,
    GET "/openapi.json" => Admin::OpenApi,
    GET "/docs" => Admin::ApiDocs,
    POST "/api/stripe/webhook" => Webhook::StripeWebhook,
    POST "/api/stripe/webhook/{appId}" => Webhook::StripeWebhookForApp,
    POST "/api/v1/integrations/stripe" => Webhook::LukittuStripeWebhook,
    POST "/api/stripe/checkout/session" => Checkout::CreateCheckoutSession,
    GET "/api/stripe/checkout/sessions/{sessionId}" => Checkout::GetCheckoutSession,
    GET "/api/tenant" => Admin::GetTenant,
    GET "/api/stripe/apps" => Admin::ListApps,
    POST "/api/stripe/apps" => Admin::CreateApp,
    GET "/api/stripe/apps/{appId}" => Admin::GetApp,
    PUT "/api/stripe/apps/{appId}" => Admin::UpdateApp,
    DELETE "/api/stripe/apps/{appId}" => Admin::DeleteApp,
    GET "/api/stripe/diagnostics" => Admin::Diagnostics,
    GET "/api/stripe/events" => Admin::ListEvents,
    GET "/api/stripe/events/{eventId}" => Admin::GetEvent,
    GET "/api/products" => Admin::ListProducts,
    POST "/api/products" => Admin::CreateProduct,
    GET "/api/products/{productId}" => Admin::GetProduct,
    PUT "/api/products/{productId}" => Admin::UpdateProduct,
    DELETE "/api/products/{productId}" => Admin::DeleteProduct,
    GET "/api/plans" => Admin::ListPlans,
    POST "/api/plans" => Admin::CreatePlan,
    GET "/api/plans/{planId}" => Admin::GetPlan,
    PUT "/api/plans/{planId}" => Admin::UpdatePlan,
    DELETE "/api/plans/{planId}" => Admin::DeletePlan,
    GET "/api/stripe/price-mappings" => Admin::ListPriceMappings,
    POST "/api/stripe/price-mappings" => Admin::CreatePriceMapping,
    GET "/api/stripe/price-mappings/{id}" => Admin::GetPriceMapping,
    PUT "/api/stripe/price-mappings/{id}" => Admin::UpdatePriceMapping,
    DELETE "/api/stripe/price-mappings/{id}" => Admin::DeletePriceMapping,
    GET "/api/currencies" => Admin::ListCurrencies,
    POST "/api/currencies" => Admin::CreateCurrency,
    PUT "/api/currencies/{code}" => Admin::UpdateCurrency,
    GET "/api/licenses" => Admin::ListLicenses,
    POST "/api/licenses" => Admin::CreateLicense,
    GET "/api/licenses/{licenseId}" => Admin::GetLicense,
    PATCH "/api/licenses/{licenseId}" => Admin::PatchLicense,
    POST "/api/licenses/{licenseId}/resend-email" => Admin::ResendLicenseEmail,
    POST "/api/licenses/import" => Admin::ImportLicenses,
    GET "/api/tenant-keys" => Admin::ListTenantKeys,
    POST "/api/tenant-keys" => Admin::CreateTenantKey,
    POST "/api/tenant-keys/{keyId}/activate" => Admin::ActivateTenantKey,
    GET "/api/tokens" => Admin::ListTokens,
    POST "/api/tokens" => Admin::CreateToken,
    DELETE "/api/tokens/{tokenId}" => Admin::DeleteToken,
    POST "/api/licenses/validate" => Validate::ValidateLicense,
    POST "/api/licenses/activate" => Validate::ActivateLicense,
    POST "/api/licenses/deactivate" => Validate::DeactivateLicense,
    GET "/api/tenants/{tenantId}/signing-key" => Validate::GetSigningKey,
    GET "/api/tenants/{tenantId}/signing-keys" => Validate::GetSigningKeys,
    POST "/api/licenses/checkout" => Validate::CheckoutLicenseFile,
    GET "/api/licenses/{licenseId}/file" => Admin::GetLicenseFile,
    GET "/api/signing-keys" => Admin::ListSigningKeys,
    POST "/api/signing-keys" => Admin::CreateSigningKey,
    POST "/api/signing-keys/{kid}/activate" => Admin::ActivateSigningKey,
    // The merchant dashboard (shared/src/dashboard): HTML pages and their form posts.
    GET "/dashboard" => Admin::Dashboard(Overview),
    GET "/dashboard/sign-in" => Admin::Dashboard(SignInPage),
    POST "/dashboard/sign-in" => Admin::Dashboard(SignIn),
    GET "/dashboard/sign-in/link" => Admin::Dashboard(SignInLink),
    POST "/dashboard/sign-in/link" => Admin::Dashboard(UseSignInLink),
    POST "/dashboard/sign-out" => Admin::Dashboard(SignOut),
    GET "/dashboard/sign-up" => Admin::Dashboard(SignUpPage),
    POST "/dashboard/sign-up" => Admin::Dashboard(SignUp),
    GET "/dashboard/assets/{asset}" => Admin::Dashboard(Asset),
    GET "/dashboard/apps" => Admin::Dashboard(Apps),
    GET "/dashboard/apps/new" => Admin::Dashboard(NewApp),
    POST "/dashboard/apps" => Admin::Dashboard(CreateApp),
    GET "/dashboard/apps/{appId}" => Admin::Dashboard(AppPage),
    POST "/dashboard/apps/{appId}" => Admin::Dashboard(UpdateApp),
    POST "/dashboard/price-mappings" => Admin::Dashboard(CreatePriceMapping),
    POST "/dashboard/price-mappings/{id}" => Admin::Dashboard(UpdatePriceMapping),
    POST "/dashboard/currencies" => Admin::Dashboard(CreateCurrency),
    POST "/dashboard/currencies/{code}" => Admin::Dashboard(UpdateCurrency),
    GET "/dashboard/events/{eventId}" => Admin::Dashboard(Event),
    GET "/dashboard/products" => Admin::Dashboard(Products),
    GET "/dashboard/products/new" => Admin::Dashboard(NewProduct),
    POST "/dashboard/products" => Admin::Dashboard(CreateProduct),
    GET "/dashboard/products/{productId}" => Admin::Dashboard(ProductPage),
    POST "/dashboard/products/{productId}" => Admin::Dashboard(UpdateProduct),
    POST "/dashboard/email-preview" => Admin::Dashboard(EmailPreview),
    POST "/dashboard/plans" => Admin::Dashboard(CreatePlan),
    POST "/dashboard/plans/{planId}" => Admin::Dashboard(UpdatePlan),
    GET "/dashboard/licenses" => Admin::Dashboard(Licenses),
    GET "/dashboard/licenses/new" => Admin::Dashboard(NewLicense),
    POST "/dashboard/licenses" => Admin::Dashboard(CreateLicense),
    GET "/dashboard/licenses/{licenseId}" => Admin::Dashboard(LicensePage),
    POST "/dashboard/licenses/{licenseId}" => Admin::Dashboard(UpdateLicense),
    POST "/dashboard/licenses/{licenseId}/key" => Admin::Dashboard(RevealKey),
    GET "/dashboard/test-purchase" => Admin::Dashboard(TestPurchase),
    POST "/dashboard/test-purchase" => Admin::Dashboard(RunTestPurchase),
    GET "/dashboard/settings" => Admin::Dashboard(Settings),
    POST "/dashboard/settings/tenant-keys" => Admin::Dashboard(CreateTenantKey),
    POST "/dashboard/settings/tenant-keys/{keyId}" => Admin::Dashboard(ActivateTenantKey),
    POST "/dashboard/settings/tokens" => Admin::Dashboard(CreateToken),
    POST "/dashboard/settings/tokens/{tokenId}" => Admin::Dashboard(RevokeToken),
    POST "/dashboard/settings/members" => Admin::Dashboard(InviteMember),
    POST "/dashboard/settings/members/{memberId}" => Admin::Dashboard(UpdateMember),
    POST "/dashboard/settings/signing-keys" => Admin::Dashboard(CreateSigningKey),
    POST "/dashboard/settings/signing-keys/{kid}" => Admin::Dashboard(ActivateSigningKey),
    GET "/dashboard/webhooks" => Admin::Dashboard(Webhooks),
    POST "/dashboard/webhooks" => Admin::Dashboard(CreateWebhookEndpoint),
    GET "/dashboard/webhooks/{endpointId}" => Admin::Dashboard(WebhookEndpointPage),
    POST "/dashboard/webhooks/{endpointId}" => Admin::Dashboard(UpdateWebhookEndpoint),
    POST "/dashboard/webhooks/{endpointId}/deliveries/{deliveryId}" => Admin::Dashboard(RetryWebhookDelivery),
    GET "/dashboard/import" => Admin::Dashboard(Import),
    POST "/dashboard/import" => Admin::Dashboard(RunImport),
    GET "/api/webhook-endpoints" => Admin::ListWebhookEndpoints,
    POST "/api/webhook-endpoints" => Admin::CreateWebhookEndpoint,
    GET "/api/webhook-endpoints/{endpointId}" => Admin::GetWebhookEndpoint,
    PUT "/api/webhook-endpoints/{endpointId}" => Admin::UpdateWebhookEndpoint,
    DELETE "/api/webhook-endpoints/{endpointId}" => Admin::DeleteWebhookEndpoint,
    POST "/api/webhook-endpoints/{endpointId}/roll-secret" => Admin::RollWebhookEndpointSecret,
    GET "/api/webhook-endpoints/{endpointId}/deliveries" => Admin::ListWebhookDeliveries,
    POST "/api/webhook-endpoints/{endpointId}/test" => Admin::TestWebhookEndpoint,
    POST "/api/webhook-endpoints/{endpointId}/deliveries/{deliveryId}/retry" => Admin::RetryWebhookDelivery,
];

pub use super::request::Params;

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

/// How many parameters a route's path has: fewer is more specific.
fn param_count(route: &Route) -> usize {
    route.path.matches('{').count()
}

/// Whether browsers may call an operation from any origin (CORS): the public routes apps call
/// from a web page or a webview. Admin routes stay same-origin: they answer no CORS headers.
pub fn is_cross_origin(op: Op) -> bool {
    matches!(
        op,
        Op::ValidateLicense
            | Op::ActivateLicense
            | Op::DeactivateLicense
            | Op::CheckoutLicenseFile
            | Op::GetSigningKey
            | Op::GetSigningKeys
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

/// The routes of the most specific path template matching `path`: `/api/licenses/activate`
/// is that literal path (POST), never `/api/licenses/{licenseId}` with the id "activate".
fn routes_of(path: &str) -> impl Iterator<Item = &'static Route> + '_ {
    let fewest = ROUTES
        .iter()
        .filter(|r| path_fits(r.path, path))
        .map(param_count)
        .min();
    ROUTES
        .iter()
        .filter(move |r| Some(param_count(r)) == fewest && path_fits(r.path, path))
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

/// The routes API Gateway must send to the functions: every row of [`ROUTES`]; `HEAD` beside
/// each `GET` of a function other than the admin one; `OPTIONS` (CORS preflight) beside each
/// cross-origin route; and `$default` (everything else: unknown paths, undeclared methods, the
/// admin function's `HEAD`s), served by the admin function. `tests/template.rs` checks that
/// the SAM template declares exactly these.
pub fn gateway_routes() -> Vec<(String, Function)> {
    let mut out: Vec<(String, Function)> = Vec::new();
    for r in ROUTES {
        out.push((format!("{} {}", r.method, r.path), r.function));
        if r.method == Method::GET && r.function != Function::Admin {
            out.push((format!("HEAD {}", r.path), r.function));
        }
        if is_cross_origin(r.op) {
            out.push((format!("OPTIONS {}", r.path), r.function));
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
        .any(|r| is_cross_origin(r.op) && path_fits(r.path, &req.path));
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

    const fn new(function: Function, handlers: Handlers) -> Self {
        Self { function, handlers }
    }

    /// A function's routes (the local server serves all four).
    pub fn of(function: Function) -> Self {
        match function {
            Function::Webhook => Self::WEBHOOK,
            Function::Checkout => Self::CHECKOUT,
            Function::Validate => Self::VALIDATE,
            Function::Admin => Self::ADMIN,
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

/// Serves one request the dashboard makes in-process (`dashboard::api`, the test purchase):
/// the admin API's routes, the public deactivation (a device freed from a license's page
/// goes through the rule a client app uses) and the Stripe receivers (a test purchase is
/// delivered as Stripe would). The dashboard runs in the admin function: serving only these,
/// its binary links neither the checkout nor the rest of validation.
pub async fn dispatch_for_dashboard(services: &Services, req: ApiRequest) -> ApiResponse {
    serve(services, req, |f| match f {
        Function::Admin => Some(admin_handlers as Handlers),
        Function::Webhook => Some(webhook_handlers),
        Function::Validate => Some(dashboard_validate_handlers),
        Function::Checkout => None,
    })
    .await
}

/// The one validation route the dashboard calls.
fn dashboard_validate_handlers<'a>(
    s: &'a Services,
    op: Op,
    req: &'a ApiRequest,
    _: &'a Params,
) -> BoxFuture<'a, Result<ApiResponse>> {
    Box::pin(async move {
        match op {
            Op::DeactivateLicense => validate::deactivate(s, req).await,
            other => Err(not_served(Function::Validate, other)),
        }
    })
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
            cross_origin = is_cross_origin(route.op);
            let limit = max_body_bytes(route.op);
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
fn not_served(function: Function, op: Op) -> Error {
    Error::internal(format!(
        "{op:?} is not served by the {} function",
        function.name()
    ))
}

/// The handlers of the webhook function's routes.
fn webhook_handlers<'a>(
    s: &'a Services,
    op: Op,
    req: &'a ApiRequest,
    p: &'a Params,
) -> BoxFuture<'a, Result<ApiResponse>> {
    Box::pin(async move {
        match op {
            Op::StripeWebhook => webhook::receive(s, req, None).await,
            Op::StripeWebhookForApp => webhook::receive(s, req, Some(p.get("appId"))).await,
            Op::LukittuStripeWebhook => webhook::receive(s, req, None).await,
            other => Err(not_served(Function::Webhook, other)),
        }
    })
}

/// The handlers of the checkout function's routes.
fn checkout_handlers<'a>(
    s: &'a Services,
    op: Op,
    req: &'a ApiRequest,
    p: &'a Params,
) -> BoxFuture<'a, Result<ApiResponse>> {
    Box::pin(async move {
        match op {
            Op::CreateCheckoutSession => checkout::create(s, req).await,
            Op::GetCheckoutSession => checkout::get(s, req, p.get("sessionId")).await,
            other => Err(not_served(Function::Checkout, other)),
        }
    })
}

/// The handlers of the validate function's routes.
fn validate_handlers<'a>(
    s: &'a Services,
    op: Op,
    req: &'a ApiRequest,
    p: &'a Params,
) -> BoxFuture<'a, Result<ApiResponse>> {
    Box::pin(async move {
        match op {
            Op::ValidateLicense => validate::validate(s, req).await,
            Op::ActivateLicense => validate::activate(s, req).await,
            Op::DeactivateLicense => validate::deactivate(s, req).await,
            Op::GetSigningKey => validate::signing_key(s, req, p.get("tenantId")).await,
            Op::GetSigningKeys => validate::signing_keys(s, req, p.get("tenantId")).await,
            Op::CheckoutLicenseFile => validate::checkout(s, req).await,
            other => Err(not_served(Function::Validate, other)),
        }
    })
}

/// The handlers of the admin function's routes.
fn admin_handlers<'a>(
    s: &'a Services,
    op: Op,
    req: &'a ApiRequest,
    p: &'a Params,
) -> BoxFuture<'a, Result<ApiResponse>> {
    Box::pin(async move {
        match op {
            Op::Health => Ok(ApiResponse::ok(&openapi::Health {
                status: "ok".into(),
            })),
            Op::OpenApi => Ok(ApiResponse::text(
                StatusCode::OK,
                "application/json",
                openapi::PUBLISHED,
            )),
            Op::ApiDocs => Ok(ApiResponse::text(
                StatusCode::OK,
                "text/html; charset=utf-8",
                openapi::DOCS_PAGE,
            )),
            Op::GetTenant => admin::tenant::get(s, req).await,
            Op::ListApps => admin::apps::list(s, req).await,
            Op::CreateApp => admin::apps::create(s, req).await,
            Op::GetApp => admin::apps::get(s, req, p.get("appId")).await,
            Op::UpdateApp => admin::apps::update(s, req, p.get("appId")).await,
            Op::DeleteApp => admin::apps::delete(s, req, p.get("appId")).await,
            Op::Diagnostics => admin::apps::diagnostics(s, req).await,
            Op::ListEvents => admin::events::list(s, req).await,
            Op::GetEvent => admin::events::get(s, req, p.get("eventId")).await,
            Op::ListProducts => admin::products::list(s, req).await,
            Op::CreateProduct => admin::products::create(s, req).await,
            Op::GetProduct => admin::products::get(s, req, p.get("productId")).await,
            Op::UpdateProduct => admin::products::update(s, req, p.get("productId")).await,
            Op::DeleteProduct => admin::products::delete(s, req, p.get("productId")).await,
            Op::ListPlans => admin::plans::list(s, req).await,
            Op::CreatePlan => admin::plans::create(s, req).await,
            Op::GetPlan => admin::plans::get(s, req, p.get("planId")).await,
            Op::UpdatePlan => admin::plans::update(s, req, p.get("planId")).await,
            Op::DeletePlan => admin::plans::delete(s, req, p.get("planId")).await,
            Op::ListPriceMappings => admin::price_mappings::list(s, req).await,
            Op::CreatePriceMapping => admin::price_mappings::create(s, req).await,
            Op::GetPriceMapping => admin::price_mappings::get(s, req, p.get("id")).await,
            Op::UpdatePriceMapping => admin::price_mappings::update(s, req, p.get("id")).await,
            Op::DeletePriceMapping => admin::price_mappings::delete(s, req, p.get("id")).await,
            Op::ListCurrencies => admin::currencies::list(s, req).await,
            Op::CreateCurrency => admin::currencies::create(s, req).await,
            Op::UpdateCurrency => admin::currencies::update(s, req, p.get("code")).await,
            Op::ListLicenses => admin::licenses::list(s, req).await,
            Op::CreateLicense => admin::licenses::create(s, req).await,
            Op::GetLicense => admin::licenses::get(s, req, p.get("licenseId")).await,
            Op::PatchLicense => admin::licenses::patch(s, req, p.get("licenseId")).await,
            Op::ResendLicenseEmail => {
                admin::licenses::resend_email(s, req, p.get("licenseId")).await
            }
            Op::ImportLicenses => admin::license_import::import(s, req).await,
            Op::ListTenantKeys => admin::tenant_keys::list(s, req).await,
            Op::CreateTenantKey => admin::tenant_keys::create(s, req).await,
            Op::ActivateTenantKey => admin::tenant_keys::activate(s, req, p.get("keyId")).await,
            Op::ListTokens => admin::tokens::list(s, req).await,
            Op::CreateToken => admin::tokens::create(s, req).await,
            Op::DeleteToken => admin::tokens::delete(s, req, p.get("tokenId")).await,
            Op::GetLicenseFile => {
                validate::license_file::admin_file(s, req, p.get("licenseId")).await
            }
            Op::ListSigningKeys => admin::signing_keys::list(s, req).await,
            Op::CreateSigningKey => admin::signing_keys::create(s, req).await,
            Op::ActivateSigningKey => admin::signing_keys::activate(s, req, p.get("kid")).await,
            Op::Dashboard(page) => dashboard::serve(s, page, req, p).await,
            Op::ListWebhookEndpoints => admin::webhook_endpoints::list(s, req).await,
            Op::CreateWebhookEndpoint => admin::webhook_endpoints::create(s, req).await,
            Op::GetWebhookEndpoint => {
                admin::webhook_endpoints::get(s, req, p.get("endpointId")).await
            }
            Op::UpdateWebhookEndpoint => {
                admin::webhook_endpoints::update(s, req, p.get("endpointId")).await
            }
            Op::DeleteWebhookEndpoint => {
                admin::webhook_endpoints::delete(s, req, p.get("endpointId")).await
            }
            Op::RollWebhookEndpointSecret => {
                admin::webhook_endpoints::roll_secret(s, req, p.get("endpointId")).await
            }
            Op::ListWebhookDeliveries => {
                admin::webhook_endpoints::deliveries(s, req, p.get("endpointId")).await
            }
            Op::TestWebhookEndpoint => {
                admin::webhook_endpoints::test(s, req, p.get("endpointId")).await
            }
            Op::RetryWebhookDelivery => {
                admin::webhook_endpoints::retry(s, req, p.get("endpointId"), p.get("deliveryId"))
                    .await
            }
            other => Err(not_served(Function::Admin, other)),
        }
    })
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
        ] {
            assert_eq!(
                find(&Method::POST, path).unwrap().0.function,
                Function::Validate
            );
        }
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
