//! Times as tests write and read them: Unix seconds, as Stripe's events carry them.

use serde_json::Value;

/// A day in seconds.
pub const DAY: i64 = 86_400;

/// The wall clock now, in Unix seconds (a stack's own clock is [`crate::Stack::now`]).
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A license's `expiresAt` as the admin API answers it, in Unix seconds; `None` if perpetual.
pub fn expiry(license: &Value) -> Option<i64> {
    license["expiresAt"].as_str().map(|t| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
            .unwrap()
            .unix_timestamp()
    })
}
