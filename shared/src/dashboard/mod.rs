//! The merchant dashboard: server-rendered pages under `/dashboard`, served by the admin
//! function from the same route table as the API.
//!
//! The pages are another edge over the admin API, not a second implementation of it: every
//! read and write a page makes is an in-process call of the admin handlers ([`api`]) as the
//! signed-in member's tenant, so validation, rules and tenant isolation are exactly the API's.
//! What lives here is only what a browser needs: pages before sign-in ([`public`]), sign-in by
//! one-time emailed link ([`link`], [`sign_in`]) or an API token, sessions in DynamoDB with
//! CSRF tokens ([`session`]), team members and roles ([`team`]), forms turned into API bodies and API errors shown at their field ([`form`]),
//! templates ([`render`]) and a small script for progressive enhancement (`assets/`).

pub mod api;
pub mod apps;
pub mod assets;
pub mod form;
pub mod import;
pub mod licenses;
pub mod link;
pub mod mail;
pub mod overview;
pub mod products;
pub mod public;
pub mod render;
pub mod session;
pub mod settings;
pub mod sign_in;
pub mod team;
pub mod test_purchase;
pub mod web;
pub mod webhooks;

use http::{Method, StatusCode};

use crate::http::Params;
use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result, Services};

/// One dashboard route (the route table's `Op::Dashboard`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    SignInPage,
    SignIn,
    SignInLink,
    UseSignInLink,
    SignOut,
    SignUpPage,
    SignUp,
    Asset,
    Overview,
    Apps,
    NewApp,
    CreateApp,
    AppPage,
    UpdateApp,
    CreatePriceMapping,
    UpdatePriceMapping,
    CreateCurrency,
    UpdateCurrency,
    Event,
    Products,
    NewProduct,
    CreateProduct,
    ProductPage,
    UpdateProduct,
    EmailPreview,
    CreatePlan,
    UpdatePlan,
    Licenses,
    NewLicense,
    CreateLicense,
    LicensePage,
    UpdateLicense,
    RevealKey,
    TestPurchase,
    RunTestPurchase,
    Settings,
    CreateTenantKey,
    ActivateTenantKey,
    CreateToken,
    RevokeToken,
    InviteMember,
    UpdateMember,
    CreateSigningKey,
    ActivateSigningKey,
    Webhooks,
    CreateWebhookEndpoint,
    WebhookEndpointPage,
    UpdateWebhookEndpoint,
    RetryWebhookDelivery,
    Import,
    RunImport,
}

impl Page {
    /// What the route does, for the OpenAPI document.
    pub fn summary(self) -> &'static str {
        use Page::*;
        match self {
            SignInPage => "Dashboard: the sign-in page (email link or API token)",
            SignIn => "Dashboard: email a one-time sign-in link, or sign in with an API token",
            SignInLink => "Dashboard: a one-time sign-in link's page (`?token=`): the address's accounts, each with a Sign in button; opening it uses nothing up",
            UseSignInLink => "Dashboard: sign in with a one-time link (its page's button): uses the link up, starts a session in the chosen account",
            SignOut => "Dashboard: sign out (revokes the session)",
            SignUpPage => "Dashboard: the self-service sign-up page (when the operator enables it)",
            SignUp => "Dashboard: create a tenant and email its owner a sign-in link",
            Asset => "Dashboard: its stylesheet and script",
            Overview => "Dashboard: the setup checklist, recent events and licenses",
            Apps => "Dashboard: Stripe apps, webhook setup, diagnostics, price mappings, currencies and the event log",
            NewApp => "Dashboard: the form to add a Stripe app",
            CreateApp => "Dashboard: add a Stripe app",
            AppPage => "Dashboard: a Stripe app's form",
            UpdateApp => "Dashboard: save or delete a Stripe app",
            CreatePriceMapping => "Dashboard: add a subscription price mapping",
            UpdatePriceMapping => "Dashboard: delete a subscription price mapping",
            CreateCurrency => "Dashboard: add a currency code",
            UpdateCurrency => "Dashboard: activate or deactivate a currency",
            Event => "Dashboard: one Stripe event, what it issued and its emails",
            Products => "Dashboard: products",
            NewProduct => "Dashboard: the form to create a product",
            CreateProduct => "Dashboard: create a product",
            ProductPage => "Dashboard: a product's form, email template and plans",
            UpdateProduct => "Dashboard: save or delete a product",
            EmailPreview => "Dashboard: preview an email template with sample values",
            CreatePlan => "Dashboard: add a plan to a product",
            UpdatePlan => "Dashboard: delete a plan",
            Licenses => "Dashboard: search licenses",
            NewLicense => "Dashboard: the form to issue a license by hand",
            CreateLicense => "Dashboard: issue a license by hand",
            LicensePage => "Dashboard: a license, its devices, IPs and email",
            UpdateLicense => "Dashboard: suspend, reinstate, revoke, edit, resend, free a device",
            RevealKey => "Dashboard: show a license's key",
            TestPurchase => "Dashboard: the test purchase form",
            RunTestPurchase => "Dashboard: send a signed test event through the webhook",
            Settings => "Dashboard: tenant keys, API tokens, team, tenant id and signing key",
            CreateTenantKey => "Dashboard: generate a tenant key",
            ActivateTenantKey => "Dashboard: activate a tenant key (re-seals every secret)",
            CreateToken => "Dashboard: create an API token (shown once)",
            RevokeToken => "Dashboard: revoke an API token",
            InviteMember => "Dashboard: invite a team member by email",
            UpdateMember => "Dashboard: change a member's role or remove them",
            CreateSigningKey => "Dashboard: create the next signing key (published, not signing yet)",
            ActivateSigningKey => "Dashboard: activate a signing key (asks for confirmation first)",
            Webhooks => "Dashboard: outgoing webhook endpoints, and the form to add one",
            CreateWebhookEndpoint => "Dashboard: add a webhook endpoint (its secret shown once)",
            WebhookEndpointPage => "Dashboard: a webhook endpoint's settings and delivery log",
            UpdateWebhookEndpoint => "Dashboard: save, test, roll the secret of, or delete a webhook endpoint",
            RetryWebhookDelivery => "Dashboard: retry a webhook delivery now",
            Import => "Dashboard: the form to import an ExisOne, Lukittu or Keygen export",
            RunImport => "Dashboard: import an export (dry run or for real), with per-license results",
        }
    }

    /// Pages anyone may load (everything else needs a session).
    pub fn is_public(self) -> bool {
        use Page::*;
        matches!(
            self,
            SignInPage | SignIn | SignInLink | UseSignInLink | SignUpPage | SignUp | Asset
        )
    }
}

/// Serves one dashboard route. Errors become pages: not signed in -> the sign-in page,
/// others an error page with the error's status.
///
/// A boxed future of a named type: pages call the dispatcher in-process (the admin API, the
/// webhook), and the dispatcher calls this, so the future type must not contain itself.
pub fn serve<'a>(
    s: &'a Services,
    page: Page,
    req: &'a ApiRequest,
    p: &'a Params,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<ApiResponse>> + Send + 'a>> {
    Box::pin(async move {
        let result = Box::pin(route(s, page, req, p)).await;
        Ok(match result {
            Ok(res) => res,
            Err(e) => error_page(s, req, &e),
        })
    })
}

async fn route(s: &Services, page: Page, req: &ApiRequest, p: &Params) -> Result<ApiResponse> {
    use Page::*;
    match page {
        SignInPage => sign_in::page(s, req).await,
        SignIn => sign_in::submit(s, req).await,
        SignInLink => sign_in::link_page(s, req).await,
        UseSignInLink => sign_in::use_link(s, req).await,
        SignOut => sign_in::sign_out(s, req).await,
        SignUpPage => sign_in::sign_up_page(s, req).await,
        SignUp => sign_in::sign_up(s, req).await,
        Asset => assets::serve(p.get("asset")),
        Overview => overview::page(s, req).await,
        Apps => apps::list(s, req).await,
        NewApp => apps::new(s, req).await,
        CreateApp => apps::create(s, req).await,
        AppPage => apps::edit(s, req, p.get("appId")).await,
        UpdateApp => apps::update(s, req, p.get("appId")).await,
        CreatePriceMapping => apps::create_price_mapping(s, req).await,
        UpdatePriceMapping => apps::delete_price_mapping(s, req, p.get("id")).await,
        CreateCurrency => apps::create_currency(s, req).await,
        UpdateCurrency => apps::update_currency(s, req, p.get("code")).await,
        Event => apps::event(s, req, p.get("eventId")).await,
        Products => products::list(s, req).await,
        NewProduct => products::new(s, req).await,
        CreateProduct => products::create(s, req).await,
        ProductPage => products::edit(s, req, p.get("productId")).await,
        UpdateProduct => products::update(s, req, p.get("productId")).await,
        EmailPreview => products::preview(s, req).await,
        CreatePlan => products::create_plan(s, req).await,
        UpdatePlan => products::delete_plan(s, req, p.get("planId")).await,
        Licenses => licenses::list(s, req).await,
        NewLicense => licenses::new(s, req).await,
        CreateLicense => licenses::create(s, req).await,
        LicensePage => licenses::show_page(s, req, p.get("licenseId")).await,
        UpdateLicense => licenses::update(s, req, p.get("licenseId")).await,
        RevealKey => licenses::reveal(s, req, p.get("licenseId")).await,
        TestPurchase => test_purchase::page(s, req).await,
        RunTestPurchase => test_purchase::run(s, req).await,
        Settings => settings::page(s, req).await,
        CreateTenantKey => settings::create_tenant_key(s, req).await,
        ActivateTenantKey => settings::activate_tenant_key(s, req, p.get("keyId")).await,
        CreateToken => settings::create_token(s, req).await,
        RevokeToken => settings::revoke_token(s, req, p.get("tokenId")).await,
        InviteMember => settings::invite(s, req).await,
        UpdateMember => settings::update_member(s, req, p.get("memberId")).await,
        CreateSigningKey => settings::create_signing_key(s, req).await,
        ActivateSigningKey => settings::activate_signing_key(s, req, p.get("kid")).await,
        Webhooks => webhooks::list(s, req).await,
        CreateWebhookEndpoint => webhooks::create(s, req).await,
        WebhookEndpointPage => webhooks::edit(s, req, p.get("endpointId")).await,
        UpdateWebhookEndpoint => webhooks::update(s, req, p.get("endpointId")).await,
        RetryWebhookDelivery => {
            webhooks::retry(s, req, p.get("endpointId"), p.get("deliveryId")).await
        }
        Import => import::page(s, req).await,
        RunImport => import::run(s, req).await,
    }
}

/// The page for an error: sign-in for a missing session (back here afterwards), otherwise a
/// short explanation with the error's status. Server errors say nothing internal.
fn error_page(s: &Services, req: &ApiRequest, e: &Error) -> ApiResponse {
    if matches!(e, Error::Unauthorized(_)) && req.method == Method::GET && !web::is_fragment(req) {
        return web::redirect(&format!(
            "/dashboard/sign-in?next={}",
            url::form_urlencoded::byte_serialize(req.path.as_bytes()).collect::<String>()
        ));
    }
    if e.is_retryable() {
        tracing::error!(code = e.code(), error = %e, "dashboard request failed");
    }
    let (title, message) = match e {
        Error::Unauthorized(_) => (
            "Signed out",
            "Your session has ended. Sign in again to continue.".to_string(),
        ),
        Error::Forbidden(m) => ("Not allowed", m.clone()),
        Error::NotFound(_) => (
            "Not found",
            "This page does not exist, or it belongs to another account.".to_string(),
        ),
        Error::RateLimited(m) => ("Too many attempts", m.clone()),
        Error::Conflict(m) => ("Could not do that", m.clone()),
        Error::Validation {
            message,
            field: Some(f),
        }
        | Error::ConflictAt { message, field: f } => {
            ("Could not do that", format!("{f} {message}"))
        }
        Error::Validation { message, field } => (
            "Could not do that",
            match field {
                Some(f) => format!("{f} {message}"),
                None => message.clone(),
            },
        ),
        Error::BadRequest { message, .. } => ("Could not do that", message.clone()),
        _ => (
            "Something went wrong",
            "Keyhook could not finish this request. Nothing was lost; try again in a moment."
                .to_string(),
        ),
    };
    let status = if matches!(e, Error::Validation { .. }) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        e.status()
    };
    let body = render::page(
        s,
        "error.html",
        None,
        minijinja::context! { title => title, message => message, status => status.as_u16() },
    )
    .unwrap_or_else(|_| message.clone());
    web::html(status, body)
}

/// A signed-in page.
pub(crate) fn show(
    s: &Services,
    me: &session::Signed,
    template: &str,
    status: StatusCode,
    ctx: minijinja::Value,
) -> Result<ApiResponse> {
    Ok(web::html(status, render::page(s, template, Some(me), ctx)?))
}

/// Messages shown after a form post redirected back (`?notice=`): fixed texts, so a link can
/// never make a page say something else.
pub(crate) fn notice(req: &ApiRequest) -> Option<&'static str> {
    Some(match req.query_param("notice")? {
        "app_saved" => "Stripe app saved.",
        "app_deleted" => "Stripe app deleted.",
        "mapping_saved" => "Price mapping saved.",
        "mapping_deleted" => "Price mapping deleted.",
        "currency_saved" => "Currency saved.",
        "product_saved" => "Product saved.",
        "product_deleted" => "Product deleted.",
        "plan_saved" => "Plan saved.",
        "plan_deleted" => "Plan deleted.",
        "license_issued" => "License issued.",
        "license_saved" => "License saved.",
        "license_suspended" => "License suspended: it no longer validates.",
        "license_reinstated" => "License reinstated.",
        "license_revoked" => "License revoked for good.",
        "email_queued" => "The email is on its way (status: pending).",
        "device_freed" => "Device deactivated.",
        "key_created" => "Tenant key generated. Activate it to seal new secrets under it.",
        "key_activated" => "Tenant key activated; every secret is re-sealed under it.",
        "token_revoked" => "API token revoked.",
        "member_invited" => "Invitation sent.",
        "member_saved" => "Member's role changed.",
        "member_removed" => "Member removed.",
        "member_removed_tokens_revoked" => {
            "Member removed; the API tokens they answered for are revoked."
        }
        "member_removed_tokens_handed_over" => {
            "Member removed; you now answer for the API tokens they created."
        }
        "signing_key_created" => {
            "Signing key created: it is published now; activate it once your apps know it."
        }
        "signing_key_activated" => {
            "Signing key activated: answers and license files are signed with it from now on."
        }
        "endpoint_saved" => "Webhook endpoint saved.",
        "endpoint_deleted" => "Webhook endpoint deleted.",
        "test_queued" => "Test event queued: it appears below in a moment.",
        "delivery_retried" => "Delivery queued for another attempt now.",
        _ => return None,
    })
}
