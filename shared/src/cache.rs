//! Per-process caches built on their first use.
//!
//! Why built on first use: `Services` holds every cache any function uses (webhook secrets,
//! tenant keys, signing keys, per-IP budgets, reads), and a moka cache allocates and
//! initialises its read and write logs when it is built. Built eagerly, every function's cold
//! start would pay for caches it never touches (validation never reads a webhook secret;
//! docs/deploy.md, "Performance", has the figures). A [`LazyCache`]
//! builds its cache on the first call that uses it; its clones share the one cache.
//!
//! Why the keys are stored as text and the values type-erased: moka's code is generic over the
//! key and value types, and each pair used would be compiled again, in every function's binary
//! (some 65 KB of code per pair). A [`LazyCache`] stores each key as its [`CacheKey`] text and
//! each value behind an `Arc<dyn Any>`, so moka is compiled once, while the cache's own methods
//! stay typed: a cache only ever takes the `K` and holds the `V` it was declared with.

use std::any::Any;
use std::borrow::Borrow;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use moka::sync::Cache;

/// A value as the moka cache holds it.
type Erased = Arc<dyn Any + Send + Sync>;

/// The one moka cache type every [`LazyCache`] is.
type Store = Cache<String, Erased>;

/// A key as a [`LazyCache`] stores it: text that tells keys apart as the key's own equality
/// does.
pub trait CacheKey {
    fn cache_key(&self) -> Cow<'_, str>;
}

impl CacheKey for str {
    fn cache_key(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl CacheKey for String {
    fn cache_key(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl CacheKey for bool {
    fn cache_key(&self) -> Cow<'_, str> {
        Cow::Borrowed(if *self { "true" } else { "false" })
    }
}

/// The first part's length in front: `("a:b", "c")` and `("a", "b:c")` stay two keys.
impl CacheKey for (String, String) {
    fn cache_key(&self) -> Cow<'_, str> {
        Cow::Owned(format!("{}:{}{}", self.0.len(), self.0, self.1))
    }
}

/// A bounded moka cache of `V` by `K`, built on first use (see the module doc), with the
/// policy its constructor names.
pub struct LazyCache<K, V> {
    cell: Arc<OnceLock<Store>>,
    build: Arc<dyn Fn() -> Store + Send + Sync>,
    types: PhantomData<fn(K) -> V>,
}

impl<K, V> LazyCache<K, V>
where
    K: CacheKey + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn new(build: impl Fn() -> Store + Send + Sync + 'static) -> Self {
        LazyCache {
            cell: Arc::new(OnceLock::new()),
            build: Arc::new(build),
            types: PhantomData,
        }
    }

    /// At most `capacity` entries, with no lifetime (only the bound evicts).
    pub fn bounded(capacity: u64) -> Self {
        Self::new(move || Cache::new(capacity))
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

    fn cache(&self) -> &Store {
        self.cell.get_or_init(|| (self.build)())
    }

    /// The value stored for `key`, if any (a clone).
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: CacheKey + ?Sized,
    {
        self.cache()
            .get(key.cache_key().as_ref())
            .map(|value| typed::<V>(&value))
    }

    pub fn insert(&self, key: K, value: V) {
        self.cache()
            .insert(key.cache_key().into_owned(), Arc::new(value));
    }

    /// The value stored for `key`, or the one `init` makes, stored; concurrent callers for
    /// one key get the same value (moka runs one `init`).
    pub fn get_with_by_ref<Q>(&self, key: &Q, init: impl FnOnce() -> V) -> V
    where
        K: Borrow<Q>,
        Q: CacheKey + ?Sized,
    {
        let value = self
            .cache()
            .get_with_by_ref(key.cache_key().as_ref(), || Arc::new(init()) as Erased);
        typed::<V>(&value)
    }

    pub fn invalidate<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: CacheKey + ?Sized,
    {
        self.cache().invalidate(key.cache_key().as_ref());
    }

    pub fn invalidate_all(&self) {
        self.cache().invalidate_all();
    }

    #[cfg(test)]
    fn is_built(&self) -> bool {
        self.cell.get().is_some()
    }
}

/// The `V` behind a stored value: every value of a `LazyCache<K, V>` was stored by its typed
/// methods, so it is a `V`.
fn typed<V: Clone + 'static>(value: &Erased) -> V {
    value
        .downcast_ref::<V>()
        .expect("a LazyCache holds only its own value type")
        .clone()
}

impl<K, V> Clone for LazyCache<K, V> {
    fn clone(&self) -> Self {
        LazyCache {
            cell: Arc::clone(&self.cell),
            build: Arc::clone(&self.build),
            types: PhantomData,
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

    #[test]
    fn get_with_runs_init_once_per_key() {
        let cache: LazyCache<String, Arc<u32>> = LazyCache::bounded(10);
        let first = cache.get_with_by_ref("ip", || Arc::new(1));
        let second = cache.get_with_by_ref("ip", || Arc::new(2));
        assert!(
            Arc::ptr_eq(&first, &second),
            "the stored value, not a new one"
        );
        cache.invalidate_all();
        assert_eq!(cache.get("ip"), None);
    }

    #[test]
    fn keys_stay_apart_as_their_own_equality_says() {
        let pairs: LazyCache<(String, String), u32> = LazyCache::bounded(10);
        pairs.insert(("a:b".into(), "c".into()), 1);
        pairs.insert(("a".into(), "b:c".into()), 2);
        assert_eq!(pairs.get(&("a:b".to_string(), "c".to_string())), Some(1));
        assert_eq!(pairs.get(&("a".to_string(), "b:c".to_string())), Some(2));
        let flags: LazyCache<bool, u32> = LazyCache::bounded(2);
        flags.insert(true, 1);
        assert_eq!((flags.get(&true), flags.get(&false)), (Some(1), None));
    }
}
