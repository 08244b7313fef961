//! Admin routes: everything a merchant manages, always scoped to the tenant of the caller's
//! API token. One module per resource.

pub mod apps;
pub mod currencies;
pub mod events;
pub mod license_import;
pub mod licenses;
pub mod payment_links;
pub mod plans;
pub mod portal_settings;
pub mod price_mappings;
pub mod products;
pub mod signing_keys;
pub mod tenant;
pub mod tenant_keys;
pub mod tokens;
pub mod webhook_endpoints;

use time::OffsetDateTime;

use crate::http::auth::{self, Caller};
use crate::http::ApiRequest;
use crate::{Result, Services};

/// Authenticates an admin request.
pub async fn caller(s: &Services, req: &ApiRequest) -> Result<Caller> {
    auth::authenticate(&s.store, req).await
}

/// Timestamps in responses: RFC 3339, UTC.
pub(crate) fn ts(t: OffsetDateTime) -> String {
    crate::time::format(t)
}

/// `Option<T>` fields of update bodies distinguish "absent" (keep) from a value.
pub(crate) fn merge<T>(current: T, update: Option<T>) -> T {
    update.unwrap_or(current)
}
