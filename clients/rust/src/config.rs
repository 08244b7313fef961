//! What the merchant decides: where Keyhook is, which product, which keys to trust, how long
//! the app may run offline.

use std::path::PathBuf;

use time::{Duration, OffsetDateTime};

use crate::Error;
use keyhook_format::PublicKeySet;

/// The build the app is: `Live` (default) refuses licenses from Stripe test-mode payments
/// (online, Keyhook answers `TEST_LICENSE`; offline, a test license's file or cached answer is
/// refused with `VerifyError::TestLicense`); `Test` accepts them (for your own test builds).
/// Live licenses are good in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Environment {
    #[default]
    Live,
    Test,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Live => "live",
            Environment::Test => "test",
        }
    }
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Keyhook's base URL (`https://…`, no trailing slash needed).
    pub base_url: String,
    /// The product this app is.
    pub product_id: String,
    /// The tenant's public keys (`GET /api/tenants/{tenantId}/signing-keys`), embedded.
    pub keys: PublicKeySet,
    pub environment: Environment,
    /// A live build that also trusts test licenses (default false): set it when the product
    /// has `acceptTestLicenses: true`, for which Keyhook answers test licenses `VALID` in live
    /// builds too.
    pub accept_test_licenses: bool,
    /// Oldest online answer accepted (default 5 minutes).
    pub max_answer_age: Duration,
    /// Tolerated clock difference with Keyhook (default 5 minutes), and how far behind the
    /// clock mark (the highest local time this app has observed) the clock may be before it
    /// counts as set back (jitter, a correction by NTP).
    pub clock_skew: Duration,
    /// How long after the last good online answer the app keeps working offline on it
    /// (default 7 days). License files have their own expiry.
    pub grace: Duration,
    /// Where the last good answer, license file and clock mark are kept (`None`: in memory
    /// only, so nothing survives a restart). One directory per product.
    pub cache_dir: Option<PathBuf>,
    /// Timeout of one HTTP request (default 10 s).
    pub timeout: std::time::Duration,
    /// The clock (tests set it; apps keep the system clock).
    pub clock: fn() -> OffsetDateTime,
}

impl Config {
    /// Whether this build trusts test licenses (a test build, or `accept_test_licenses`).
    pub fn accepts_test_licenses(&self) -> bool {
        self.environment == Environment::Test || self.accept_test_licenses
    }

    /// Settings with defaults, trusting the key set in `keys_json` (the body of
    /// `GET /api/tenants/{tenantId}/signing-keys`).
    pub fn new(base_url: &str, product_id: &str, keys_json: &str) -> Result<Self, Error> {
        let keys = PublicKeySet::from_json(keys_json.as_bytes())?;
        if keys.is_empty() {
            return Err(Error::Config("the key set has no Ed25519 key".into()));
        }
        Ok(Config {
            base_url: base_url.trim_end_matches('/').to_string(),
            product_id: product_id.to_string(),
            keys,
            environment: Environment::Live,
            accept_test_licenses: false,
            max_answer_age: Duration::minutes(5),
            clock_skew: Duration::minutes(5),
            grace: Duration::days(7),
            cache_dir: None,
            timeout: std::time::Duration::from_secs(10),
            clock: OffsetDateTime::now_utc,
        })
    }
}
