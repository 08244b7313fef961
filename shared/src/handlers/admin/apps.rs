//! Stripe apps: create, read, update, delete, repair, and diagnostics. Secrets are write-only:
//! they are sealed on the way in and never returned. A secret key given without a webhook
//! signing secret connects the app (`services::stripe_connect`: Keyhook makes the webhook
//! endpoint itself); `status` follows what Stripe said at the last check and what arrived.

use serde::{Deserialize, Serialize};

use super::{caller, merge, ts};
use crate::crypto::{SealContext, Secret};
use crate::domain::stripe_app::fields;
use crate::domain::stripe_app::{AppCheck, CheckCode, ConnectSettings};
use crate::domain::{AppStatus, StripeApp};
use crate::http::auth::Caller;
use crate::http::input::{json_body, json_body_requiring, text_field, ListBody, ListQuery};
use crate::http::schema;
use crate::http::{ApiRequest, ApiResponse};
use crate::services::app_secrets::{self, AppSecret};
use crate::services::stripe_connect;
use crate::{ids, Error, Result, Services};

/// Fields a create must carry (none: a secret key alone connects an app, named after its
/// Stripe account).
pub const CREATE_REQUIRED: &[&str] = &[];

/// The name of an app nobody named and whose Stripe account has none.
pub const DEFAULT_NAME: &str = "Stripe app";

/// Create and update body. On update, absent fields keep their value; a secret set to `""`
/// is removed. `secretKey` without `webhookSigningSecret` connects the app: Keyhook asks
/// Stripe for the account (its name and default currency fill `name` and `defaultCurrency`
/// when absent; on create the key's mode sets `isLive` when absent) and makes the webhook
/// endpoint in it, storing its signing secret.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppInput {
    #[schemars(extend("pattern" = schema::NON_BLANK, "maxLength" = 200))]
    pub name: Option<String>,
    /// `pk_test_…` or `pk_live_…` (its mode must match `isLive`); `""` removes it.
    #[schemars(extend("pattern" = schema::PUBLISHABLE_KEY, "maxLength" = schema::STRIPE_KEY_MAX_CHARS))]
    pub publishable_key: Option<String>,
    /// `sk_…` or restricted `rk_…` (its mode must match `isLive`); write-only; `""` removes it.
    /// Without `webhookSigningSecret`, Keyhook connects the app with it (checks it with
    /// Stripe, makes the webhook endpoint).
    #[schemars(extend("pattern" = schema::SECRET_KEY, "maxLength" = schema::STRIPE_KEY_MAX_CHARS, "writeOnly" = true))]
    pub secret_key: Option<String>,
    /// The endpoint's `whsec_…` signing secret; write-only; `""` removes it.
    #[schemars(extend("pattern" = schema::WEBHOOK_SECRET, "maxLength" = schema::STRIPE_KEY_MAX_CHARS, "writeOnly" = true))]
    pub webhook_signing_secret: Option<String>,
    /// The secret before a roll, still accepted; write-only; `""` removes it.
    #[schemars(extend("pattern" = schema::WEBHOOK_SECRET, "maxLength" = schema::STRIPE_KEY_MAX_CHARS, "writeOnly" = true))]
    pub previous_webhook_signing_secret: Option<String>,
    /// An active currency of the tenant (`GET /api/currencies`).
    #[schemars(extend("pattern" = schema::CURRENCY_CODE))]
    pub default_currency: Option<String>,
    pub is_live: Option<bool>,
    pub active: Option<bool>,
    pub is_default: Option<bool>,
    /// Stripe Connect events to accept (replaces the whole setting); none by default.
    pub connect: Option<ConnectSettings>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppView {
    pub id: String,
    pub name: String,
    pub publishable_key: Option<String>,
    pub default_currency: String,
    pub is_live: bool,
    pub active: bool,
    pub is_default: bool,
    pub connect: ConnectSettings,
    /// `ready` when every check passed: Stripe accepts the key, Keyhook's endpoint exists,
    /// is enabled and sends every needed event, and an event Stripe signed verified.
    pub status: AppStatus,
    /// What was checked, what passed, and for what failed, what to do (the Stripe side as of
    /// `checkedAt`; the signing secret and verified event as of now).
    pub checks: Vec<AppCheck>,
    /// When Stripe was last asked (none: never).
    pub checked_at: Option<String>,
    /// When an event Stripe signed last verified for this app (noted at most hourly).
    pub last_verified_event_at: Option<String>,
    /// The Stripe account (`acct_…`) of the secret key, as Stripe said.
    pub stripe_account_id: Option<String>,
    /// The webhook endpoint (`we_…`) Keyhook made in that account (none on the manual path).
    pub webhook_endpoint_id: Option<String>,
    pub has_secret: bool,
    pub has_webhook_signing_secret: bool,
    pub has_previous_webhook_signing_secret: bool,
    /// The URL to give Stripe for this app: its own, which answers any address and knows the
    /// app at once (the shared `/api/stripe/webhook` answers only Stripe's webhook addresses).
    pub webhook_url: String,
    pub created_at: String,
    pub updated_at: String,
}

/// Which of an app's secrets decrypt (not merely exist).
struct Decryptable {
    secret_key: bool,
    webhook_secret: bool,
    previous_webhook_secret: bool,
}

async fn decryptable(s: &Services, app: &StripeApp) -> Result<Decryptable> {
    let opens =
        |which| async move { Ok::<_, Error>(app_secrets::open(s, app, which).await?.is_some()) };
    Ok(Decryptable {
        secret_key: opens(AppSecret::SecretKey).await?,
        webhook_secret: opens(AppSecret::WebhookSecret).await?,
        previous_webhook_secret: opens(AppSecret::PreviousWebhookSecret).await?,
    })
}

/// Every check of an app: the stored Stripe ones and the local ones.
fn all_checks(app: &StripeApp, d: &Decryptable) -> Vec<AppCheck> {
    let mut checks = if d.secret_key {
        app.link.checks.clone()
    } else {
        Vec::new()
    };
    checks.extend(stripe_connect::local_checks(
        app,
        d.secret_key,
        d.webhook_secret,
    ));
    checks
}

async fn view(s: &Services, app: &StripeApp) -> Result<AppView> {
    let d = decryptable(s, app).await?;
    let checks = all_checks(app, &d);
    Ok(AppView {
        id: app.id.clone(),
        name: app.name.clone(),
        publishable_key: app.publishable_key.clone(),
        default_currency: app.default_currency.clone(),
        is_live: app.is_live,
        active: app.active,
        is_default: app.is_default,
        connect: app.connect.clone(),
        status: AppStatus::from_checks(d.secret_key, &checks),
        checks,
        checked_at: app.link.checked_at.map(ts),
        last_verified_event_at: app.link.last_verified_event_at.map(ts),
        stripe_account_id: app.link.stripe_account_id.clone(),
        webhook_endpoint_id: app.link.webhook_endpoint_id.clone(),
        has_secret: d.secret_key,
        has_webhook_signing_secret: d.webhook_secret,
        has_previous_webhook_signing_secret: d.previous_webhook_secret,
        webhook_url: stripe_connect::webhook_url(s, &app.id),
        created_at: ts(app.created_at),
        updated_at: ts(app.updated_at),
    })
}

/// Checks a key's shape and that its mode (test/live) matches the app's.
fn check_key(field: &str, value: &str, prefixes: &[&str], is_live: bool) -> Result<()> {
    let value = value.trim();
    let Some(prefix) = prefixes.iter().find(|p| value.starts_with(*p)) else {
        return Err(Error::validation(
            field,
            format!("must start with {}", prefixes.join(" or ")),
        ));
    };
    if value.len() <= prefix.len() + 4
        || value.len() > 512
        || value.chars().any(char::is_whitespace)
    {
        return Err(Error::validation(field, "is not a complete key"));
    }
    // It travels in an HTTP header (`Authorization: Bearer …`): printable ASCII only.
    if !value.chars().all(|c| c.is_ascii_graphic()) {
        return Err(Error::validation(
            field,
            "has a character no Stripe key has (keys are letters, digits and _)",
        ));
    }
    let live = value.contains("_live_");
    let test = value.contains("_test_");
    if (live || test) && live != is_live {
        // Well formed, but at odds with the app's mode (possibly the stored one): a conflict.
        return Err(Error::conflict_at(
            field,
            if is_live {
                "is a test-mode key but the app is live (isLive: true)"
            } else {
                "is a live-mode key but the app is a test app (set isLive: true for live keys)"
            },
        ));
    }
    Ok(())
}

fn check_currency(code: &str) -> Result<String> {
    if code.len() == 3 && code.chars().all(|c| c.is_ascii_lowercase()) {
        Ok(code.to_string())
    } else {
        Err(Error::validation(
            "defaultCurrency",
            "must be a lowercase ISO 4217 code such as \"usd\"",
        ))
    }
}

/// Applies an input to an app (new or existing), sealing the secrets it carries.
async fn apply(s: &Services, app: &mut StripeApp, input: AppInput) -> Result<()> {
    if let Some(name) = &input.name {
        app.name = text_field("name", name, 200)?;
    }
    app.is_live = merge(app.is_live, input.is_live);
    app.active = merge(app.active, input.active);
    app.is_default = merge(app.is_default, input.is_default);
    if let Some(connect) = input.connect {
        if connect.account_ids.len() > ConnectSettings::MAX_ACCOUNTS {
            return Err(Error::validation(
                "connect.accountIds",
                format!("names more than {} accounts", ConnectSettings::MAX_ACCOUNTS),
            ));
        }
        if let Some(bad) = connect.account_ids.iter().find(|a| {
            !a.starts_with("acct_")
                || a.len() > 255
                || !a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }) {
            return Err(Error::validation(
                "connect.accountIds",
                format!("{bad:?} is not a Stripe account id (acct_…)"),
            ));
        }
        app.connect = connect;
    }
    if let Some(c) = &input.default_currency {
        let code = check_currency(c)?;
        // An app's currency is active by being the app's, unless the tenant deactivated it.
        super::currencies::active(s, &app.tenant_id, &code, "defaultCurrency", Some(&code)).await?;
        app.default_currency = code;
    }
    if let Some(pk) = input.publishable_key {
        app.publishable_key = if pk.trim().is_empty() {
            None
        } else {
            check_key(
                "publishableKey",
                &pk,
                &["pk_test_", "pk_live_"],
                app.is_live,
            )?;
            Some(pk.trim().to_string())
        };
    }
    let secrets = [
        (
            "secretKey",
            fields::SECRET_KEY,
            input.secret_key,
            &["sk_test_", "sk_live_", "rk_test_", "rk_live_"][..],
        ),
        (
            "webhookSigningSecret",
            fields::WEBHOOK_SECRET,
            input.webhook_signing_secret,
            &["whsec_"][..],
        ),
        (
            "previousWebhookSigningSecret",
            fields::PREVIOUS_WEBHOOK_SECRET,
            input.previous_webhook_signing_secret,
            &["whsec_"][..],
        ),
    ];
    for (json_field, seal_field, value, prefixes) in secrets {
        let Some(value) = value else { continue };
        let sealed = if value.trim().is_empty() {
            None
        } else {
            check_key(json_field, &value, prefixes, app.is_live)?;
            Some(
                s.keyring
                    .seal(
                        SealContext {
                            tenant_id: &app.tenant_id,
                            owner: &app.id,
                            field: seal_field,
                        },
                        value.trim().as_bytes(),
                    )
                    .await?,
            )
        };
        match seal_field {
            fields::SECRET_KEY => {
                // Another key: what Stripe said of the old one no longer holds.
                app.secret_key_sealed = sealed;
                app.link.checks.clear();
                app.link.checked_at = None;
                app.link.stripe_account_id = None;
            }
            fields::WEBHOOK_SECRET => {
                // A pasted secret is the manual path's: no endpoint of Keyhook's, and no
                // event verified with it yet.
                app.webhook_secret_sealed = sealed;
                app.link.webhook_endpoint_id = None;
                app.link.last_verified_event_at = None;
                app.link.checks.retain(|c| c.code == CheckCode::SecretKey);
            }
            _ => app.previous_webhook_secret_sealed = sealed,
        }
    }
    // Keys already stored must still match the (possibly changed) mode.
    if input.is_live.is_some() {
        if let Some(pk) = &app.publishable_key {
            check_key("publishableKey", pk, &["pk_test_", "pk_live_"], app.is_live)?;
        }
    }
    Ok(())
}

/// Saves an app; when it is the default, the tenant's other default of the same mode stops
/// being one, in the same transaction.
async fn save(s: &Services, app: &StripeApp, is_new: bool) -> Result<()> {
    let mut demoted = Vec::new();
    if app.is_default {
        for mut other in s.store.all_tenant_apps(&app.tenant_id).await? {
            if other.id != app.id && other.is_default && other.is_live == app.is_live {
                other.is_default = false;
                other.updated_at = app.updated_at;
                demoted.push(other);
            }
        }
    }
    s.store.save_apps(app, is_new, &demoted).await
}

/// The key to connect with: a secret key given without a webhook signing secret.
fn connect_key(input: &AppInput) -> Option<Secret> {
    match (&input.secret_key, &input.webhook_signing_secret) {
        (Some(key), None) if !key.trim().is_empty() => Some(Secret::new(key.trim())),
        _ => None,
    }
}

/// Connects an app by its key (see [`stripe_connect::connect`]) and fills what the input left
/// out from the Stripe account: the name (`named`: the input gave one) and the currency.
async fn connect(
    s: &Services,
    app: &mut StripeApp,
    key: &Secret,
    named: bool,
    currency_given: bool,
) -> Result<()> {
    let (account, _) = stripe_connect::connect(s, app, key).await?;
    if !named {
        if let Some(name) = account.as_ref().and_then(|a| a.name()) {
            app.name = name.chars().take(200).collect();
        }
    }
    if !currency_given {
        if let Some(code) = account.and_then(|a| a.default_currency) {
            // Used when the tenant takes it (not deactivated); else the app keeps its own.
            let usable = check_currency(&code).is_ok()
                && super::currencies::active(
                    s,
                    &app.tenant_id,
                    &code,
                    "defaultCurrency",
                    Some(&code),
                )
                .await
                .is_ok();
            if usable {
                app.default_currency = code;
            }
        }
    }
    Ok(())
}

/// Creates a Stripe app, sealing the secrets it carries; a secret key alone connects it.
pub async fn create_app(s: &Services, c: &Caller, mut input: AppInput) -> Result<AppView> {
    let now = crate::time::now();
    let mut app = StripeApp {
        id: ids::new_id("app"),
        tenant_id: c.tenant_id.clone(),
        name: DEFAULT_NAME.into(),
        publishable_key: None,
        secret_key_sealed: None,
        webhook_secret_sealed: None,
        previous_webhook_secret_sealed: None,
        default_currency: "usd".into(),
        is_live: false,
        active: true,
        is_default: false,
        connect: ConnectSettings::default(),
        link: Default::default(),
        created_at: now,
        updated_at: now,
    };
    // A new app's mode follows its key unless the input says (a conflict is the input's).
    if input.is_live.is_none() {
        input.is_live = input.secret_key.as_deref().map(stripe_connect::key_is_live);
    }
    let key = connect_key(&input);
    let (named, currency_given) = (input.name.is_some(), input.default_currency.is_some());
    apply(s, &mut app, input).await?;
    if let Some(key) = key {
        connect(s, &mut app, &key, named, currency_given).await?;
    }
    save(s, &app, true).await?;
    view(s, &app).await
}

/// `POST /api/stripe/apps`.
pub async fn create(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let input: AppInput = json_body_requiring(req, CREATE_REQUIRED)?;
    Ok(ApiResponse::created(&create_app(s, &c, input).await?))
}

async fn load(s: &Services, tenant_id: &str, app_id: &str) -> Result<StripeApp> {
    s.store
        .get_tenant_app(tenant_id, app_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("Stripe app {app_id}")))
}

/// One Stripe app of the caller's tenant.
pub async fn get_app(s: &Services, c: &Caller, app_id: &str) -> Result<AppView> {
    let app = load(s, &c.tenant_id, app_id).await?;
    view(s, &app).await
}

/// `GET /api/stripe/apps/{appId}`.
pub async fn get(s: &Services, req: &ApiRequest, app_id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    Ok(ApiResponse::ok(&get_app(s, &c, app_id).await?))
}

/// Changes a Stripe app: absent fields keep their value, a secret set to `""` is removed; a new
/// secret key without a signing secret reconnects the app.
pub async fn update_app(
    s: &Services,
    c: &Caller,
    app_id: &str,
    input: AppInput,
) -> Result<AppView> {
    let mut app = load(s, &c.tenant_id, app_id).await?;
    let key = connect_key(&input);
    apply(s, &mut app, input).await?;
    if let Some(key) = key {
        connect(s, &mut app, &key, true, true).await?;
    }
    app.updated_at = crate::time::now();
    save(s, &app, false).await?;
    view(s, &app).await
}

/// Repairs an app's webhook endpoint in Stripe (its events, enabled, its URL, or a new
/// endpoint and secret) and checks it again.
pub async fn repair_app(s: &Services, c: &Caller, app_id: &str) -> Result<AppView> {
    let mut app = load(s, &c.tenant_id, app_id).await?;
    stripe_connect::repair(s, &mut app).await?;
    app.updated_at = crate::time::now();
    save(s, &app, false).await?;
    view(s, &app).await
}

/// `POST /api/stripe/apps/{appId}/repair`.
pub async fn repair(s: &Services, req: &ApiRequest, app_id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    Ok(ApiResponse::ok(&repair_app(s, &c, app_id).await?))
}

/// Checks an app with Stripe now and stores the result.
pub async fn recheck_app(s: &Services, c: &Caller, app_id: &str) -> Result<AppView> {
    let mut app = load(s, &c.tenant_id, app_id).await?;
    stripe_connect::check_and_store(s, &mut app).await?;
    view(s, &app).await
}

/// `PUT /api/stripe/apps/{appId}`.
pub async fn update(s: &Services, req: &ApiRequest, app_id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let input: AppInput = json_body(req)?;
    Ok(ApiResponse::ok(&update_app(s, &c, app_id, input).await?))
}

/// Deletes a Stripe app.
/// Deletes a Stripe app, and the webhook endpoint Keyhook made for it in Stripe.
pub async fn delete_app(s: &Services, c: &Caller, app_id: &str) -> Result<()> {
    let app = load(s, &c.tenant_id, app_id).await?;
    if !s.store.delete_app(&c.tenant_id, app_id).await? {
        return Err(Error::not_found(format!("Stripe app {app_id}")));
    }
    stripe_connect::forget(s, &app).await;
    Ok(())
}

/// `DELETE /api/stripe/apps/{appId}`.
pub async fn delete(s: &Services, req: &ApiRequest, app_id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    delete_app(s, &c, app_id).await?;
    Ok(ApiResponse::no_content())
}

/// A page of the caller's Stripe apps.
pub async fn list_apps(s: &Services, c: &Caller, query: ListQuery) -> Result<ListBody<AppView>> {
    let page = s
        .store
        .list_apps(&c.tenant_id, query.limit, query.cursor.as_deref())
        .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for app in &page.items {
        items.push(view(s, app).await?);
    }
    Ok(ListBody {
        items,
        next_cursor: page.next_cursor,
    })
}

/// `GET /api/stripe/apps`.
pub async fn list(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let query = ListQuery::from_request(req)?;
    Ok(ApiResponse::ok(&list_apps(s, &c, query).await?))
}

/// What signing an event as Stripe would for one of the caller's apps takes (the dashboard's
/// test purchase): the app's mode, and for a test app its webhook signing secret if one is
/// stored and decrypts (a live app's is not opened: only test-mode events are signed). In
/// process only: no route answers a secret.
pub struct EventSigner {
    pub app_id: String,
    pub is_live: bool,
    pub webhook_secret: Option<Secret>,
}

/// The [`EventSigner`] of one of the caller's apps; `None` when the tenant has no such app.
pub async fn event_signer(s: &Services, c: &Caller, app_id: &str) -> Result<Option<EventSigner>> {
    let Some(app) = s.store.get_tenant_app(&c.tenant_id, app_id).await? else {
        return Ok(None);
    };
    let webhook_secret = if app.is_live {
        None
    } else {
        app_secrets::open(s, &app, AppSecret::WebhookSecret).await?
    };
    Ok(Some(EventSigner {
        app_id: app.id,
        is_live: app.is_live,
        webhook_secret,
    }))
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiagnosticItem {
    pub app_id: String,
    pub name: String,
    pub has_secret: bool,
    pub has_webhook_signing_secret: bool,
    pub status: AppStatus,
    /// What was checked (Stripe asked just now), what failed and what to do.
    pub checks: Vec<AppCheck>,
    pub checked_at: Option<String>,
}

/// `GET /api/stripe/diagnostics`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Diagnostics {
    pub items: Vec<DiagnosticItem>,
}

/// Each of the caller's apps checked with Stripe now (results stored on the apps).
pub async fn get_diagnostics(s: &Services, c: &Caller) -> Result<Diagnostics> {
    let mut apps = s.store.all_tenant_apps(&c.tenant_id).await?;
    // The apps' Stripe accounts are asked at once (the admin function's time is bounded).
    futures::future::try_join_all(
        apps.iter_mut()
            .map(|app| stripe_connect::check_and_store(s, app)),
    )
    .await?;
    let mut items = Vec::new();
    for app in apps {
        let d = decryptable(s, &app).await?;
        let checks = all_checks(&app, &d);
        items.push(DiagnosticItem {
            app_id: app.id.clone(),
            name: app.name.clone(),
            has_secret: d.secret_key,
            has_webhook_signing_secret: d.webhook_secret,
            status: AppStatus::from_checks(d.secret_key, &checks),
            checks,
            checked_at: app.link.checked_at.map(ts),
        });
    }
    Ok(Diagnostics { items })
}

/// `GET /api/stripe/diagnostics`.
pub async fn diagnostics(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    Ok(ApiResponse::ok(&get_diagnostics(s, &c).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_shapes_and_modes() {
        let sk = ["sk_test_", "sk_live_", "rk_test_", "rk_live_"];
        assert!(check_key("secretKey", "sk_test_abcdefgh", &sk, false).is_ok());
        assert!(check_key("secretKey", "rk_live_abcdefgh", &sk, true).is_ok());
        assert!(check_key("secretKey", "sk_live_abcdefgh", &sk, false).is_err());
        assert!(check_key("secretKey", "sk_test_abcdefgh", &sk, true).is_err());
        assert!(check_key("secretKey", "pk_test_abcdefgh", &sk, false).is_err());
        assert!(check_key("secretKey", "sk_test_", &sk, false).is_err());
        assert!(check_key("secretKey", "sk_test_abcdé", &sk, false).is_err());
        assert!(check_key("secretKey", "sk_test_ab\u{13}cd", &sk, false).is_err());
        assert!(check_key("webhookSigningSecret", "whsec_abcdefgh", &["whsec_"], true).is_ok());
        assert!(check_currency("usd").is_ok());
        assert!(check_currency("USD").is_err());
    }
}
