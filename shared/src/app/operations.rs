//! Every operation of Keyhook's HTTP surface, declared once: its method and path, the Lambda
//! function that serves it, the handler call, what API Gateway needs for it, and its OpenAPI
//! description. Adding a route is adding one row here; everything else is derived from the
//! rows by the `operations!` macro below:
//!
//! - [`Op`] (one variant per row; a dashboard page is `Op::Dashboard(Page)`) and [`Page`]
//!   (with each page's summary and whether it needs a session);
//! - [`ROUTES`], the table the dispatcher matches requests against ([`super::routes`]);
//! - one handler table per function (`webhook_handlers`, ..., `admin_handlers`, `docs_handlers`,
//!   `pages_handlers`), each matching only its own rows, so each Lambda binary links only its own handlers
//!   ([`FunctionRoutes`](super::routes::FunctionRoutes));
//! - the OpenAPI document's operations ([`super::openapi`] calls the generated `describe`);
//! - the routes the SAM template must declare ([`gateway_routes`](super::routes::gateway_routes),
//!   checked by `tests/template.rs`): the rows of the `gateway OwnRoute` functions get their
//!   own, the rows of the `gateway Default` one (admin) reach it through `$default`, and the
//!   pages (`gateway Prefix`) through a greedy route per first path segment.
//!
//! A function's rows are grouped under `function Name: its_handlers, gateway OwnRoute|Default`;
//! the pages under `pages their_dispatch in Function: its_handlers, gateway Prefix`.
//! A row reads `Op: METHOD "/path" [flags] => handler call, description;`. The flags are
//! `cross_origin` (CORS: browsers may call it from any origin), `idempotent` (accepts
//! `Idempotency-Key`) and `shared_webhook_body` (the shared Stripe URLs' 64 KiB body limit). A
//! dashboard page reads `Page: METHOD "/path", Public|Session => call, summary;`.
//!
//! Why a `macro_rules!` and not a crate: the handler-level OpenAPI crates (utoipa, aide) bring
//! their own schema model or a `schemars` other than ours (aide 0.15 is on schemars 0.9, utoipa
//! has `ToSchema`), so the published document would change and every type would need a second
//! derive; and axum's router behind `lambda_http` would replace the dispatcher's own matching
//! (the most specific template, `HEAD` by `GET`, 405 with `Allow` from the whole table, the
//! body limits) and grow every binary, while each function still needs the other functions'
//! paths to answer them. One small macro keeps the document byte for byte, the handlers as
//! they are, and a compile error for a row missing any part.

use http::{header, HeaderValue, Method, StatusCode};
use serde_json::Value;

use super::openapi::{self, Auth, Auth::*, Gen, Health, Operation, Operation as O};
use super::routes::{not_served, Function, Gateway, Params, Route};
use crate::domain::Currency;
use crate::handlers::admin::{
    self, apps, currencies, events, license_import, licenses, payment_links, plans,
    portal_settings, price_mappings, products, tenant, tenant_keys, tokens,
    webhook_endpoints as whe,
};
use crate::handlers::validate::answer::SignedAnswer;
use crate::handlers::validate::input as validate_input;
use crate::handlers::validate::license_file::LicenseFileView;
use crate::handlers::validate::signing_key::{KeySetView, PublicKeyView, SigningKeyView};
use crate::handlers::webhook::Receipt;
use crate::handlers::{checkout, validate, webhook};
use crate::http::input::ListBody;
use crate::http::{ApiRequest, ApiResponse};
use crate::{dashboard, portal};
use crate::{Result, Services};

/// Derives everything listed in the module doc from the rows. The idents in the first two
/// lines name, for the rows' expressions, the services, the request and the path parameters
/// (handler calls) and the schema generator (descriptions).
macro_rules! operations {
    (
        handlers($s:ident, $req:ident, $p:ident);
        describe($g:ident);
        $(
            function $function:ident: $handlers:ident, gateway $gateway:ident {
                $(
                    $(#[$odoc:meta])*
                    $op:ident: $method:ident $path:literal $([$($flag:ident),+])?
                        => $call:expr,
                        $describe:expr;
                )+
            }
        )+
        pages $pages_fn:ident in $pfunction:ident: $phandlers:ident, gateway $pgateway:ident {
            $(
                $page:ident: $pmethod:ident $ppath:literal, $auth:ident
                    => $pcall:expr,
                    $summary:literal;
            )+
        }
    ) => {
        /// What a route does: one variant per API row of [`ROUTES`], and `Dashboard` with the
        /// page for the dashboard's rows.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Op {
            $($( $(#[$odoc])* $op, )+)+
            /// A page (or form post) of the merchant dashboard.
            Dashboard(Page),
        }

        /// One dashboard route: a page or a form post (the route table's `Op::Dashboard`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Page {
            $( $page, )+
        }

        impl Page {
            /// What the route does (the document leaves pages out: this is their description).
            pub fn summary(self) -> &'static str {
                match self {
                    $( Page::$page => $summary, )+
                }
            }

            /// Who may load it: `Public` or `Session` (a signed-in member).
            pub fn auth(self) -> Auth {
                match self {
                    $( Page::$page => $auth, )+
                }
            }

            /// Its path template.
            pub fn path(self) -> &'static str {
                match self {
                    $( Page::$page => $ppath, )+
                }
            }

            /// Pages anyone may load (everything else needs a session).
            pub fn is_public(self) -> bool {
                matches!(self.auth(), Auth::Public)
            }
        }

        /// Every route of the HTTP API.
        pub static ROUTES: &[Route] = &[
            $($(
                Route::new(Method::$method, $path, Function::$function, Op::$op, Gateway::$gateway)
                    $($(.$flag())+)?,
            )+)+
            $(
                Route::new(Method::$pmethod, $ppath, Function::$pfunction, Op::Dashboard(Page::$page), Gateway::$pgateway),
            )+
        ];

        $(
            /// The handlers of one function's rows: the match names only them, so a binary
            /// serving this function links no other function's handlers.
            #[allow(unused_variables)] // the docs function's rows use no services
            pub(super) fn $handlers<'a>(
                $s: &'a Services,
                op: Op,
                $req: &'a ApiRequest,
                $p: &'a Params,
            ) -> futures::future::BoxFuture<'a, Result<ApiResponse>> {
                Box::pin(async move {
                    match op {
                        $( Op::$op => $call.await, )+
                        #[allow(unreachable_patterns)]
                        other => Err(not_served(Function::$function, other)),
                    }
                })
            }
        )+

        /// The handlers of the pages' function: its rows are the pages, nothing else.
        pub(super) fn $phandlers<'a>(
            services: &'a Services,
            op: Op,
            req: &'a ApiRequest,
            params: &'a Params,
        ) -> futures::future::BoxFuture<'a, Result<ApiResponse>> {
            match op {
                Op::Dashboard(page) => $pages_fn(services, page, req, params),
                other => Box::pin(async move { Err(not_served(Function::$pfunction, other)) }),
            }
        }

        /// Serves one dashboard or portal route. Errors become pages (`dashboard::error_page`,
        /// `portal::error_page` for `/portal/` routes): not signed in -> the sign-in page,
        /// others an error page with the error's status.
        ///
        /// A boxed future of a named type: pages call the dispatcher in-process (the admin API,
        /// the webhook), and the dispatcher calls this, so the future type must not contain
        /// itself.
        fn $pages_fn<'a>(
            $s: &'a Services,
            page: Page,
            $req: &'a ApiRequest,
            $p: &'a Params,
        ) -> futures::future::BoxFuture<'a, Result<ApiResponse>> {
            Box::pin(async move {
                let result = match page {
                    $( Page::$page => $pcall.await, )+
                };
                Ok(result.unwrap_or_else(|e| {
                    if page.path().starts_with("/portal/") {
                        portal::error_page($s, $req, &e)
                    } else {
                        dashboard::error_page($s, $req, &e)
                    }
                }))
            })
        }

        /// Describes one operation for the OpenAPI document; `None` for the dashboard's
        /// routes, which the document leaves out (pages for people: docs/dashboard.md).
        pub(super) fn describe($g: &mut Gen, op: Op) -> Option<Operation> {
            match op {
                $($( Op::$op => Some($describe), )+)+
                Op::Dashboard(_) => None,
            }
        }
    };
}

operations! {
    handlers(s, req, p);
    describe(g);

    // The webhook function: Stripe's events.
    function Webhook: webhook_handlers, gateway OwnRoute {
        StripeWebhook: POST "/api/stripe/webhook" [shared_webhook_body]
            => webhook::receive(s, req, None),
            stripe_event(g, "Receive a Stripe event (any tenant's app, matched by signature; `?tenantId=` or `?teamId=` narrows)")
                .query(&[("tenantId", "Only this tenant's apps."), ("teamId", "Alias of tenantId (Lukittu).")])
                .shared_webhook_errors();
        StripeWebhookForApp: POST "/api/stripe/webhook/{appId}"
            => webhook::receive(s, req, Some(p.get("appId"))),
            stripe_event(g, "Receive a Stripe event for one app");
        /// Lukittu's webhook URL shape, served as the shared webhook URL.
        LukittuStripeWebhook: POST "/api/v1/integrations/stripe" [shared_webhook_body]
            => webhook::receive(s, req, None),
            stripe_event(g, "Receive a Stripe event at Lukittu's webhook URL shape (an alias of `POST /api/stripe/webhook`: matched by signature; `?teamId=` or `?tenantId=` narrows to one tenant). A merchant moving from Lukittu changes only the host of the Stripe endpoint.")
                .query(&[("teamId", "Only this tenant's apps (Lukittu's parameter)."), ("tenantId", "Same as teamId.")])
                .shared_webhook_errors();
    }
    // The checkout function: Stripe Checkout sessions for a product.
    function Checkout: checkout_handlers, gateway OwnRoute {
        CreateCheckoutSession: POST "/api/stripe/checkout/session" [idempotent]
            => checkout::create(s, req),
            O::new(
                "Create a Stripe Checkout session for a product (one-time, or subscription through a price mapping) and redirect the buyer to `url`. An `Idempotency-Key` header makes retries return the same session.",
                "checkout",
                Token,
            )
            .body_requiring::<checkout::CheckoutInput>(g, checkout::request::REQUIRED)
            .created::<checkout::CheckoutSessionView>(g)
            .error(422, "A field is invalid, or Stripe refused the request (`validation_failed`, with `field`; Stripe's parameter as `stripe.<param>`).")
            .error(404, "The product, plan, price mapping or app named does not exist (`not_found`).")
            .error(409, "The tenant's state cannot serve it: archived or free product, inactive app or currency, no price in the currency, mapping of another product or app, several mappings (`conflict`).")
            .error(502, "Stripe is unreachable, timed out, kept failing, or refused the app's secret key (`upstream_unavailable`); retry.");
        GetCheckoutSession: GET "/api/stripe/checkout/sessions/{sessionId}"
            => checkout::get(s, req, p.get("sessionId")),
            O::new("A checkout session Keyhook created, with the purchase its webhook recorded", "checkout", Token)
                .ok::<checkout::CheckoutSessionDetail>(g);
    }
    // The validate function: the public routes client apps call (own throttle, CORS).
    function Validate: validate_handlers, gateway OwnRoute {
        ValidateLicense: POST "/api/licenses/validate" [cross_origin]
            => validate::validate(s, req),
            O::new(
                "Check a key (or, without licenseKey, start or report a device's trial); 200 for every well-formed request",
                "validation",
                Public,
            )
            .body_requiring::<validate_input::Body>(g, validate_input::VALIDATE_REQUIRED)
            .ok::<SignedAnswer>(g)
            .error(429, "Too many requests (`rate_limited`).");
        ActivateLicense: POST "/api/licenses/activate" [cross_origin]
            => validate::activate(s, req),
            O::new("Activate a device on a license", "validation", Public)
                .body_requiring::<validate_input::Body>(g, validate_input::ACTIVATE_REQUIRED)
                .ok::<SignedAnswer>(g)
                .error(429, "Too much activation churn (`rate_limited`).");
        DeactivateLicense: POST "/api/licenses/deactivate" [cross_origin]
            => validate::deactivate(s, req),
            O::new("Free a device of a license", "validation", Public)
                .body_requiring::<validate_input::Body>(g, validate_input::ACTIVATE_REQUIRED)
                .ok::<SignedAnswer>(g)
                .error(429, "Too much activation churn (`rate_limited`).");
        GetSigningKey: GET "/api/tenants/{tenantId}/signing-key" [cross_origin]
            => validate::signing_key(s, req, p.get("tenantId")),
            O::new("A tenant's active public key (see signing-keys for the whole set)", "validation", Public)
                .ok::<SigningKeyView>(g);
        GetSigningKeys: GET "/api/tenants/{tenantId}/signing-keys" [cross_origin]
            => validate::signing_keys(s, req, p.get("tenantId")),
            O::new("Every public key of a tenant still valid for answers and license files, by kid", "validation", Public)
                .ok::<KeySetView>(g);
        CheckoutLicenseFile: POST "/api/licenses/checkout" [cross_origin]
            => validate::checkout(s, req),
            O::new(
                "Activate a device (like activate) and get a signed license file for offline use; a refusal answers the signed answer (valid: false) without a file",
                "validation",
                Public,
            )
            .body_requiring::<validate_input::Body>(g, validate_input::CHECKOUT_REQUIRED)
            .ok_either::<LicenseFileView, SignedAnswer>(g)
            .error(409, "`ttl` is outside the product's bounds (`conflict`).")
            .error(429, "Too much activation churn (`rate_limited`).");
        TakeLease: POST "/api/licenses/leases" [cross_origin]
            => validate::leases::take(s, req),
            O::new(
                "Take a floating seat (or get the device's own lease back, extended): valid with `lease`, or CONCURRENCY_LIMIT_REACHED with `seats`",
                "floating licenses",
                Public,
            )
            .body_requiring::<validate_input::Body>(g, validate_input::LEASE_REQUIRED)
            .ok::<SignedAnswer>(g)
            .error(409, "The license has no floating seats (no `maxConcurrent`), or the seats are changing too fast (`conflict`).")
            .error(429, "Too many requests from this address (`rate_limited`).");
        HeartbeatLease: POST "/api/licenses/leases/{leaseId}/heartbeat" [cross_origin]
            => validate::leases::heartbeat(s, req, p.get("leaseId")),
            O::new(
                "Extend a lease by the license's leaseSeconds: valid with `lease`, or LEASE_EXPIRED once it lapsed or was released",
                "floating licenses",
                Public,
            )
            .body_requiring::<validate_input::Body>(g, validate_input::HEARTBEAT_REQUIRED)
            .ok::<SignedAnswer>(g)
            .error(409, "The license has no floating seats (`conflict`).")
            .error(429, "Too many requests from this address (`rate_limited`).");
        BorrowLease: POST "/api/licenses/leases/{leaseId}/borrow" [cross_origin]
            => validate::leases::borrow(s, req, p.get("leaseId")),
            O::new(
                "Borrow a lease for offline use: a license file valid until the borrow ends; the seat stays taken until then (a refusal answers the signed answer without a file)",
                "floating licenses",
                Public,
            )
            .body_requiring::<validate_input::Body>(g, validate_input::BORROW_REQUIRED)
            .ok_either::<LicenseFileView, SignedAnswer>(g)
            .error(409, "`seconds` is beyond the license's `maxBorrowSeconds`, or the license has no floating seats (`conflict`).")
            .error(429, "Too many requests from this address (`rate_limited`).");
        ReleaseLease: DELETE "/api/licenses/leases/{leaseId}" [cross_origin]
            => validate::leases::release(s, req, p.get("leaseId")),
            O::new("Give a seat back before its lease lapses", "floating licenses", Public)
                .no_content()
                .error(404, "No live lease has this id (`not_found`).")
                .error(429, "Too many requests from this address (`rate_limited`).");
        RecordUsage: POST "/api/licenses/usage" [cross_origin]
            => validate::usage::record(s, req),
            O::new(
                "Record usage on a meter of the product for the current period: valid with `usage` (what remains), or USAGE_LIMIT_REACHED with the same numbers and nothing recorded; a retry with the same idempotencyKey counts once",
                "usage limits",
                Public,
            )
            .body_requiring::<validate_input::Body>(g, validate_input::USAGE_REQUIRED)
            .ok::<SignedAnswer>(g)
            .error(409, "The product has no meter by this name, or the usage is changing too fast (`conflict`).")
            .error(429, "Too many requests from this address (`rate_limited`).")
            .error(502, "A meter billed through Stripe has 200 reports waiting for an unreachable Stripe (`upstream_unavailable`): nothing recorded; retry later with the same idempotencyKey.");
    }
    // The docs function: the API reference and its renderer, apart from the admin function so
    // that the admin binary does not carry the renderer (its zip stays under 4 MB).
    function Docs: docs_handlers, gateway OwnRoute {
        ApiDocs: GET "/docs"
            => async { Ok(super::docs::page()) },
            O::new("The API reference: this document rendered as an HTML page (RapiDoc, served by Keyhook)", "system", Public);
        ApiDocsAsset: GET "/docs/assets/{asset}"
            => async { super::docs::serve(req, p.get("asset")) },
            O::new("The API reference's renderer (`rapidoc-<version>.js`, gzip-compressed; cached for a year)", "system", Public)
                .error(400, "The request does not accept gzip (`gzip_required`): send `Accept-Encoding: gzip`.");
    }
    // The admin function: the admin API and the document; API Gateway sends it every request
    // no other route takes (`$default`: its own rows, and unknown paths, answered 404).
    function Admin: admin_handlers, gateway Default {
        Health: GET "/health"
            => health(),
            O::new("Liveness check", "system", Public).ok::<Health>(g);
        OpenApi: GET "/openapi.json"
            => openapi_document(req),
            O::new("This OpenAPI document", "system", Public).ok::<Value>(g);
        GetTenant: GET "/api/tenant"
            => admin::tenant::get(s, req),
            O::new("The token's tenant", "tenant", Token).ok::<tenant::TenantView>(g);
        GetPortalSettings: GET "/api/portal-settings"
            => admin::portal_settings::get(s, req),
            O::new("The customer portal's settings (where the tenant's buyers free devices and find their keys)", "customer portal", Token)
                .ok::<portal_settings::PortalSettingsView>(g);
        UpdatePortalSettings: PUT "/api/portal-settings"
            => admin::portal_settings::update(s, req),
            O::new("Change the customer portal's settings (absent fields keep their value)", "customer portal", Token)
                .body::<portal_settings::PortalSettingsInput>(g)
                .ok::<portal_settings::PortalSettingsView>(g);
        ListApps: GET "/api/stripe/apps"
            => admin::apps::list(s, req),
            O::new("List Stripe apps", "stripe apps", Token).list::<apps::AppView>(g, &[]);
        CreateApp: POST "/api/stripe/apps" [idempotent]
            => admin::apps::create(s, req),
            O::new("Register a Stripe app (secrets are write-only). A `secretKey` without `webhookSigningSecret` connects it: Keyhook checks the key with Stripe and makes the webhook endpoint in the account itself; what it could not do is a failing check (`status` partial).", "stripe apps", Token)
                .body_requiring::<apps::AppInput>(g, apps::CREATE_REQUIRED)
                .error(409, "A key's mode (test/live) is not the app's (`isLive`), or `defaultCurrency` is not an active currency (`conflict`).")
                .error(502, "Stripe could not be reached to connect the key (`upstream_unavailable`); the manual path (with `webhookSigningSecret`) does not call Stripe.")
                .created::<apps::AppView>(g);
        GetApp: GET "/api/stripe/apps/{appId}"
            => admin::apps::get(s, req, p.get("appId")),
            O::new("Get a Stripe app", "stripe apps", Token).ok::<apps::AppView>(g);
        UpdateApp: PUT "/api/stripe/apps/{appId}"
            => admin::apps::update(s, req, p.get("appId")),
            O::new("Update a Stripe app (absent fields keep their value; \"\" removes a secret)", "stripe apps", Token)
                .body::<apps::AppInput>(g)
                .ok::<apps::AppView>(g)
                .error(409, "A key's mode (test/live) is not the app's (`isLive`), or `defaultCurrency` is not an active currency (`conflict`).")
                .error(502, "Stripe could not be reached to reconnect a new `secretKey` (`upstream_unavailable`).");
        RepairApp: POST "/api/stripe/apps/{appId}/repair"
            => admin::apps::repair(s, req, p.get("appId")),
            O::new("Repair the app's webhook endpoint in Stripe through its secret key (its events, enabled, its URL; a new endpoint and signing secret when it is gone) and check the app again", "stripe apps", Token)
                .ok::<apps::AppView>(g)
                .error(409, "The app has no secret key, or Stripe refuses the one it has (`conflict`, field `secretKey`).")
                .error(502, "Stripe could not be reached (`upstream_unavailable`).");
        DeleteApp: DELETE "/api/stripe/apps/{appId}"
            => admin::apps::delete(s, req, p.get("appId")),
            O::new("Delete a Stripe app", "stripe apps", Token).no_content();
        ListStripePrices: GET "/api/stripe/apps/{appId}/prices"
            => admin::payment_links::prices(s, req, p.get("appId")),
            O::new("The Stripe account's active prices (recurring by default), read from Stripe with the app's key, products' names included; at most 300", "stripe apps", Token)
                .query(&[("type@prices", "recurring (default) or one_time.")])
                .ok::<payment_links::StripePriceList>(g)
                .error(404, "The app does not exist (`not_found`).")
                .error(409, "The app has no secret key (`conflict`).")
                .error(422, "`type` is not recurring or one_time, or Stripe refused the request (`validation_failed`).")
                .error(502, "Stripe is unreachable, timed out, kept failing, or refused the app's secret key (`upstream_unavailable`); retry.");
        Diagnostics: GET "/api/stripe/diagnostics"
            => admin::apps::diagnostics(s, req),
            O::new("Each app checked with Stripe now: whether the key is accepted, the webhook endpoint exists, is enabled and sends every needed event, the signing secret is stored and an event verified (results stored on the apps)", "stripe apps", Token).ok::<apps::Diagnostics>(g);
        ListEvents: GET "/api/stripe/events"
            => admin::events::list(s, req),
            O::new("The Stripe event log, newest first", "event log", Token)
                .list::<events::EventView>(g, &[("status@events", "received, verified or failed."), ("type", "A Stripe event type."), ("livemode", "true for live events, false for test-mode ones."), ("source", "webhook (Stripe delivered it) or reconcile (found by `keyhook reconcile`).")]);
        GetEvent: GET "/api/stripe/events/{eventId}"
            => admin::events::get(s, req, p.get("eventId")),
            O::new("One logged Stripe event", "event log", Token).ok::<events::EventView>(g);
        ListProducts: GET "/api/products"
            => admin::products::list(s, req),
            O::new("List products", "products", Token).list::<products::ProductView>(g, &[]);
        CreateProduct: POST "/api/products" [idempotent]
            => admin::products::create(s, req),
            O::new("Create a product", "products", Token)
                .body_requiring::<products::ProductInput>(g, products::CREATE_REQUIRED)
                .created::<products::ProductView>(g)
                .error(409, "`licenseFileTtl` is longer than `licenseFileMaxTtl`, an external id is another product's, two meters share a name, or the product kept changing under other writes while it was saved (`conflict`; a save written meanwhile by someone else is applied again to their product, never over it).");
        GetProduct: GET "/api/products/{productId}"
            => admin::products::get(s, req, p.get("productId")),
            O::new("Get a product", "products", Token).ok::<products::ProductView>(g);
        UpdateProduct: PUT "/api/products/{productId}"
            => admin::products::update(s, req, p.get("productId")),
            O::new("Update a product (absent fields keep their value)", "products", Token)
                .body::<products::ProductInput>(g)
                .ok::<products::ProductView>(g)
                .error(409, "`licenseFileTtl` is longer than `licenseFileMaxTtl`, an external id is another product's, two meters share a name, or the product kept changing under other writes while it was saved (`conflict`; a save written meanwhile by someone else is applied again to their product, never over it).");
        DeleteProduct: DELETE "/api/products/{productId}"
            => admin::products::delete(s, req, p.get("productId")),
            O::new("Delete a product without licenses (archive the others)", "products", Token)
                .no_content()
                .error(409, "The product has licenses (`conflict`); archive it instead.");
        CreatePaymentLink: POST "/api/products/{productId}/payment-link"
            => admin::payment_links::create(s, req, p.get("productId")),
            O::new(
                "Make the product's Stripe Payment Link (a Stripe product, price and link whose metadata issues this product; a subscription when the product has a price mapping for the app) and keep it on the product. A second call returns the same link (`created: false`) unless `replace` is true or the price changed; the old link is then turned off.",
                "products",
                Token,
            )
            .body::<payment_links::PaymentLinkInput>(g)
            .created::<payment_links::PaymentLinkView>(g)
            .error(404, "The product, app or price mapping named does not exist (`not_found`).")
            .error(409, "The product is archived or free, the app is inactive or has no secret key, there is no default app of the mode, the product has several price mappings for the app (`conflict`, with `field`), or it kept changing under other writes while the link was recorded (`conflict`: create it again; the same link comes back).")
            .error(422, "A field is invalid, or Stripe refused a request (`validation_failed`; Stripe's parameter as `stripe.<param>`, Stripe's message).")
            .error(502, "Stripe is unreachable, timed out, kept failing, or refused the app's secret key (`upstream_unavailable`); retry.");
        ListPlans: GET "/api/plans"
            => admin::plans::list(s, req),
            O::new("List plans", "plans", Token).list::<plans::PlanView>(g, &[]);
        CreatePlan: POST "/api/plans" [idempotent]
            => admin::plans::create(s, req),
            O::new("Create a plan", "plans", Token).body_requiring::<plans::PlanInput>(g, plans::CREATE_REQUIRED).created::<plans::PlanView>(g)
                .error(404, "The product named does not exist (`not_found`).");
        GetPlan: GET "/api/plans/{planId}"
            => admin::plans::get(s, req, p.get("planId")),
            O::new("Get a plan", "plans", Token).ok::<plans::PlanView>(g);
        UpdatePlan: PUT "/api/plans/{planId}"
            => admin::plans::update(s, req, p.get("planId")),
            O::new("Update a plan", "plans", Token).body::<plans::PlanInput>(g).ok::<plans::PlanView>(g)
                .error(404, "The plan, or the product named, does not exist (`not_found`).");
        DeletePlan: DELETE "/api/plans/{planId}"
            => admin::plans::delete(s, req, p.get("planId")),
            O::new("Delete a plan", "plans", Token).no_content();
        ListPriceMappings: GET "/api/stripe/price-mappings"
            => admin::price_mappings::list(s, req),
            O::new("List subscription price mappings", "price mappings", Token)
                .list::<price_mappings::PriceMappingView>(g, &[("productId", "Only this product's."), ("appId", "Only this app's.")]);
        CreatePriceMapping: POST "/api/stripe/price-mappings" [idempotent]
            => admin::price_mappings::create(s, req),
            O::new("Map a Stripe recurring price to a product", "price mappings", Token)
                .body_requiring::<price_mappings::PriceMappingInput>(g, price_mappings::CREATE_REQUIRED)
                .created::<price_mappings::PriceMappingView>(g)
                .error(404, "The app or product named does not exist (`not_found`).");
        GetPriceMapping: GET "/api/stripe/price-mappings/{id}"
            => admin::price_mappings::get(s, req, p.get("id")),
            O::new("Get a price mapping", "price mappings", Token).ok::<price_mappings::PriceMappingView>(g);
        UpdatePriceMapping: PUT "/api/stripe/price-mappings/{id}"
            => admin::price_mappings::update(s, req, p.get("id")),
            O::new("Update a price mapping", "price mappings", Token)
                .body::<price_mappings::PriceMappingInput>(g)
                .ok::<price_mappings::PriceMappingView>(g)
                .error(404, "The mapping, or the app or product named, does not exist (`not_found`).");
        DeletePriceMapping: DELETE "/api/stripe/price-mappings/{id}"
            => admin::price_mappings::delete(s, req, p.get("id")),
            O::new("Delete a price mapping", "price mappings", Token).no_content();
        ListCurrencies: GET "/api/currencies"
            => admin::currencies::list(s, req),
            O::new("List currencies (Stripe's, plus the tenant's own)", "currencies", Token)
                .list::<Currency>(g, &[("active", "true for active currencies only.")]);
        CreateCurrency: POST "/api/currencies" [idempotent]
            => admin::currencies::create(s, req),
            O::new("Add a currency code", "currencies", Token)
                .body_requiring::<currencies::CurrencyInput>(g, currencies::CREATE_REQUIRED)
                .created::<Currency>(g)
                .error(409, "The currency exists (`conflict`).");
        UpdateCurrency: PUT "/api/currencies/{code}"
            => admin::currencies::update(s, req, p.get("code")),
            O::new("Activate or deactivate a currency", "currencies", Token)
                .body::<currencies::CurrencyInput>(g)
                .ok::<Currency>(g)
                .error(409, "`code` is not the path's, or `zeroDecimal` of a Stripe currency changes (`conflict`).");
        ListLicenses: GET "/api/licenses"
            => admin::licenses::list(s, req),
            O::new("List licenses, newest first", "licenses", Token).list::<licenses::LicenseView>(
                g,
                &[("productId", "Only this product's."), ("customerEmail", "Only this buyer's."), ("status@licenses", "active, suspended, revoked or expired."), ("livemode", "true for live licenses, false for test-mode ones (licenses without a recorded mode match neither).")],
            );
        CreateLicense: POST "/api/licenses" [idempotent]
            => admin::licenses::create(s, req),
            O::new("Issue a license by hand", "licenses", Token)
                .body_requiring::<licenses::IssueInput>(g, licenses::CREATE_REQUIRED)
                .created::<licenses::LicenseView>(g)
                .error(404, "The product or plan named does not exist (`not_found`).");
        GetLicense: GET "/api/licenses/{licenseId}"
            => admin::licenses::get(s, req, p.get("licenseId")),
            O::new("Get a license (with its key)", "licenses", Token).ok::<licenses::LicenseView>(g);
        PatchLicense: PATCH "/api/licenses/{licenseId}"
            => admin::licenses::patch(s, req, p.get("licenseId")),
            O::new("Suspend, reinstate, revoke; change expiry, limits or customer. Writes only the fields named, conditionally on the license's version (a concurrent activation, refund or subscription change is never undone)", "licenses", Token)
                .body::<licenses::PatchInput>(g)
                .ok::<licenses::LicenseView>(g)
                .error(409, "A revoked license cannot be reinstated, or the license kept changing under the request; retry (`conflict`).");
        GetLicenseActivity: GET "/api/licenses/{licenseId}/activity"
            => admin::licenses::activity(s, req, p.get("licenseId")),
            O::new("A license's activity, newest first: each change (who: customer, merchant, app or stripe; what; when; from which IP), the newest 50", "licenses", Token).ok::<licenses::ActivityView>(g);
        ResendLicenseEmail: POST "/api/licenses/{licenseId}/resend-email"
            => admin::licenses::resend_email(s, req, p.get("licenseId")),
            O::new("Email the license's key again, to its current customerEmail, with the purchase's other keys that this address owns (never others' keys); delivered at least once", "licenses", Token)
                .status::<licenses::ResendView>(g, 202, "Queued")
                .error(409, "The license has no customer email to send to; set one with PATCH first (`conflict`, field `customerEmail`).");
        ImportLicenses: POST "/api/licenses/import" [idempotent]
            => admin::license_import::import(s, req),
            O::new(
                "Import licenses from another licensing service (ExisOne, Lukittu, Keygen; see `keyhook import`) with their original keys: 1 to 1000 per request, idempotent per `externalId` (an id imported before is `unchanged`), each entry failing alone with its reason; `dryRun` says what would be created and writes nothing. Keys are any printable text up to 128 characters: one that reads as a Keyhook key keeps Keyhook's normalisation (one license across Keyhook), any other is matched exactly (trimmed) and belongs to the product it is imported for, so to the tenant (another tenant's license with the same key is neither read nor reported). `productId` is a product id or one of a product's `externalIds`. Nothing is overwritten: a license or external id created while the import ran makes that entry fail. 60 requests a minute per tenant, dry runs included.",
                "licenses",
                Token,
            )
            .body::<license_import::ImportInput>(g)
            .ok::<license_import::ImportReport>(g)
            .error(429, "More than 60 import requests this minute for this tenant (`rate_limited`); `Retry-After` says in how many seconds to retry.");
        ListTenantKeys: GET "/api/tenant-keys"
            => admin::tenant_keys::list(s, req),
            O::new("List the tenant's keys (never their material), oldest first, all in one page (a tenant has few)", "tenant keys", Token)
                .ok::<ListBody<tenant_keys::TenantKeyView>>(g);
        CreateTenantKey: POST "/api/tenant-keys" [idempotent]
            => admin::tenant_keys::create(s, req),
            O::new("Generate a new tenant key (not active yet)", "tenant keys", Token)
                .created::<tenant_keys::TenantKeyView>(g);
        ActivateTenantKey: POST "/api/tenant-keys/{keyId}/activate"
            => admin::tenant_keys::activate(s, req, p.get("keyId")),
            O::new("Activate a key and re-seal every secret under it. Each write is conditional on what the request read: a signing-key rotation or a secret changed meanwhile is kept", "tenant keys", Token)
                .ok::<tenant_keys::Activation>(g)
                .error(409, "The tenant's keys kept changing under the request; retry (`conflict`).");
        ListTokens: GET "/api/tokens"
            => admin::tokens::list(s, req),
            O::new("List API tokens (prefix and name only)", "api tokens", Token).list::<tokens::TokenView>(g, &[]);
        CreateToken: POST "/api/tokens" [idempotent]
            => admin::tokens::create(s, req),
            O::new("Create an API token (shown once)", "api tokens", Token)
                .body_requiring::<tokens::TokenInput>(g, tokens::CREATE_REQUIRED)
                .created::<tokens::TokenView>(g);
        DeleteToken: DELETE "/api/tokens/{tokenId}"
            => admin::tokens::delete(s, req, p.get("tokenId")),
            O::new("Revoke an API token. It stops being accepted within 30 seconds (`KEYHOOK_TOKEN_CACHE_SECONDS`): each server instance reuses a token it has checked for up to that long; the instance that revoked it refuses it at once", "api tokens", Token).no_content()
                .error(409, "This is the token making the request: revoke it with another one (`conflict`).");
        GetLicenseFile: GET "/api/licenses/{licenseId}/file"
            => validate::license_file::admin_file(s, req, p.get("licenseId")),
            O::new("A signed license file for a device already activated on the license", "licenses", Token)
                .ok::<LicenseFileView>(g)
                .query(&[("deviceId", "The device (required)."), ("ttl", "Lifetime in seconds, within the product's bounds."), ("encrypt", "true to encrypt the file to the license key.")])
                .error(409, "The license is not active, the device is not activated on it, or `ttl` is outside the product's bounds (`conflict`).")
                .error(422, "`deviceId` is missing or malformed (`validation_failed`).");
        ListSigningKeys: GET "/api/signing-keys"
            => admin::signing_keys::list(s, req),
            O::new("Every signing key of the tenant (active, next, retired)", "signing keys", Token)
                .ok::<KeySetView>(g);
        CreateSigningKey: POST "/api/signing-keys" [idempotent]
            => admin::signing_keys::create(s, req),
            O::new("Create a signing key (published at once, signing once activated)", "signing keys", Token)
                .created::<PublicKeyView>(g);
        ActivateSigningKey: POST "/api/signing-keys/{kid}/activate"
            => admin::signing_keys::activate(s, req, p.get("kid")),
            O::new("Sign with this key from now on; the previous key is retired and stays published for 366 days", "signing keys", Token)
                .ok::<PublicKeyView>(g)
                .error(409, "The key is retired, or the tenant's keys kept changing under the request; retry (`conflict`).");
        ListWebhookEndpoints: GET "/api/webhook-endpoints"
            => admin::webhook_endpoints::list(s, req),
            O::new("List webhook endpoints (secrets never shown)", "webhook endpoints", Token)
                .list::<whe::EndpointView>(g, &[]);
        CreateWebhookEndpoint: POST "/api/webhook-endpoints" [idempotent]
            => admin::webhook_endpoints::create(s, req),
            O::new(
                "Register an endpoint for Keyhook's events (signed per Standard Webhooks; the `whsec_` secret is in this answer only)",
                "webhook endpoints",
                Token,
            )
            .body_requiring::<whe::EndpointInput>(g, whe::CREATE_REQUIRED)
            .created::<whe::EndpointView>(g)
            .error(409, "The tenant has 20 endpoints already (`conflict`).");
        GetWebhookEndpoint: GET "/api/webhook-endpoints/{endpointId}"
            => admin::webhook_endpoints::get(s, req, p.get("endpointId")),
            O::new("Get a webhook endpoint", "webhook endpoints", Token).ok::<whe::EndpointView>(g);
        UpdateWebhookEndpoint: PUT "/api/webhook-endpoints/{endpointId}"
            => admin::webhook_endpoints::update(s, req, p.get("endpointId")),
            O::new(
                "Update an endpoint (absent fields keep their value; `active: true` re-enables one disabled for failing; `version` makes the update conditional on the version read)",
                "webhook endpoints",
                Token,
            )
            .body::<whe::EndpointUpdate>(g)
            .ok::<whe::EndpointView>(g)
            .error(409, "The endpoint changed since the `version` given, or its state changed while an update setting `active` was applied (`conflict`): read it again.");
        DeleteWebhookEndpoint: DELETE "/api/webhook-endpoints/{endpointId}"
            => admin::webhook_endpoints::delete(s, req, p.get("endpointId")),
            O::new("Delete a webhook endpoint (its pending deliveries are dropped)", "webhook endpoints", Token).no_content();
        RollWebhookEndpointSecret: POST "/api/webhook-endpoints/{endpointId}/roll-secret"
            => admin::webhook_endpoints::roll_secret(s, req, p.get("endpointId")),
            O::new(
                "Roll the signing secret: the new one is in this answer only; the previous one keeps signing, alongside, for 24 hours",
                "webhook endpoints",
                Token,
            )
            .ok::<whe::EndpointView>(g);
        ListWebhookDeliveries: GET "/api/webhook-endpoints/{endpointId}/deliveries"
            => admin::webhook_endpoints::deliveries(s, req, p.get("endpointId")),
            O::new("The endpoint's delivery log, newest first (attempts, status codes, latency, next attempt)", "webhook endpoints", Token)
                .list::<whe::DeliveryView>(g, &[("status@deliveries", "pending, succeeded or failed.")]);
        TestWebhookEndpoint: POST "/api/webhook-endpoints/{endpointId}/test"
            => admin::webhook_endpoints::test(s, req, p.get("endpointId")),
            O::new("Queue a `webhook.test` event to this endpoint (one attempt, no retries)", "webhook endpoints", Token)
                .status::<whe::DeliveryView>(g, 202, "Queued")
                .error(409, "The endpoint is not active (`conflict`).")
                .error(429, "The endpoint was sent 10 test events in this 15-minute window (`rate_limited`).");
        RetryWebhookDelivery: POST "/api/webhook-endpoints/{endpointId}/deliveries/{deliveryId}/retry"
            => admin::webhook_endpoints::retry(s, req, p.get("endpointId"), p.get("deliveryId")),
            O::new("Attempt a delivery again now (queued)", "webhook endpoints", Token)
                .status::<whe::DeliveryView>(g, 202, "Queued")
                .error(409, "The endpoint is not active, or an attempt is in progress (`conflict`).");
    }
    // The pages function: the merchant dashboard (`dashboard`) and the customer portal
    // (`portal`), HTML pages, their assets and their form posts, answered as pages (errors
    // too); `Public` pages need no session, `Session` pages a dashboard session, `Portal` pages
    // a buyer's portal session. A function of its own so that the admin binary does not link
    // the pages' templates and code (its zip stays under 4 MiB); API Gateway reaches it through
    // one greedy route per first path segment (`Gateway::Prefix`).
    pages dashboard_pages in Pages: pages_handlers, gateway Prefix {
        Overview: GET "/dashboard", Session
            => dashboard::overview::page(s, req),
            "Dashboard: the setup checklist, recent events and licenses";
        SignInPage: GET "/dashboard/sign-in", Public
            => dashboard::sign_in::page(s, req),
            "Dashboard: the sign-in page (email link or API token)";
        SignIn: POST "/dashboard/sign-in", Public
            => dashboard::sign_in::submit(s, req),
            "Dashboard: email a one-time sign-in link, or sign in with an API token";
        SignInLink: GET "/dashboard/sign-in/link", Public
            => dashboard::sign_in::link_page(s, req),
            "Dashboard: a one-time sign-in link's page (`?token=`): the address's accounts, each with a Sign in button; opening it uses nothing up";
        UseSignInLink: POST "/dashboard/sign-in/link", Public
            => dashboard::sign_in::use_link(s, req),
            "Dashboard: sign in with a one-time link (its page's button): uses the link up, starts a session in the chosen account";
        SignOut: POST "/dashboard/sign-out", Session
            => dashboard::sign_in::sign_out(s, req),
            "Dashboard: sign out (revokes the session)";
        SignUpPage: GET "/dashboard/sign-up", Public
            => dashboard::sign_in::sign_up_page(s, req),
            "Dashboard: the self-service sign-up page (when the operator enables it)";
        SignUp: POST "/dashboard/sign-up", Public
            => dashboard::sign_in::sign_up(s, req),
            "Dashboard: create a tenant and email its owner a sign-in link";
        Asset: GET "/dashboard/assets/{asset}", Public
            => async { dashboard::assets::serve(p.get("asset")) },
            "Dashboard: its stylesheet and script";
        Apps: GET "/dashboard/apps", Session
            => dashboard::apps::list(s, req),
            "Dashboard: Stripe apps, webhook setup, diagnostics, price mappings, currencies and the event log";
        Integrate: GET "/dashboard/integrate", Session
            => dashboard::integrate::page(s, req),
            "Dashboard: what to paste into Stripe and into the app (webhook URLs and events, product metadata, a Checkout Session call, client snippets with the tenant's public keys)";
        NewApp: GET "/dashboard/apps/new", Session
            => dashboard::apps::new(s, req),
            "Dashboard: the form to add a Stripe app";
        CreateApp: POST "/dashboard/apps", Session
            => dashboard::apps::create(s, req),
            "Dashboard: add a Stripe app";
        AppPage: GET "/dashboard/apps/{appId}", Session
            => dashboard::apps::edit(s, req, p.get("appId")),
            "Dashboard: a Stripe app's form";
        UpdateApp: POST "/dashboard/apps/{appId}", Session
            => dashboard::apps::update(s, req, p.get("appId")),
            "Dashboard: save or delete a Stripe app";
        CreatePriceMapping: POST "/dashboard/price-mappings", Session
            => dashboard::apps::create_price_mapping(s, req),
            "Dashboard: add a subscription price mapping";
        UpdatePriceMapping: POST "/dashboard/price-mappings/{id}", Session
            => dashboard::apps::delete_price_mapping(s, req, p.get("id")),
            "Dashboard: delete a subscription price mapping";
        CreateCurrency: POST "/dashboard/currencies", Session
            => dashboard::apps::create_currency(s, req),
            "Dashboard: add a currency code";
        UpdateCurrency: POST "/dashboard/currencies/{code}", Session
            => dashboard::apps::update_currency(s, req, p.get("code")),
            "Dashboard: activate or deactivate a currency";
        Event: GET "/dashboard/events/{eventId}", Session
            => dashboard::apps::event(s, req, p.get("eventId")),
            "Dashboard: one Stripe event, what it issued and its emails";
        Products: GET "/dashboard/products", Session
            => dashboard::products::list(s, req),
            "Dashboard: products";
        NewProduct: GET "/dashboard/products/new", Session
            => dashboard::products::new(s, req),
            "Dashboard: the form to create a product";
        CreateProduct: POST "/dashboard/products", Session
            => dashboard::products::create(s, req),
            "Dashboard: create a product";
        ProductPage: GET "/dashboard/products/{productId}", Session
            => dashboard::products::edit(s, req, p.get("productId")),
            "Dashboard: a product's form, email template and plans";
        UpdateProduct: POST "/dashboard/products/{productId}", Session
            => dashboard::products::update(s, req, p.get("productId")),
            "Dashboard: save or delete a product";
        CreatePaymentLink: POST "/dashboard/products/{productId}/payment-link", Session
            => dashboard::payment_links::create(s, req, p.get("productId")),
            "Dashboard: make (or show again) the product's Stripe Payment Link";
        EmailPreview: POST "/dashboard/email-preview", Session
            => dashboard::products::preview(s, req),
            "Dashboard: preview an email template with sample values";
        CreatePlan: POST "/dashboard/plans", Session
            => dashboard::products::create_plan(s, req),
            "Dashboard: add a plan to a product";
        UpdatePlan: POST "/dashboard/plans/{planId}", Session
            => dashboard::products::delete_plan(s, req, p.get("planId")),
            "Dashboard: delete a plan";
        Licenses: GET "/dashboard/licenses", Session
            => dashboard::licenses::list(s, req),
            "Dashboard: search licenses";
        NewLicense: GET "/dashboard/licenses/new", Session
            => dashboard::licenses::new(s, req),
            "Dashboard: the form to issue a license by hand";
        CreateLicense: POST "/dashboard/licenses", Session
            => dashboard::licenses::create(s, req),
            "Dashboard: issue a license by hand";
        LicensePage: GET "/dashboard/licenses/{licenseId}", Session
            => dashboard::licenses::show_page(s, req, p.get("licenseId")),
            "Dashboard: a license, its devices, IPs and email";
        UpdateLicense: POST "/dashboard/licenses/{licenseId}", Session
            => dashboard::licenses::update(s, req, p.get("licenseId")),
            "Dashboard: suspend, reinstate, revoke, edit, resend, free a device";
        RevealKey: POST "/dashboard/licenses/{licenseId}/key", Session
            => dashboard::licenses::reveal(s, req, p.get("licenseId")),
            "Dashboard: show a license's key";
        CustomerView: GET "/dashboard/licenses/{licenseId}/customer-view", Session
            => portal::licenses::customer_view(s, req, p.get("licenseId")),
            "Dashboard: the license as its buyer sees it in the customer portal (read-only)";
        TestPurchase: GET "/dashboard/test-purchase", Session
            => dashboard::test_purchase::page(s, req),
            "Dashboard: the test purchase form";
        RunTestPurchase: POST "/dashboard/test-purchase", Session
            => dashboard::test_purchase::run(s, req),
            "Dashboard: send a signed test event through the webhook";
        Settings: GET "/dashboard/settings", Session
            => dashboard::settings::page(s, req),
            "Dashboard: tenant keys, API tokens, team, tenant id and signing key";
        CreateTenantKey: POST "/dashboard/settings/tenant-keys", Session
            => dashboard::settings::create_tenant_key(s, req),
            "Dashboard: generate a tenant key";
        ActivateTenantKey: POST "/dashboard/settings/tenant-keys/{keyId}", Session
            => dashboard::settings::activate_tenant_key(s, req, p.get("keyId")),
            "Dashboard: activate a tenant key (re-seals every secret)";
        CreateToken: POST "/dashboard/settings/tokens", Session
            => dashboard::settings::create_token(s, req),
            "Dashboard: create an API token (shown once)";
        RevokeToken: POST "/dashboard/settings/tokens/{tokenId}", Session
            => dashboard::settings::revoke_token(s, req, p.get("tokenId")),
            "Dashboard: revoke an API token";
        InviteMember: POST "/dashboard/settings/members", Session
            => dashboard::settings::invite(s, req),
            "Dashboard: invite a team member by email";
        UpdateMember: POST "/dashboard/settings/members/{memberId}", Session
            => dashboard::settings::update_member(s, req, p.get("memberId")),
            "Dashboard: change a member's role or remove them";
        UpdatePortalSettings: POST "/dashboard/settings/portal", Session
            => dashboard::settings::update_portal(s, req),
            "Dashboard: change the customer portal's settings";
        CreateSigningKey: POST "/dashboard/settings/signing-keys", Session
            => dashboard::settings::create_signing_key(s, req),
            "Dashboard: create the next signing key (published, not signing yet)";
        ActivateSigningKey: POST "/dashboard/settings/signing-keys/{kid}", Session
            => dashboard::settings::activate_signing_key(s, req, p.get("kid")),
            "Dashboard: activate a signing key (asks for confirmation first)";
        Webhooks: GET "/dashboard/webhooks", Session
            => dashboard::webhooks::list(s, req),
            "Dashboard: outgoing webhook endpoints, and the form to add one";
        CreateWebhookEndpoint: POST "/dashboard/webhooks", Session
            => dashboard::webhooks::create(s, req),
            "Dashboard: add a webhook endpoint (its secret shown once)";
        WebhookEndpointPage: GET "/dashboard/webhooks/{endpointId}", Session
            => dashboard::webhooks::edit(s, req, p.get("endpointId")),
            "Dashboard: a webhook endpoint's settings and delivery log";
        UpdateWebhookEndpoint: POST "/dashboard/webhooks/{endpointId}", Session
            => dashboard::webhooks::update(s, req, p.get("endpointId")),
            "Dashboard: save, test, roll the secret of, or delete a webhook endpoint";
        RetryWebhookDelivery: POST "/dashboard/webhooks/{endpointId}/deliveries/{deliveryId}", Session
            => dashboard::webhooks::retry(s, req, p.get("endpointId"), p.get("deliveryId")),
            "Dashboard: retry a webhook delivery now";
        PortalSignInPage: GET "/portal/{tenantId}", Public
            => portal::sign_in::page(s, req, p.get("tenantId")),
            "Customer portal: the merchant's branded sign-in page (the buyer's licenses when signed in)";
        PortalSignIn: POST "/portal/{tenantId}/sign-in", Public
            => portal::sign_in::submit(s, req, p.get("tenantId")),
            "Customer portal: email a one-time sign-in link to an address that owns licenses of the tenant (the same answer for any address)";
        PortalLinkPage: GET "/portal/{tenantId}/link", Public
            => portal::sign_in::link_page(s, req, p.get("tenantId")),
            "Customer portal: a one-time sign-in link's page (`?token=`), with the button that uses it; opening it uses nothing up";
        PortalUseLink: POST "/portal/{tenantId}/link", Public
            => portal::sign_in::use_link(s, req, p.get("tenantId")),
            "Customer portal: sign in with a one-time link (its page's button): uses the link up, sets the portal session cookie";
        PortalSignOut: POST "/portal/{tenantId}/sign-out", Portal
            => portal::sign_in::sign_out(s, req, p.get("tenantId")),
            "Customer portal: sign out (revokes the session)";
        PortalLicenses: GET "/portal/{tenantId}/licenses", Portal
            => portal::licenses::list(s, req, p.get("tenantId")),
            "Customer portal: the buyer's licenses with this merchant";
        PortalLicense: GET "/portal/{tenantId}/licenses/{licenseId}", Portal
            => portal::licenses::show(s, req, p.get("tenantId"), p.get("licenseId")),
            "Customer portal: one of the buyer's licenses, its devices and actions";
        PortalLicenseAction: POST "/portal/{tenantId}/licenses/{licenseId}", Portal
            => portal::licenses::act(s, req, p.get("tenantId"), p.get("licenseId")),
            "Customer portal: free a device, download a license file, email the key again, open Stripe's billing portal";
        PortalRevealKey: POST "/portal/{tenantId}/licenses/{licenseId}/key", Portal
            => portal::licenses::reveal(s, req, p.get("tenantId"), p.get("licenseId")),
            "Customer portal: show the license's key";
        PortalChangeEmail: POST "/portal/{tenantId}/email", Portal
            => portal::contact::request(s, req, p.get("tenantId")),
            "Customer portal: change the buyer's address (a confirmation link goes to the new one; nothing changes until it is used)";
        PortalEmailChangePage: GET "/portal/{tenantId}/email-change", Public
            => portal::contact::confirm_page(s, req, p.get("tenantId")),
            "Customer portal: an address change's confirmation link (`?token=`), with the button that confirms it; opening it changes nothing";
        PortalConfirmEmailChange: POST "/portal/{tenantId}/email-change", Public
            => portal::contact::confirm(s, req, p.get("tenantId")),
            "Customer portal: confirm an address change (its page's button): the buyer's licenses with the tenant move to the new address, which is signed in";
        Import: GET "/dashboard/import", Session
            => dashboard::import::page(s, req),
            "Dashboard: the form to import an ExisOne, Lukittu or Keygen export";
        RunImport: POST "/dashboard/import", Session
            => dashboard::import::run(s, req),
            "Dashboard: import an export (dry run or for real), with per-license results";
    }
}

/// `GET /health`.
async fn health() -> Result<ApiResponse> {
    Ok(ApiResponse::ok(&Health {
        status: "ok".into(),
    }))
}

/// `GET /openapi.json`: the published document, gzip-compressed for clients that take it
/// (every browser, `curl --compressed`), else as is.
async fn openapi_document(req: &ApiRequest) -> Result<ApiResponse> {
    let vary = |res: ApiResponse| {
        res.with_header(header::VARY, HeaderValue::from_static("Accept-Encoding"))
    };
    if req.accepts_gzip() {
        return Ok(vary(ApiResponse::text(
            StatusCode::OK,
            "application/json",
            openapi::PUBLISHED_GZIP,
        ))
        .with_header(header::CONTENT_ENCODING, HeaderValue::from_static("gzip")));
    }
    Ok(vary(ApiResponse::text(
        StatusCode::OK,
        "application/json",
        openapi::PUBLISHED,
    )))
}

/// A Stripe event received (any of the webhook URLs): the event as Stripe signs it, answered
/// with a receipt.
fn stripe_event(g: &mut Gen, summary: &'static str) -> Operation {
    O::new(summary, "stripe webhooks", Stripe)
        .body::<Value>(g)
        .ok::<Receipt>(g)
        .error(400, "Signature missing, malformed, stale, or matching no app (`invalid_signature`, `no_app_matched_signature`, `invalid_payload`).")
}
