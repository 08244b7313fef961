//! Stripe apps and events (`/dashboard/apps`): the apps with their Status, the webhook URL and
//! the events to select in Stripe, diagnostics, subscription price mappings, currencies, the
//! event log, and one event's page (what it issued, its emails).

use http::StatusCode;
use minijinja::context;
use serde::Serialize;
use serde_json::Value;

use super::form::{self, errors_of, form_status, Form, Kind};
use super::session::{self, Signed};
use super::web::enc;
use super::{notice, render, show, web};
use crate::domain::currency::Currency;
use crate::domain::{EmailStatus, EventStatus};
use crate::handlers::admin::apps::{self, AppInput, AppView};
use crate::handlers::admin::currencies::{self, CurrencyInput, CurrencyQuery};
use crate::handlers::admin::events::{self, EventQuery};
use crate::handlers::admin::licenses;
use crate::handlers::admin::price_mappings::{self, PriceMappingInput, PriceMappingQuery};
use crate::handlers::admin::products;
use crate::http::auth::Caller;
use crate::http::input::{ListBody, ListQuery};
use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result, Services};

/// The events to select on Stripe's webhook endpoint (the manual path), grouped: exactly the
/// types the webhook handler acts on.
use crate::domain::stripe_events::GROUPS as STRIPE_EVENTS;

const APP_FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Text),
    ("publishableKey", Kind::Text),
    ("secretKey", Kind::Secret),
    ("webhookSigningSecret", Kind::Secret),
    ("previousWebhookSigningSecret", Kind::Secret),
    ("defaultCurrency", Kind::Code),
    ("isLive", Kind::Bool),
    ("active", Kind::Bool),
    ("isDefault", Kind::Bool),
];
const SECRETS: &[&str] = &[
    "secretKey",
    "webhookSigningSecret",
    "previousWebhookSigningSecret",
];

/// The first 200 (the pages' lists show up to 200 of each).
fn first_200() -> ListQuery {
    ListQuery::first(200)
}

/// `GET /dashboard/apps` (`?status=&type=&cursor=` filter the event log).
pub async fn list(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    let c = me.caller();
    // Each app shows its last check (stored): the page never waits on Stripe; Re-check asks.
    let (apps, mappings, products, currencies) = futures::try_join!(
        apps::list_apps(s, &c, first_200()),
        price_mappings::list_price_mappings(
            s,
            &c,
            PriceMappingQuery {
                page: first_200(),
                ..Default::default()
            }
        ),
        products::list_products(s, &c, first_200()),
        currencies::list_currencies(
            s,
            &c,
            CurrencyQuery {
                page: first_200(),
                only_active: false
            }
        ),
    )?;
    // The log's page: 25 events, filtered as the page's own query says.
    let events_query = EventQuery::from_params(|p| match p {
        "limit" => Some("25"),
        "status" | "type" | "cursor" => req.query_param(p),
        _ => None,
    });
    // A bad filter is the filter's error, shown at the filter, not a broken page.
    let events = match events_query {
        Ok(query) => events::list_events(s, &c, query).await,
        Err(e) => Err(e),
    };
    let (events, events_error) = match events {
        Ok(e) => (e, None),
        Err(e @ Error::Validation { .. }) => (
            ListBody {
                items: Vec::new(),
                next_cursor: None,
            },
            errors_of(&e),
        ),
        Err(e) => return Err(e),
    };
    let price_picker =
        super::payment_links::price_picker(s, &c, &apps.items, req.query_param("priceApp")).await;
    let (active_currencies, inactive_currencies): (Vec<_>, Vec<_>) =
        currencies.items.into_iter().partition(|c| c.is_active);
    let codes = |list: Vec<Currency>| list.into_iter().map(|c| c.code).collect::<Vec<_>>();
    show(
        s,
        &me,
        "apps.html",
        StatusCode::OK,
        context! {
            title => "Stripe apps and events",
            nav => "apps",
            notice => notice(req),
            apps => apps.items,
            mappings => mappings.items,
            price_picker => price_picker,
            products => products.items,
            active_currencies => codes(active_currencies),
            inactive_currencies => codes(inactive_currencies),
            events => events.items,
            next_cursor => events.next_cursor,
            filter => context! { status => req.query_param("status"), type => req.query_param("type") },
            events_errors => events_error,
            shared_url => format!("{}/api/stripe/webhook", s.config.public_base_url),
            team_url => format!("{}/api/stripe/webhook?teamId={}", s.config.public_base_url, me.tenant_id),
            stripe_events => STRIPE_EVENTS,
        },
    )
}

/// The codes of the tenant's active currencies.
async fn active_currencies(s: &Services, c: &Caller) -> Result<Vec<String>> {
    let query = CurrencyQuery {
        page: first_200(),
        only_active: true,
    };
    Ok(currencies::list_currencies(s, c, query)
        .await?
        .items
        .into_iter()
        .map(|c| c.code)
        .collect())
}

async fn form_page(
    s: &Services,
    me: &Signed,
    app: Option<AppView>,
    values: impl Serialize,
    errors: Option<Value>,
) -> Result<ApiResponse> {
    let status = form_status(&errors);
    let values = serde_json::to_value(values).map_err(|e| Error::internal(e.to_string()))?;
    let errors = form::secrets_to_retype(errors, &values);
    let can_repair = app
        .as_ref()
        .is_some_and(|a| a.has_secret && a.checks.iter().any(|c| !c.ok && c.repairable));
    show(
        s,
        me,
        "app_form.html",
        status,
        context! {
            title => if app.is_some() { "Edit Stripe app" } else { "Add a Stripe app" },
            nav => "apps",
            app => app,
            can_repair => can_repair,
            values => values,
            errors => errors,
            currencies => active_currencies(s, &me.caller()).await?,
            shared_url => format!("{}/api/stripe/webhook", s.config.public_base_url),
            stripe_events => STRIPE_EVENTS,
        },
    )
}

/// The app form's values (checkboxes as `on`; secrets are never shown).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct AppValues {
    name: Option<String>,
    publishable_key: Option<String>,
    default_currency: String,
    is_live: Option<&'static str>,
    active: Option<&'static str>,
    is_default: Option<&'static str>,
}

/// A checkbox's value.
fn on(checked: bool) -> Option<&'static str> {
    checked.then_some("on")
}

impl From<&AppView> for AppValues {
    fn from(app: &AppView) -> Self {
        AppValues {
            name: Some(app.name.clone()),
            publishable_key: app.publishable_key.clone(),
            default_currency: app.default_currency.clone(),
            is_live: on(app.is_live),
            active: on(app.active),
            is_default: on(app.is_default),
        }
    }
}

/// `GET /dashboard/apps/new`.
pub async fn new(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    me.must_edit()?;
    let values = AppValues {
        // Empty: the Stripe account's.
        default_currency: String::new(),
        active: on(true),
        is_default: on(true),
        ..AppValues::default()
    };
    form_page(s, &me, None, values, None).await
}

/// The app form as the API's app input (`required`: a create's fields).
fn input(form: &Form, required: &[&str]) -> Result<AppInput> {
    form::input(form.body(APP_FIELDS)?, required)
}

/// The new-app form as the API's app input: the secret key is what the page asks for (the
/// rest is optional: Stripe's account names the app and gives its currency); the mode follows
/// the key unless the form's `mode` says (a post without `mode` reads the `isLive` checkbox).
fn new_app_input(form: &Form) -> Result<AppInput> {
    if form.get("secretKey").is_none_or(|k| k.trim().is_empty()) {
        return Err(Error::validation(
            "secretKey",
            "is required: paste the secret key (sk_… or a restricted rk_…) from Stripe › Developers › API keys",
        ));
    }
    let mut input = input(form, apps::CREATE_REQUIRED)?;
    match form.get("mode") {
        Some("live") => input.is_live = Some(true),
        Some("test") => input.is_live = Some(false),
        Some(_) => input.is_live = None,
        None => {}
    }
    Ok(input)
}

/// Stripe out of reach while connecting: said at the key, with the way that needs no Stripe.
fn at_the_key(e: Error) -> Error {
    match e {
        Error::Upstream {
            service: "stripe", ..
        } => Error::validation(
            "secretKey",
            "Stripe could not be reached to check this key: try again, or give the webhook signing secret too (Advanced / manual setup), which saves the app without calling Stripe",
        ),
        e => e,
    }
}

/// `POST /dashboard/apps`.
pub async fn create(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_edit()?;
    let result = match new_app_input(&form) {
        Ok(input) => apps::create_app(s, &me.caller(), input).await,
        Err(e) => Err(e),
    };
    match result.map_err(at_the_key) {
        Ok(app) => Ok(web::redirect(&format!(
            "/dashboard/apps/{}?notice=app_saved",
            app.id
        ))),
        Err(e) => match errors_of(&e) {
            Some(errors) => form_page(s, &me, None, form.echo(SECRETS), Some(errors)).await,
            None => Err(e),
        },
    }
}

/// `GET /dashboard/apps/{appId}`.
pub async fn edit(s: &Services, req: &ApiRequest, app_id: &str) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    let app = apps::get_app(s, &me.caller(), app_id).await?;
    let values = AppValues::from(&app);
    let mut res = form_page(s, &me, Some(app), values, None).await?;
    if let Some(n) = notice(req) {
        // The saved app's page says so above the form, with the setup's next step.
        let next = match req.query_param("notice") {
            Some("app_saved") if me.role.can_edit() => next_after_app(s, &me).await?,
            _ => String::new(),
        };
        let body = String::from_utf8_lossy(&res.body).replace(
            "<!--notice-->",
            &format!("<p class=\"notice\" role=\"status\">{n}{next}</p>"),
        );
        res.body = body.into();
    }
    Ok(res)
}

/// The button after an app is saved: a product to sell, or (with one) a test purchase.
async fn next_after_app(s: &Services, me: &Signed) -> Result<String> {
    let products = products::list_products(s, &me.caller(), ListQuery::first(1)).await?;
    let (label, href) = if products.items.is_empty() {
        ("Next: add a product", "/dashboard/products/new")
    } else {
        ("Next: make a test purchase", "/dashboard/test-purchase")
    };
    Ok(format!(
        " <a class=\"btn primary\" href=\"{href}\" data-next>{label}</a>"
    ))
}

/// `POST /dashboard/apps/{appId}`: `action=save`, `delete`, `repair` (the webhook endpoint in
/// Stripe) or `recheck` (ask Stripe now).
pub async fn update(s: &Services, req: &ApiRequest, app_id: &str) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_edit()?;
    let c = me.caller();
    let (result, notice) = match form.action() {
        "delete" => {
            apps::delete_app(s, &c, app_id).await?;
            return Ok(web::redirect("/dashboard/apps?notice=app_deleted"));
        }
        // The same operations as `POST /api/stripe/apps/{appId}/repair` and diagnostics.
        "repair" => (apps::repair_app(s, &c, app_id).await, "app_repaired"),
        "recheck" => (apps::recheck_app(s, &c, app_id).await, "app_checked"),
        _ => {
            let result = match input(&form, &[]) {
                Ok(input) => apps::update_app(s, &c, app_id, input).await,
                Err(e) => Err(e),
            };
            (result, "app_saved")
        }
    };
    match result.map_err(at_the_key) {
        Ok(_) => Ok(web::redirect(&format!(
            "/dashboard/apps/{}?notice={notice}",
            enc(app_id)
        ))),
        Err(e) => match errors_of(&e) {
            Some(errors) => {
                let app = apps::get_app(s, &c, app_id).await?;
                form_page(s, &me, Some(app), form.echo(SECRETS), Some(errors)).await
            }
            None => Err(e),
        },
    }
}

/// Form posts of the apps page that either work (back to the page) or fail with an error the
/// page shows.
async fn apps_post(
    s: &Services,
    req: &ApiRequest,
    op: impl AsyncFnOnce(&Caller, &Form) -> Result<&'static str>,
) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_edit()?;
    let anchor = op(&me.caller(), &form).await?;
    Ok(web::redirect(&format!("/dashboard/apps?{anchor}")))
}

/// `POST /dashboard/price-mappings`.
pub async fn create_price_mapping(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    apps_post(s, req, async |c, form| {
        let body = form.body(&[
            ("appId", Kind::Text),
            ("productId", Kind::Text),
            ("stripePriceId", Kind::Text),
            ("displayName", Kind::Text),
            ("displayPrice", Kind::Text),
        ])?;
        let input: PriceMappingInput = form::input(body, price_mappings::CREATE_REQUIRED)?;
        price_mappings::create_price_mapping(s, c, input).await?;
        Ok("notice=mapping_saved#price-mappings")
    })
    .await
}

/// `POST /dashboard/price-mappings/{id}` (`action=delete`).
pub async fn delete_price_mapping(s: &Services, req: &ApiRequest, id: &str) -> Result<ApiResponse> {
    apps_post(s, req, async |c, _| {
        price_mappings::delete_price_mapping(s, c, id).await?;
        Ok("notice=mapping_deleted#price-mappings")
    })
    .await
}

/// `POST /dashboard/currencies`: adds a code.
pub async fn create_currency(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    apps_post(s, req, async |c, form| {
        let body = form.body(&[("code", Kind::Text), ("zeroDecimal", Kind::Bool)])?;
        let input: CurrencyInput = form::input(body, currencies::CREATE_REQUIRED)?;
        currencies::create_currency(s, c, input).await?;
        Ok("notice=currency_saved#currencies")
    })
    .await
}

/// `POST /dashboard/currencies/{code}`: `action=activate` or `deactivate` (the apps page's
/// form posts to `/dashboard/currencies/toggle` with the code as a field).
pub async fn update_currency(s: &Services, req: &ApiRequest, code: &str) -> Result<ApiResponse> {
    apps_post(s, req, async |c, form| {
        let code = match (code, form.get("code")) {
            ("toggle", Some(picked)) => picked,
            _ => code,
        };
        let input = CurrencyInput {
            code: None,
            zero_decimal: None,
            is_active: Some(form.action() == "activate"),
        };
        currencies::update_currency(s, c, code, input).await?;
        Ok("notice=currency_saved#currencies")
    })
    .await
}

/// `GET /dashboard/events/{eventId}`: the event, its app, the licenses it issued and their
/// email status. While something is still moving (the event not processed, an email pending)
/// the page refreshes its details by itself.
pub async fn event(s: &Services, req: &ApiRequest, event_id: &str) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    let c = me.caller();
    let event = events::get_event(s, &c, event_id).await?;
    let app = apps::get_app(s, &c, &event.app_id).await.ok();
    let mut issued = Vec::new();
    for id in &event.license_ids {
        issued.push(licenses::get_license(s, &c, id).await?);
    }
    let settled = event.status != EventStatus::Received
        && issued
            .iter()
            .all(|l| l.email_status != EmailStatus::Pending);
    let products = products::list_products(s, &c, first_200()).await?.items;
    let issued = super::licenses::listed(issued, &products);
    let test_purchase = req.query_param("test").is_some();
    let ctx = context! {
        title => if test_purchase { "Test purchase" } else { "Stripe event" },
        nav => if test_purchase { "test" } else { "events" },
        event => event,
        app => app,
        licenses => issued,
        settled => settled,
        test_purchase => test_purchase,
    };
    if web::is_fragment(req) {
        return Ok(web::html(
            StatusCode::OK,
            render::fragment("event_fragment.html", Some(&me), ctx)?,
        ));
    }
    show(s, &me, "event.html", StatusCode::OK, ctx)
}
