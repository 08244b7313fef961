//! Which Stripe app sent this event: the one whose signing secret verifies the signature.
//! Candidates are narrowed by URL (`/webhook/{appId}`: that app, read on each request), by
//! `?tenantId=`/`?teamId=` (that tenant's share of the shared URL's candidates), and by the
//! event's mode; the current and the previous signing secret (during a roll) both verify. The
//! shared URL's candidates and every opened secret come from [`AppCache`] when warm; the app
//! that matched there is then read again (one GetItem), so a deactivated, deleted or re-keyed
//! app, or one whose tenant was deleted, never matches, and its current settings apply.
//!
//! Cost of a signature that verifies nothing: one HMAC of the body per candidate secret (the
//! scan stops at the first match), and at most one forced re-read of the list per interval per
//! process ([`AppCache::refresh_after_miss`]); no other AWS call. On the shared URL that is
//! work per app of every tenant, so only requests from Stripe's webhook addresses, with bodies
//! no larger than Stripe's events, get this far (`shared_url`).

use crate::domain::StripeApp;
use crate::services::app_cache::AppCache;
use crate::services::app_secrets::AppSecret;
use crate::stripe::signature::SignatureHeader;
use crate::{Error, Result, Services};

/// An app whose secret verified the signature, and which of its sealed secrets did.
struct Matched {
    app: StripeApp,
    sealed: String,
}

pub(super) async fn match_app(
    s: &Services,
    signature: &SignatureHeader,
    body: &[u8],
    app_id: Option<&str>,
    tenant_id: Option<&str>,
    livemode: bool,
) -> Result<StripeApp> {
    let cache = &s.webhook_apps;
    let found = match app_id {
        Some(id) => {
            let apps: Vec<StripeApp> = s.store.get_app(id).await?.into_iter().collect();
            first_match(s, cache, &apps, signature, body).await?
        }
        // The shared URL, or the shared URL narrowed to one tenant: the cached candidates.
        None => {
            let in_scope = |a: &&StripeApp| tenant_id.is_none_or(|t| a.tenant_id == t);
            let apps = cache.apps(s, livemode).await?;
            let scoped = apps.iter().filter(in_scope);
            let mut found = match first_match(s, cache, scoped, signature, body).await? {
                Some(m) => still_current(s, cache, m, signature, body).await?,
                None => None,
            };
            // Nothing (or only a stale candidate) matched: re-read the list, at most once per
            // interval, and try again (a new app, or a new secret).
            if found.is_none() {
                if let Some(fresh) = cache.refresh_after_miss(s, livemode).await? {
                    let scoped = fresh.iter().filter(in_scope);
                    found = match first_match(s, cache, scoped, signature, body).await? {
                        Some(m) => still_current(s, cache, m, signature, body).await?,
                        None => None,
                    };
                }
            }
            found
        }
    };
    found.map(|m| m.app).ok_or_else(|| Error::BadRequest {
        code: "no_app_matched_signature",
        message: "no active Stripe app's webhook signing secret verifies this signature".into(),
    })
}

/// The app as it is now, if it still exists, is active and still verifies the signature (a
/// candidate from the cached list may be up to the list's lifetime old). The secret that
/// verified is usually still stored as it was; when its sealed text changed (a rolled secret,
/// or the same secret re-sealed under a new tenant key), the current secrets decide.
async fn still_current(
    s: &Services,
    cache: &AppCache,
    m: Matched,
    signature: &SignatureHeader,
    body: &[u8],
) -> Result<Option<Matched>> {
    let fresh = s.store.get_app(&m.app.id).await?;
    let stale = fresh
        .as_ref()
        .is_none_or(|app| !app.active || app.webhook_secret_sealed != m.app.webhook_secret_sealed);
    if stale {
        cache.correct(&m.app.id, m.app.is_live, fresh.as_ref());
    }
    let Some(app) = fresh else {
        tracing::info!(app_id = %m.app.id, "matched a deleted app; refused");
        return Ok(None);
    };
    if !app.active {
        tracing::info!(app_id = %app.id, "matched a deactivated app; refused");
        return Ok(None);
    }
    let holds = [
        app.webhook_secret_sealed.as_deref(),
        app.previous_webhook_secret_sealed.as_deref(),
    ]
    .contains(&Some(m.sealed.as_str()));
    if holds {
        return Ok(Some(Matched {
            app,
            sealed: m.sealed,
        }));
    }
    let current = first_match(s, cache, [&app], signature, body).await?;
    if current.is_none() {
        tracing::info!(app_id = %app.id, "matched a re-keyed app; refused");
    }
    Ok(current)
}

async fn first_match<'a>(
    s: &Services,
    cache: &AppCache,
    apps: impl IntoIterator<Item = &'a StripeApp>,
    signature: &SignatureHeader,
    body: &[u8],
) -> Result<Option<Matched>> {
    for app in apps.into_iter().filter(|a| a.active) {
        for which in [AppSecret::WebhookSecret, AppSecret::PreviousWebhookSecret] {
            if let Some(secret) = cache.secret(s, app, which).await? {
                if signature.verifies(secret.expose(), body) {
                    let sealed = match which {
                        AppSecret::WebhookSecret => app.webhook_secret_sealed.clone(),
                        _ => app.previous_webhook_secret_sealed.clone(),
                    };
                    return Ok(Some(Matched {
                        app: app.clone(),
                        sealed: sealed.unwrap_or_default(),
                    }));
                }
            }
        }
    }
    Ok(None)
}
