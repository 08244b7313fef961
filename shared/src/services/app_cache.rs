//! What makes the shared webhook URL cheap with thousands of apps: the candidate apps of each
//! mode are cached for a short time, and each app's opened signing secrets for as long as the
//! tenant keys are, keyed by the sealed value itself (a changed secret is a different key, so
//! nothing stale ever verifies). A warm match makes no decryption: it is one HMAC per candidate
//! and one read of the matched app (`routing`). When nothing matches, the list is re-read once
//! (at most once per [`MIN_REFRESH`] per process, however many misses arrive together), so an
//! app created a moment ago still matches at once.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cache::LazyCache;
use crate::crypto::Secret;
use crate::domain::StripeApp;
use crate::services::app_secrets::{self, AppSecret};
use crate::{Result, Services};

/// How long the list of candidate apps is reused. It only narrows the search: the app that
/// matched is read again before use (`routing`), so a change to an app applies at once; a new
/// app is found by the re-read after a miss.
pub const LIST_TTL: Duration = Duration::from_secs(30);
/// Least time between two re-reads forced by a signature that matched nothing: however many
/// bad signatures arrive, at most one forced re-read per mode per interval per process.
pub const MIN_REFRESH: Duration = Duration::from_secs(1);

pub struct AppCache {
    lists: LazyCache<bool, Arc<Vec<StripeApp>>>,
    secrets: LazyCache<String, Arc<Secret>>,
    /// When each mode's list was last read, or a forced re-read claimed.
    last_refresh: Mutex<[Option<Instant>; 2]>,
    /// One list read at a time per process: concurrent requests that find no list wait for
    /// the read in progress instead of each making their own.
    reading: tokio::sync::Mutex<()>,
}

impl AppCache {
    pub fn new(secret_ttl: Duration) -> Self {
        AppCache {
            lists: LazyCache::time_to_live(2, LIST_TTL),
            secrets: LazyCache::time_to_live(100_000, secret_ttl),
            last_refresh: Mutex::new([None, None]),
            reading: tokio::sync::Mutex::new(()),
        }
    }

    /// The active apps with a signing secret in one mode, across tenants.
    pub async fn apps(&self, s: &Services, is_live: bool) -> Result<Arc<Vec<StripeApp>>> {
        if let Some(apps) = self.lists.get(&is_live) {
            return Ok(apps);
        }
        let _reading = self.reading.lock().await;
        if let Some(apps) = self.lists.get(&is_live) {
            return Ok(apps);
        }
        self.read(s, is_live).await
    }

    /// Reads the list from the table (callers hold `reading`).
    async fn read(&self, s: &Services, is_live: bool) -> Result<Arc<Vec<StripeApp>>> {
        let apps = Arc::new(s.store.webhook_apps(is_live).await?);
        self.lists.insert(is_live, Arc::clone(&apps));
        self.mark_read(is_live, Instant::now());
        Ok(apps)
    }

    fn mark_read(&self, is_live: bool, at: Instant) {
        // A poisoned lock only means another request panicked mid-update of two instants.
        let mut last = self
            .last_refresh
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        last[usize::from(is_live)] = Some(at);
    }

    /// Re-reads the list after a miss, unless it was read (or a re-read was claimed) less
    /// than [`MIN_REFRESH`] ago; `None` when skipped. The check and the claim are one step,
    /// so concurrent misses cannot all re-read.
    pub async fn refresh_after_miss(
        &self,
        s: &Services,
        is_live: bool,
    ) -> Result<Option<Arc<Vec<StripeApp>>>> {
        {
            let mut last = self
                .last_refresh
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let slot = &mut last[usize::from(is_live)];
            if slot.is_some_and(|t| t.elapsed() < MIN_REFRESH) {
                return Ok(None);
            }
            *slot = Some(Instant::now());
        }
        let _reading = self.reading.lock().await;
        self.read(s, is_live).await.map(Some)
    }
    /// Corrects one app in the cached list of its mode, as read just now (`None`: deleted):
    /// a stale candidate found by a match is fixed at once, without re-reading the list. An
    /// app that can no longer match (deleted, inactive, no signing secret) leaves the list.
    pub fn correct(&self, app_id: &str, is_live: bool, current: Option<&StripeApp>) {
        let Some(list) = self.lists.get(&is_live) else {
            return;
        };
        let mut apps: Vec<StripeApp> = list.iter().filter(|a| a.id != app_id).cloned().collect();
        if let Some(app) = current
            .filter(|a| a.active && a.is_live == is_live && a.webhook_secret_sealed.is_some())
        {
            apps.push(app.clone());
        }
        self.lists.insert(is_live, Arc::new(apps));
    }

    /// An app's opened secret, from the cache or by opening it.
    pub async fn secret(
        &self,
        s: &Services,
        app: &StripeApp,
        which: AppSecret,
    ) -> Result<Option<Arc<Secret>>> {
        let sealed = match which {
            AppSecret::WebhookSecret => app.webhook_secret_sealed.as_deref(),
            AppSecret::PreviousWebhookSecret => app.previous_webhook_secret_sealed.as_deref(),
            AppSecret::SecretKey => app.secret_key_sealed.as_deref(),
        };
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        // The sealed text names tenant key and nonce: unique per value, so it is the cache key.
        let cache_key = format!("{}|{sealed}", app.id);
        if let Some(secret) = self.secrets.get(&cache_key) {
            return Ok(Some(secret));
        }
        let Some(secret) = app_secrets::open(s, app, which).await? else {
            return Ok(None);
        };
        let secret = Arc::new(secret);
        self.secrets.insert(cache_key, Arc::clone(&secret));
        Ok(Some(secret))
    }
}
