//! Timestamps as Keyhook writes them: RFC 3339 in UTC with milliseconds
//! (`2026-11-24T10:00:00.000Z`).

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::VerifyError;

/// Fixed-width RFC 3339 with milliseconds and `Z`.
pub fn format(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Parses an RFC 3339 timestamp of a signed document.
pub fn parse(field: &str, s: &str) -> Result<OffsetDateTime, VerifyError> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|_| VerifyError::Malformed(format!("{field} is not an RFC 3339 timestamp")))
}
