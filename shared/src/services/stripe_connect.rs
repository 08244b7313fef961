//! Connecting a Stripe app by its secret key, and checking it with Stripe.
//!
//! Connect: Stripe says whose key it is (`GET /v1/account`: a key it refuses is the
//! merchant's to fix), then Keyhook makes the app's webhook endpoint in that account itself —
//! the app's own URL, exactly the handled event types ([`stripe_events::HANDLED`]), a
//! description naming Keyhook, `metadata[keyhook_app_id]` — and seals the signing secret Stripe
//! returns (only in its create answer). An endpoint Keyhook made earlier for the app is
//! updated when its secret is still held, else replaced: never two.
//!
//! Check: the app's status comes from what Stripe says now (the key accepted, the endpoint
//! there, enabled, subscribed to every needed event) and from what arrived (an event Stripe
//! signed verified with the stored secret), never from secrets merely being stored.

use crate::crypto::Secret;
use crate::domain::stripe_app::{AppCheck, CheckCode, VERIFIED_EVENT_NOTE_EVERY};
use crate::domain::{stripe_events, StripeApp};
use crate::services::app_secrets::{self, AppSecret};
use crate::stripe::account::{self, Account};
use crate::stripe::client::StripeError;
use crate::stripe::webhook_endpoints::{self as endpoints, EndpointSpec, WebhookEndpoint};
use crate::{ids, Error, Result, Services};

/// The metadata key naming the app on the endpoints Keyhook makes.
pub const APP_ID_METADATA: &str = "keyhook_app_id";

/// What a restricted key needs, in the words of Stripe's key editor.
pub const PERMISSIONS: &str = "\"Webhook Endpoints: Write\" (to make and repair the endpoint), \
\"Events: Read\" (reconciliation), \"Checkout Sessions: Write\" and \"Prices: Read\" (checkout), \
\"Invoices: Read\" and \"Subscriptions: Read\" (subscriptions), \"Customer portal: Write\" (the \
billing portal)";

/// The manual path, for when Keyhook cannot make the endpoint itself.
const MANUAL_PATH: &str = "or add the endpoint in Stripe by hand (Developers → Webhooks, this \
app's webhook URL and the events listed) and paste its signing secret under \"Advanced / manual \
setup\"";

/// The app's own webhook URL (the one Keyhook gives Stripe).
pub fn webhook_url(s: &Services, app_id: &str) -> String {
    format!("{}/api/stripe/webhook/{app_id}", s.config.public_base_url)
}

/// Whether a key is a live-mode one (`sk_live_`/`rk_live_`).
pub fn key_is_live(key: &str) -> bool {
    key.trim().contains("_live_")
}

/// Asks Stripe whose key this is. A key Stripe refuses is a validation error on `secretKey`;
/// Stripe out of reach is [`Error::Upstream`]. `None`: a restricted key that may not read the
/// account (Stripe accepted it, 403).
pub async fn verify_key(s: &Services, key: &Secret) -> Result<Option<Account>> {
    match account::retrieve(&s.stripe, key).await {
        Ok(a) => Ok(Some(a)),
        Err(e) if endpoints::is_permission(&e) => Ok(None),
        Err(StripeError::Api {
            status: 401,
            message,
            ..
        }) => Err(Error::validation(
            "secretKey",
            format!("Stripe refused this key: {message}"),
        )),
        Err(StripeError::Api {
            status, message, ..
        }) if (400..500).contains(&status) && status != 429 => Err(Error::validation(
            "secretKey",
            format!("Stripe refused this key: {message}"),
        )),
        Err(e) => Err(unreachable(e)),
    }
}

/// Stripe out of reach (or failing), said so.
fn unreachable(e: StripeError) -> Error {
    Error::Upstream {
        service: "stripe",
        detail: format!("Stripe could not be reached to connect the key ({e})"),
    }
}

fn key_check(account: Option<&Account>) -> AppCheck {
    AppCheck::ok(
        CheckCode::SecretKey,
        match account {
            Some(a) => match a.name() {
                Some(name) => format!("Stripe accepts the key (account {}, {name}).", a.id),
                None => format!("Stripe accepts the key (account {}).", a.id),
            },
            None => {
                "Stripe accepts the key (a restricted key that may not read the account).".into()
            }
        },
    )
}

/// The checks an endpoint Stripe described passes or fails.
pub fn endpoint_checks(endpoint: &WebhookEndpoint, url: &str) -> Vec<AppCheck> {
    let mut checks = Vec::new();
    checks.push(if endpoint.url == url {
        AppCheck::ok(
            CheckCode::WebhookEndpoint,
            format!("Webhook endpoint {} sends to this app's URL.", endpoint.id),
        )
    } else {
        AppCheck::failed(
            CheckCode::WebhookEndpoint,
            format!(
                "Webhook endpoint {} sends to {}, not to this app's URL {url}: Repair points it here.",
                endpoint.id, endpoint.url
            ),
            true,
        )
    });
    checks.push(if endpoint.enabled() {
        AppCheck::ok(CheckCode::EndpointEnabled, "The endpoint is enabled.")
    } else {
        AppCheck::failed(
            CheckCode::EndpointEnabled,
            "The endpoint is disabled in Stripe (Stripe disables endpoints that keep failing): Repair enables it.",
            true,
        )
    });
    let missing = stripe_events::missing(&endpoint.enabled_events);
    checks.push(if missing.is_empty() {
        AppCheck::ok(
            CheckCode::EndpointEvents,
            format!(
                "The endpoint sends the {} event types Keyhook handles.",
                stripe_events::HANDLED.len()
            ),
        )
    } else {
        AppCheck::failed(
            CheckCode::EndpointEvents,
            format!(
                "The endpoint does not send {}: Repair adds them.",
                missing.join(", ")
            ),
            true,
        )
    });
    checks
}

/// A Stripe failure while making or reading the endpoint, as a check saying what to do.
fn endpoint_failure(e: &StripeError, url: &str) -> AppCheck {
    let message = if endpoints::is_permission(e) {
        format!(
            "This restricted key may not manage webhook endpoints. In Stripe (Developers → API keys → edit the key) allow {PERMISSIONS}, then Repair; {MANUAL_PATH}."
        )
    } else if endpoints::is_url_refused(e) {
        format!(
            "Stripe refused this app's webhook URL {url} (Stripe only sends events to public https addresses). Deploy Keyhook at a public address, or forward events with `stripe listen --forward-to {url}` and paste the signing secret it prints under \"Advanced / manual setup\"."
        )
    } else if let StripeError::Unreachable(detail) = e {
        format!("Stripe could not be reached ({detail}): Re-check or Repair later, {MANUAL_PATH}.")
    } else {
        format!("Stripe refused to make the webhook endpoint ({e}): {MANUAL_PATH}.")
    };
    AppCheck::failed(
        CheckCode::WebhookEndpoint,
        message,
        !endpoints::is_url_refused(e),
    )
}

/// Makes the app's webhook endpoint in Stripe, or updates the one Keyhook made before (when
/// its secret is still held), and seals the new signing secret into `app` (not saved; the
/// secret it replaces stays accepted as the previous one). Failures Stripe explains (a
/// permission missing, a URL refused) are returned as failing checks: the app is saved all
/// the same, its manual path open. The checks are the endpoint's.
pub async fn connect_endpoint(
    s: &Services,
    app: &mut StripeApp,
    key: &Secret,
) -> Result<Vec<AppCheck>> {
    let url = webhook_url(s, &app.id);
    match ensure_endpoint(s, app, key, &url).await? {
        Ok(endpoint) => Ok(endpoint_checks(&endpoint, &url)),
        Err(e) => {
            tracing::warn!(error = %e, "could not make the app's webhook endpoint in Stripe");
            Ok(vec![endpoint_failure(&e, &url)])
        }
    }
}

async fn ensure_endpoint(
    s: &Services,
    app: &mut StripeApp,
    key: &Secret,
    url: &str,
) -> Result<std::result::Result<WebhookEndpoint, StripeError>> {
    let all = match endpoints::list(&s.stripe, key).await {
        Ok(all) => all,
        Err(e) => return Ok(Err(e)),
    };
    let ours: Vec<WebhookEndpoint> = all
        .into_iter()
        .filter(|e| {
            e.url == url || e.metadata.get(APP_ID_METADATA).map(String::as_str) == Some(&app.id)
        })
        .collect();
    let description = format!("Keyhook: license keys for {}", app.name);
    let spec = EndpointSpec {
        url,
        enabled_events: &stripe_events::HANDLED,
        description: &description,
        metadata: &[(APP_ID_METADATA, &app.id)],
    };
    let holds_secret = app_secrets::open(s, app, AppSecret::WebhookSecret)
        .await?
        .is_some();
    let known = app.link.webhook_endpoint_id.clone();
    let kept = ours
        .iter()
        .find(|e| holds_secret && Some(&e.id) == known.as_ref())
        .map(|e| e.id.clone());
    let endpoint = match kept {
        Some(id) => {
            match endpoints::update(&s.stripe, key, &id, &spec, &ids::new_id("idem")).await {
                Ok(e) => e,
                Err(e) => return Ok(Err(e)),
            }
        }
        None => {
            let created = match endpoints::create(&s.stripe, key, &spec, &ids::new_id("idem")).await
            {
                Ok(e) => e,
                Err(e) => return Ok(Err(e)),
            };
            let Some(secret) = &created.secret else {
                return Ok(Err(StripeError::Unreachable(
                    "Stripe's answer to the endpoint's creation had no signing secret".into(),
                )));
            };
            let sealed =
                app_secrets::seal(s, app, AppSecret::WebhookSecret, secret.expose()).await?;
            if let Some(old) = app.webhook_secret_sealed.take() {
                // Re-bound to its new field: the sealed value names the field it was sealed for.
                if let Some(old) =
                    app_secrets::open_sealed(s, app, AppSecret::WebhookSecret, &old).await?
                {
                    app.previous_webhook_secret_sealed = Some(
                        app_secrets::seal(s, app, AppSecret::PreviousWebhookSecret, old.expose())
                            .await?,
                    );
                }
            }
            app.webhook_secret_sealed = Some(sealed);
            app.link.last_verified_event_at = None;
            created
        }
    };
    app.link.webhook_endpoint_id = Some(endpoint.id.clone());
    // Never two: the others Keyhook made for this app go.
    for other in ours.iter().filter(|e| e.id != endpoint.id) {
        if let Err(e) = endpoints::delete(&s.stripe, key, &other.id).await {
            tracing::warn!(error = %e, endpoint = %other.id, "could not delete an old endpoint");
        }
    }
    Ok(Ok(endpoint))
}

/// Connects an app by its secret key: the key verified, the account's id noted, the endpoint
/// made (or its failure as a check). Returns the account (for the name and currency defaults)
/// and the checks, which the caller stores with the app.
pub async fn connect(
    s: &Services,
    app: &mut StripeApp,
    key: &Secret,
) -> Result<(Option<Account>, Vec<AppCheck>)> {
    let account = verify_key(s, key).await?;
    app.link.stripe_account_id = account.as_ref().map(|a| a.id.clone());
    let mut checks = vec![key_check(account.as_ref())];
    checks.extend(connect_endpoint(s, app, key).await?);
    app.link.checks = checks.clone();
    app.link.checked_at = Some(crate::time::now());
    Ok((account, checks))
}

/// Asks Stripe about the app now: the key, then the endpoint Keyhook made (none is checked on
/// the manual path: there, a verified event proves the endpoint). Never fails on Stripe's
/// side: what Stripe said (or that it could not be asked) is a check.
pub async fn check(s: &Services, app: &StripeApp) -> Result<Vec<AppCheck>> {
    let Some(key) = app_secrets::open(s, app, AppSecret::SecretKey).await? else {
        return Ok(Vec::new());
    };
    let mut checks = Vec::new();
    match account::retrieve(&s.stripe, &key).await {
        Ok(a) => checks.push(key_check(Some(&a))),
        Err(e) if endpoints::is_permission(&e) => checks.push(key_check(None)),
        Err(StripeError::Api {
            status, message, ..
        }) if (400..500).contains(&status) && status != 429 => {
            checks.push(AppCheck::failed(
                CheckCode::SecretKey,
                format!("Stripe refused this key: {message}. Put a valid secret key on the app."),
                false,
            ));
            return Ok(checks);
        }
        Err(e) => {
            checks.push(AppCheck::failed(
                CheckCode::SecretKey,
                format!("Stripe could not be reached to check the key ({e}); Re-check later."),
                false,
            ));
            return Ok(checks);
        }
    }
    let url = webhook_url(s, &app.id);
    match &app.link.webhook_endpoint_id {
        Some(id) => match endpoints::retrieve(&s.stripe, &key, id).await {
            Ok(e) => checks.extend(endpoint_checks(&e, &url)),
            Err(e) if endpoints::is_missing(&e) => checks.push(AppCheck::failed(
                CheckCode::WebhookEndpoint,
                format!(
                    "The webhook endpoint Keyhook made ({id}) no longer exists in Stripe: Repair makes a new one."
                ),
                true,
            )),
            Err(e) => checks.push(endpoint_failure(&e, &url)),
        },
        None if app.webhook_secret_sealed.is_none() => checks.push(AppCheck::failed(
            CheckCode::WebhookEndpoint,
            format!(
                "No webhook endpoint yet: Repair makes one in the Stripe account (a restricted key needs {PERMISSIONS}), {MANUAL_PATH}."
            ),
            true,
        )),
        None => {}
    }
    Ok(checks)
}

/// Checks the app with Stripe and stores the result on it; the checks.
pub async fn check_and_store(s: &Services, app: &mut StripeApp) -> Result<Vec<AppCheck>> {
    let checks = check(s, app).await?;
    let now = crate::time::now();
    s.store
        .set_app_checks(&app.tenant_id, &app.id, now, &checks)
        .await?;
    app.link.checks = checks.clone();
    app.link.checked_at = Some(now);
    Ok(checks)
}

/// Repairs the app's endpoint (events, enabled, URL; a new endpoint and secret when it is gone
/// or its secret is not held) through its secret key; the caller saves the app. The request
/// carries nothing: a key missing, or one Stripe now refuses, is the app's state (409).
pub async fn repair(s: &Services, app: &mut StripeApp) -> Result<Vec<AppCheck>> {
    let key = app_secrets::open(s, app, AppSecret::SecretKey)
        .await?
        .ok_or_else(|| {
            Error::conflict_at(
                "secretKey",
                "is missing: Keyhook repairs the webhook endpoint through the app's secret key",
            )
        })?;
    match connect(s, app, &key).await {
        Ok((_, checks)) => Ok(checks),
        Err(Error::Validation {
            field: Some(field),
            message,
        }) => Err(Error::conflict_at(field, message)),
        Err(e) => Err(e),
    }
}

/// The checks computed from what Keyhook holds, added to the stored ones when an app is shown:
/// the signing secret, the last verified event, and a never-checked app saying so.
pub fn local_checks(app: &StripeApp, secret_key: bool, webhook_secret: bool) -> Vec<AppCheck> {
    let mut checks = Vec::new();
    if secret_key && app.link.checked_at.is_none() {
        checks.push(AppCheck::failed(
            CheckCode::SecretKey,
            "Not checked with Stripe yet: Re-check asks Stripe.",
            false,
        ));
    }
    checks.push(if webhook_secret {
        AppCheck::ok(
            CheckCode::SigningSecret,
            "The webhook signing secret is stored (sealed).",
        )
    } else {
        AppCheck::failed(
            CheckCode::SigningSecret,
            format!("No webhook signing secret: Repair makes the endpoint and its secret, {MANUAL_PATH}."),
            secret_key,
        )
    });
    checks.push(match app.link.last_verified_event_at {
        Some(at) => AppCheck::ok(
            CheckCode::VerifiedEvent,
            format!(
                "An event from Stripe verified with the signing secret ({}).",
                crate::time::format(at)
            ),
        ),
        None => AppCheck::failed(
            CheckCode::VerifiedEvent,
            "No event from Stripe has verified with the signing secret yet: make a test-mode payment (a Payment Link or Checkout in test mode), or run `stripe trigger checkout.session.completed`.",
            false,
        ),
    });
    checks
}

/// Notes that an event Stripe signed verified for the app (at most once per
/// [`VERIFIED_EVENT_NOTE_EVERY`]; a failure to note is logged, never the event's failure).
pub async fn note_verified_event(s: &Services, app: &StripeApp) {
    let now = crate::time::now();
    if app
        .link
        .last_verified_event_at
        .is_some_and(|t| now - t < VERIFIED_EVENT_NOTE_EVERY)
    {
        return;
    }
    if let Err(e) = s.store.note_app_verified_event(&app.id, now).await {
        tracing::warn!(error = %e, "could not note the app's verified event");
    }
}

/// Deletes the endpoint Keyhook made for an app being deleted (best effort: the app goes
/// either way; an endpoint left behind only fails its deliveries).
pub async fn forget(s: &Services, app: &StripeApp) {
    let Some(id) = &app.link.webhook_endpoint_id else {
        return;
    };
    let Ok(Some(key)) = app_secrets::open(s, app, AppSecret::SecretKey).await else {
        return;
    };
    if let Err(e) = endpoints::delete(&s.stripe, &key, id).await {
        tracing::warn!(error = %e, endpoint = %id, "could not delete the app's endpoint in Stripe");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(url: &str, status: &str, events: &[&str]) -> WebhookEndpoint {
        serde_json::from_value(serde_json::json!({
            "id": "we_1", "url": url, "status": status, "enabled_events": events,
            "metadata": {}, "description": null
        }))
        .unwrap()
    }

    #[test]
    fn an_endpoint_passes_only_at_the_url_enabled_with_every_event() {
        let url = "https://k.example/api/stripe/webhook/app_1";
        let all = endpoint(url, "enabled", &stripe_events::HANDLED);
        assert!(endpoint_checks(&all, url).iter().all(|c| c.ok));
        let star = endpoint(url, "enabled", &["*"]);
        assert!(endpoint_checks(&star, url).iter().all(|c| c.ok));
        let off = endpoint(url, "disabled", &stripe_events::HANDLED[1..]);
        let failed: Vec<_> = endpoint_checks(&off, url)
            .into_iter()
            .filter(|c| !c.ok)
            .collect();
        assert_eq!(failed.len(), 2);
        assert!(failed.iter().all(|c| c.repairable));
        assert!(failed[1].message.contains(stripe_events::HANDLED[0]));
        let elsewhere = endpoint(
            "https://other.example/x",
            "enabled",
            &stripe_events::HANDLED,
        );
        assert!(!endpoint_checks(&elsewhere, url)[0].ok);
    }

    #[test]
    fn failures_say_what_to_do() {
        let api = |status, code: Option<&str>, param: Option<&str>| StripeError::Api {
            status,
            kind: "invalid_request_error".into(),
            code: code.map(str::to_string),
            param: param.map(str::to_string),
            message: "m".into(),
        };
        let url = "http://127.0.0.1:3000/api/stripe/webhook/app_1";
        let c = endpoint_failure(&api(403, None, None), url);
        assert!(c.message.contains("Webhook Endpoints: Write") && c.repairable);
        let c = endpoint_failure(&api(400, Some("url_invalid"), Some("url")), url);
        assert!(c.message.contains("stripe listen") && !c.repairable);
        assert!(key_is_live("rk_live_abc") && !key_is_live("sk_test_abc"));
    }
}
