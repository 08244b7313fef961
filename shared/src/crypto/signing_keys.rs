//! Tenants' Ed25519 signing keys for validation answers, opened once and kept in memory.
//!
//! The seed is sealed in the tenant record under the tenant key; opening it costs a tenant read
//! plus (when the tenant key is not cached) a KMS `Decrypt`. The opened key is cached per tenant
//! for a bounded time (the key cache TTL, at most [`MAX_SIGNER_AGE`]), so a warm validation
//! makes no tenant read and no KMS call: only the license read.

use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use zeroize::Zeroizing;

use crate::cache::LazyCache;
use crate::crypto::{Keyring, SealContext};
use crate::domain::signing_key::SIGNING_KEY_FIELD;
use crate::store::Store;
use crate::{Error, Result};

/// The longest a process keeps signing with a key it opened, whatever the key cache TTL: half
/// of the time clients still trust a retired key's signatures after its `retiredAt`
/// (`keyhook_format::keys::RETIREMENT_TOLERANCE`), so nothing a process signs with a key it
/// opened before a rotation is refused; the other half covers the time between reading the
/// tenant and caching its key, and the clocks of different processes.
pub const MAX_SIGNER_AGE: Duration =
    Duration::from_secs(keyhook_format::keys::RETIREMENT_TOLERANCE.whole_seconds() as u64 / 2);

/// The cache lifetime of an opened signing key for a configured key cache TTL.
fn signer_ttl(key_cache_ttl: Duration) -> Duration {
    key_cache_ttl.min(MAX_SIGNER_AGE)
}

/// A tenant's active signing key and its key id (`kid`, derived from the public key: see
/// `keyhook_format::key_id`).
pub struct Signer {
    pub key: SigningKey,
    pub kid: String,
}

impl Signer {
    pub fn new(key: SigningKey) -> Self {
        let kid = keyhook_format::key_id(key.verifying_key().as_bytes());
        Signer { key, kid }
    }
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).finish()
    }
}

/// The per-process cache of opened signing keys.
#[derive(Clone)]
pub struct SigningKeys {
    keyring: Keyring,
    store: Store,
    cache: LazyCache<String, Arc<Signer>>,
}

impl SigningKeys {
    pub fn new(keyring: Keyring, store: Store, ttl: Duration) -> Self {
        SigningKeys {
            keyring,
            store,
            cache: LazyCache::time_to_live(10_000, signer_ttl(ttl)),
        }
    }

    /// Drops a tenant's cached key (after a rotation, so this process signs with the new one
    /// at once; other processes follow within the cache TTL, while the old key stays published).
    pub fn forget(&self, tenant_id: &str) {
        self.cache.invalidate(tenant_id);
    }

    /// The tenant's active signing key: from memory, else opened from the tenant record.
    pub async fn get(&self, tenant_id: &str) -> Result<Arc<Signer>> {
        if let Some(k) = self.cache.get(tenant_id) {
            return Ok(k);
        }
        let tenant = self
            .store
            .get_tenant(tenant_id)
            .await?
            .ok_or_else(|| Error::internal(format!("tenant {tenant_id} does not exist")))?;
        let seed = self
            .keyring
            .open(
                SealContext {
                    tenant_id,
                    owner: tenant_id,
                    field: SIGNING_KEY_FIELD,
                },
                &tenant.signing_key_sealed,
            )
            .await?
            .map(Zeroizing::new)
            .ok_or_else(|| {
                Error::internal(format!("tenant {tenant_id} signing key does not open"))
            })?;
        let seed: Zeroizing<[u8; 32]> = seed
            .as_slice()
            .try_into()
            .map(Zeroizing::new)
            .map_err(|_| Error::internal("signing key seed is not 32 bytes"))?;
        let key = Arc::new(Signer::new(SigningKey::from_bytes(&seed)));
        self.cache.insert(tenant_id.to_string(), Arc::clone(&key));
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_signs_with_a_key_for_at_most_half_the_retirement_tolerance() {
        assert_eq!(MAX_SIGNER_AGE, Duration::from_secs(300));
        assert_eq!(
            signer_ttl(Duration::from_secs(3600)),
            MAX_SIGNER_AGE,
            "a longer KEYHOOK_KEY_CACHE_SECONDS does not stretch it"
        );
        assert_eq!(signer_ttl(Duration::from_secs(60)), Duration::from_secs(60));
    }
}
