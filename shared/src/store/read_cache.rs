//! Per-process caches of the reads on hot paths that tolerate a short, bounded staleness
//! (fewer AWS calls per request). Each is bounded in size and in age:
//!
//! - **API tokens** (admin authentication, [`Store::authenticating_token`]): a token found is
//!   reused for `KEYHOOK_TOKEN_CACHE_SECONDS` (default 30 s). A token revoked (or its tenant
//!   deleted) through this process stops working at once (the delete drops the entry); in
//!   other processes within that time. Unknown tokens are never cached: each is one read.
//! - **Products by reference** (purchase webhook, mailer, [`Store::resolve_product_cached`]):
//!   a product found by id or external id is reused for `KEYHOOK_PRODUCT_CACHE_SECONDS`
//!   (default 10 s). A change made through this process applies at once (every product or
//!   alias write clears the cache); made through another process, within that time.
//!   Products not found are never cached.

use std::time::Duration;

use crate::cache::LazyCache;
use crate::domain::{ApiToken, Product};

/// Entries each cache holds at most (least recently used go first).
pub const MAX_ENTRIES: u64 = 10_000;
/// Default lifetime of a cached token.
pub const TOKEN_TTL: Duration = Duration::from_secs(30);
/// Default lifetime of a cached product.
pub const PRODUCT_TTL: Duration = Duration::from_secs(10);

/// Built on first use ([`LazyCache`]): a function that never reads a token or a product
/// (validation) does not pay for building them at its start.
pub(crate) struct ReadCaches {
    /// By token hash.
    pub tokens: LazyCache<String, ApiToken>,
    /// By (tenant id, product id or external id).
    pub products: LazyCache<(String, String), Product>,
}

fn cache<K, V>(ttl: Duration) -> LazyCache<K, V>
where
    K: crate::cache::CacheKey + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    // moka refuses a zero lifetime; 1 ns caches nothing in practice.
    LazyCache::time_to_live(MAX_ENTRIES, ttl.max(Duration::from_nanos(1)))
}

impl ReadCaches {
    pub fn new(token_ttl: Duration, product_ttl: Duration) -> Self {
        ReadCaches {
            tokens: cache(token_ttl),
            products: cache(product_ttl),
        }
    }
}
