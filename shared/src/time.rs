//! Timestamps: UTC, RFC 3339 with millisecond precision and a `Z`, so that their text sorts
//! in time order (we use them in DynamoDB sort keys).

use time::{format_description::well_known::Rfc3339, OffsetDateTime, UtcOffset};

/// The current time, truncated to milliseconds.
pub fn now() -> OffsetDateTime {
    truncate(OffsetDateTime::now_utc())
}

fn truncate(t: OffsetDateTime) -> OffsetDateTime {
    let ms = t.millisecond();
    t.replace_nanosecond(ms as u32 * 1_000_000)
        .expect("valid nanosecond")
        .to_offset(UtcOffset::UTC)
}

/// Fixed-width RFC 3339 (`2026-11-24T10:00:00.000Z`), sortable as text: the same text the
/// client crate (`keyhook-format`) writes in signed documents.
pub fn format(t: OffsetDateTime) -> String {
    keyhook_format::time_fmt::format(truncate(t))
}

/// An RFC 3339 timestamp, in UTC. `None` for text that is not one, and for a time whose UTC
/// date falls outside years 0000 to 9999 (`9999-12-31T23:00:00-05:00`): [`format`] could not
/// write it back as it reads (and converting it would panic).
pub fn parse(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()?
        .checked_to_offset(UtcOffset::UTC)
        .filter(|t| (0..=9999).contains(&t.year()))
        .map(truncate)
}

pub fn from_unix(secs: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(secs).ok()
}

/// Serde helpers for `OffsetDateTime` fields in our fixed format.
pub mod serde_ts {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let s = String::deserialize(d)?;
        super::parse(&s).ok_or_else(|| serde::de::Error::custom("invalid RFC 3339 timestamp"))
    }

    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(
            t: &Option<OffsetDateTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_some(&crate::time::format(*t)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<OffsetDateTime>, D::Error> {
            let s = Option::<String>::deserialize(d)?;
            match s {
                None => Ok(None),
                Some(s) => crate::time::parse(&s)
                    .map(Some)
                    .ok_or_else(|| serde::de::Error::custom("invalid RFC 3339 timestamp")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_is_fixed_width_and_round_trips() {
        let t = from_unix(1_700_000_000).unwrap();
        let s = format(t);
        assert_eq!(s, "2023-11-14T22:13:20.000Z");
        assert_eq!(parse(&s).unwrap(), t);
    }

    #[test]
    fn times_whose_utc_date_leaves_years_0_to_9999_do_not_parse() {
        let last = parse("9999-12-31T23:59:59.999Z").unwrap();
        assert_eq!(format(last), "9999-12-31T23:59:59.999Z");
        assert_eq!(
            parse("9999-12-31T23:59:59+01:00").map(format).as_deref(),
            Some("9999-12-31T22:59:59.000Z")
        );
        assert_eq!(parse("9999-12-31T23:59:59-01:00"), None);
        assert_eq!(parse("0000-01-01T00:00:00+01:00"), None);
        assert!(parse("0000-01-01T00:00:00Z").is_some());
    }
}
