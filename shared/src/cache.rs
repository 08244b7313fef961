//! Per-process caches built on their first use.
//!
//! Why: `Services` holds every cache any function uses (webhook secrets, tenant keys, signing
//! keys, per-IP budgets, reads), and a moka cache allocates and initialises about 27 KB (its
//! read and write logs) when it is built. Built eagerly, that was about 220 KB of heap and 60
//! page faults in every function's cold start, mostly for caches the function never touches
//! (validation never reads a webhook secret). A [`LazyCache`] builds its cache on the first
//! call that uses it; its clones share the one cache, as clones of a moka cache do.

use std::fmt;
use std::hash::Hash;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use moka::sync::Cache;

/// A moka cache built on first use (see the module doc), with the policy its constructor names.
pub struct LazyCache<K, V> {
    cell: Arc<OnceLock<Cache<K, V>>>,
    build: Arc<dyn Fn() -> Cache<K, V> + Send + Sync>,
}

impl<K, V> LazyCache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn new(build: impl Fn() -> Cache<K, V> + Send + Sync + 'static) -> Self {
        LazyCache {
            cell: Arc::new(OnceLock::new()),
            build: Arc::new(build),
        }
    }

    /// At most `capacity` entries, each dropped `ttl` after it was written.
    pub fn time_to_live(capacity: u64, ttl: Duration) -> Self {
        Self::new(move || {
            Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build()
        })
    }

    /// At most `capacity` entries, each dropped after `idle` without a read or write.
    pub fn time_to_idle(capacity: u64, idle: Duration) -> Self {
        Self::new(move || {
            Cache::builder()
                .max_capacity(capacity)
                .time_to_idle(idle)
                .build()
        })
    }

    #[cfg(test)]
    fn is_built(&self) -> bool {
        self.cell.get().is_some()
    }
}

impl<K, V> Deref for LazyCache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    type Target = Cache<K, V>;

    fn deref(&self) -> &Cache<K, V> {
        self.cell.get_or_init(|| (self.build)())
    }
}

impl<K, V> Clone for LazyCache<K, V> {
    fn clone(&self) -> Self {
        LazyCache {
            cell: Arc::clone(&self.cell),
            build: Arc::clone(&self.build),
        }
    }
}

impl<K, V> fmt::Debug for LazyCache<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyCache")
            .field("built", &self.cell.get().is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    use super::*;

    #[test]
    fn built_once_on_first_use_and_shared_by_clones() {
        let builds = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&builds);
        let cache: LazyCache<String, u32> = LazyCache::new(move || {
            counted.fetch_add(1, SeqCst);
            Cache::new(10)
        });
        let clone = cache.clone();
        assert!(!cache.is_built());
        assert_eq!(builds.load(SeqCst), 0, "nothing is built before first use");
        clone.insert("a".into(), 1);
        assert!(cache.is_built(), "a clone's use builds the shared cache");
        assert_eq!(cache.get("a"), Some(1), "clones see one cache");
        cache.invalidate("a");
        assert_eq!(clone.get("a"), None);
        assert_eq!(builds.load(SeqCst), 1, "built once");
    }
}
