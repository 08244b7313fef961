//! Usage limits: a product's meters (`exports: 1,000 a month`) and the counts a license used.
//! The counts live on the license item next to the license
//! ([`LicenseUsage::meters`](super::LicenseUsage)), written by one conditional write on their
//! own version (`meterVersion`), like leases: a record is one read and one write, and a write
//! decided on a stale read is decided again, so no two requests spend the same remainder.
//!
//! Idempotency: each meter keeps the last [`KEPT_KEYS`] idempotency keys it recorded with what
//! they answered; a retry of one of them answers the same and counts nothing. The list is
//! bounded so the license item stays within DynamoDB's 400 KB next to devices and leases.
//!
//! Pure rules over one read: [`check_meters`], [`window`], [`record`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime, Time};

use crate::domain::License;

/// Most meters a product defines.
pub const MAX_METERS: usize = 20;
/// Largest limit (and quantity) of a meter.
pub const MAX_LIMIT: u64 = 1_000_000_000_000;
/// A meter's name.
pub const NAME_PATTERN: &str = "^[a-z0-9_.-]{1,40}$";
/// A Stripe Billing Meter's `event_name`.
pub const STRIPE_EVENT_PATTERN: &str = "^[A-Za-z0-9_.:-]{1,100}$";
/// An idempotency key.
pub const IDEMPOTENCY_KEY_PATTERN: &str = "^[\\x21-\\x7e]{1,64}$";
/// Idempotency keys remembered per meter (a retry after this many other records of the same
/// meter counts again): at most 20 meters × 32 × ~100 bytes on the license item.
pub const KEPT_KEYS: usize = 32;
/// Reports to Stripe a license keeps waiting, all meters together (~250 bytes each on the
/// license item). Reached only when Stripe has been unreachable for a long time: a record
/// that would add one more is refused (retried later with its idempotency key), never
/// counted without its bill.
pub const MAX_PENDING_REPORTS: usize = 200;
/// Longest Stripe refusal kept on a meter (`lastFailure`).
const FAILURE_MAX: usize = 300;

/// The window a meter's limit counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MeterPeriod {
    /// The UTC calendar month.
    Month,
    /// The license's paid period (up to its expiry); a calendar month for licenses without one.
    Subscription,
    /// Never resets.
    Lifetime,
}

/// A product's meter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Meter {
    /// 1–40 of `a-z 0-9 _ . -`; unique within the product.
    #[schemars(extend("pattern" = NAME_PATTERN))]
    pub name: String,
    /// Most units a license records per period (1 to 10^12).
    #[schemars(extend("minimum" = 1, "maximum" = MAX_LIMIT))]
    pub limit: u64,
    pub period: MeterPeriod,
    /// A Stripe Billing Meter's event name: accepted usage is reported to Stripe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = STRIPE_EVENT_PATTERN))]
    pub stripe_meter_event: Option<String>,
}

fn matches(pattern_chars: impl Fn(u8) -> bool, s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(pattern_chars)
}

/// Whether `name` is a meter name ([`NAME_PATTERN`]).
pub fn is_name(name: &str) -> bool {
    matches(
        |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b),
        name,
        40,
    )
}

/// Whether `key` is an idempotency key ([`IDEMPOTENCY_KEY_PATTERN`]).
pub fn is_idempotency_key(key: &str) -> bool {
    matches(|b| (0x21..=0x7e).contains(&b), key, 64)
}

/// Why a product's meters are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeterRefusal {
    /// A meter breaks a rule of its own (published in the schema): a validation error.
    Invalid(String),
    /// Two meters share a name: each is valid alone (the schema cannot say "unique by name"),
    /// so this is a conflict between them.
    NamedTwice(String),
}

/// Checks a product's meters as the admin API receives them.
pub fn check_meters(meters: &[Meter]) -> Result<(), MeterRefusal> {
    check_each(meters).map_err(|(_, message)| MeterRefusal::Invalid(message))?;
    for (i, m) in meters.iter().enumerate() {
        if meters[..i].iter().any(|o| o.name == m.name) {
            return Err(MeterRefusal::NamedTwice(format!(
                "meter {} is named twice",
                m.name
            )));
        }
    }
    Ok(())
}

/// The rules each meter keeps alone; the field and what is wrong.
fn check_each(meters: &[Meter]) -> Result<(), (&'static str, String)> {
    if meters.len() > MAX_METERS {
        return Err(("meters", format!("must be at most {MAX_METERS} meters")));
    }
    for (i, m) in meters.iter().enumerate() {
        if !is_name(&m.name) {
            return Err((
                "meters",
                format!("meter {}: name must be 1 to 40 of a-z, 0-9, _ . -", i + 1),
            ));
        }
        if !(1..=MAX_LIMIT).contains(&m.limit) {
            return Err((
                "meters",
                format!("meter {}: limit must be 1 to {MAX_LIMIT}", m.name),
            ));
        }
        if let Some(e) = &m.stripe_meter_event {
            let ok = |b: u8| b.is_ascii_alphanumeric() || b"_.:-".contains(&b);
            if !matches(ok, e, 100) {
                return Err((
                    "meters",
                    format!(
                        "meter {}: stripeMeterEvent must be 1 to 100 of A-Z, a-z, 0-9, _ . : -",
                        m.name
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The period a record counts in: its key and when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// `2026-12` (month), `until-2027-01-15T10:00:00Z` (subscription), `lifetime`.
    pub key: String,
    pub resets_at: Option<OffsetDateTime>,
}

fn month_window(now: OffsetDateTime) -> Window {
    let (y, m) = (now.year(), now.month());
    let (ny, nm) = if m == Month::December {
        (y + 1, Month::January)
    } else {
        (y, m.next())
    };
    let start = Date::from_calendar_date(ny, nm, 1)
        .expect("the first of a month")
        .with_time(Time::MIDNIGHT)
        .assume_utc();
    Window {
        key: format!("{y:04}-{:02}", m as u8),
        resets_at: Some(start),
    }
}

/// The window of `period` for `license` at `now`. A subscription's paid period ends at the
/// license's expiry (renewals move it), so the window is named by that end; a license without
/// a future expiry counts by calendar month.
pub fn window(period: MeterPeriod, license: &License, now: OffsetDateTime) -> Window {
    match period {
        MeterPeriod::Month => month_window(now),
        MeterPeriod::Lifetime => Window {
            key: "lifetime".into(),
            resets_at: None,
        },
        MeterPeriod::Subscription => match license.expires_at.filter(|e| *e > now) {
            Some(end) => Window {
                key: format!("until-{}", crate::time::format(end)),
                resets_at: Some(end),
            },
            None => month_window(now),
        },
    }
}

/// A record remembered for its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// The idempotency key.
    pub k: String,
    /// The period it counted in, and the count after it.
    pub p: String,
    pub used: u64,
}

/// What a license used of one meter in its current period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterCount {
    /// The period counted ([`Window::key`]); a record in another starts again from 0.
    pub period: String,
    pub used: u64,
    /// The most recent records, oldest first (at most [`KEPT_KEYS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<Recorded>,
    /// When a record was last refused at the limit (epoch seconds), recorded at most once an
    /// hour: the stream makes each record a `license.usage_limit_reached` event.
    #[serde(rename = "reachedAt", default, skip_serializing_if = "Option::is_none")]
    pub reached_at: Option<i64>,
    /// Accepted records still to report to Stripe (meters with a `stripeMeterEvent`): written
    /// with the record in the same conditional write, removed once Stripe has them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<MeterReport>,
    /// Units reported to Stripe in this period.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reported: u64,
    /// Units Stripe refused for good (a meter event name it does not know, a customer it
    /// deleted): taken off `pending` so they neither block nor pile up, and shown with
    /// Stripe's words (`last_failure`) on the license page.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed: u64,
    #[serde(
        rename = "lastFailure",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_failure: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One accepted record to report as a Stripe Billing Meter event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterReport {
    /// The meter event's `identifier` (`{licenseId}:{meter}:{idempotencyKey}`): Stripe drops
    /// a second event with the same one, so a report sent twice bills once.
    pub id: String,
    /// The Stripe Billing Meter's `event_name`.
    pub event: String,
    pub value: u64,
    /// When the record was accepted (epoch seconds): the event's `timestamp`.
    pub at: i64,
}

/// Longest meter event `identifier` Stripe takes.
pub const REPORT_ID_MAX: usize = 100;

/// The meter event identifier of a record: `{licenseId}:{meter}:{idempotencyKey}`, or, when
/// that is longer than Stripe takes, `{licenseId}:` and a digest of the rest.
pub fn report_id(license_id: &str, meter: &str, key: &str) -> String {
    use sha2::{Digest, Sha256};
    let id = format!("{license_id}:{meter}:{key}");
    if id.len() <= REPORT_ID_MAX {
        return id;
    }
    let digest = Sha256::digest(format!("{meter}:{key}").as_bytes());
    format!("{license_id}:{}", hex::encode(&digest[..24]))
}

/// Reports waiting for Stripe on the license, all meters together.
pub fn pending_reports(counts: &BTreeMap<String, MeterCount>) -> usize {
    counts.values().map(|c| c.pending.len()).sum()
}

/// The backlog is full: [`MAX_PENDING_REPORTS`] reports wait for Stripe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBacklogFull;

/// `counts` with `report` pending on `meter` (a record just accepted there), unless the
/// license already has [`MAX_PENDING_REPORTS`] waiting.
pub fn with_report(
    counts: &mut BTreeMap<String, MeterCount>,
    meter: &str,
    report: MeterReport,
) -> Result<(), ReportBacklogFull> {
    if pending_reports(counts) >= MAX_PENDING_REPORTS {
        return Err(ReportBacklogFull);
    }
    if let Some(c) = counts.get_mut(meter) {
        c.pending.push(report);
    }
    Ok(())
}

/// The counts with the pending report `id` taken off its meter's list and its units handed
/// to `count` (as sent, or as refused). `None` when it is not pending.
fn settle_report(
    counts: &BTreeMap<String, MeterCount>,
    id: &str,
    count: impl FnOnce(&mut MeterCount, u64),
) -> Option<BTreeMap<String, MeterCount>> {
    let mut counts = counts.clone();
    let c = counts
        .values_mut()
        .find(|c| c.pending.iter().any(|r| r.id == id))?;
    let value = c.pending.iter().find(|r| r.id == id).map_or(0, |r| r.value);
    c.pending.retain(|r| r.id != id);
    count(c, value);
    Some(counts)
}

/// The counts with the report `id` refused for good: its units counted as failed, with why
/// (Stripe's `message`). `None` when it is not pending.
pub fn mark_failed(
    counts: &BTreeMap<String, MeterCount>,
    id: &str,
    message: &str,
) -> Option<BTreeMap<String, MeterCount>> {
    settle_report(counts, id, |c, value| {
        c.failed += value;
        c.last_failure = Some(message.chars().take(FAILURE_MAX).collect());
    })
}

/// The counts with the report `id` sent: counted as reported (when its meter is still in
/// that period's count). `None` when it is not pending.
pub fn mark_reported(
    counts: &BTreeMap<String, MeterCount>,
    id: &str,
) -> Option<BTreeMap<String, MeterCount>> {
    settle_report(counts, id, |c, value| c.reported += value)
}

/// What the license used of `meter` in `window` (0 when it recorded nothing there).
pub fn used(counts: &BTreeMap<String, MeterCount>, meter: &str, window: &Window) -> u64 {
    counts
        .get(meter)
        .filter(|c| c.period == window.key)
        .map_or(0, |c| c.used)
}

/// What recording decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// Write `counts`: the meter's count is now `used`.
    Write {
        counts: BTreeMap<String, MeterCount>,
        used: u64,
    },
    /// The key was recorded already: the count it answered (in its period); nothing written.
    Repeat { period: String, used: u64 },
    /// The quantity does not fit the remainder: the count stays `used`; nothing written.
    Full { used: u64 },
}

/// Records `quantity` of `meter` (limit `limit`) in `window` under `key`.
pub fn record(
    counts: &BTreeMap<String, MeterCount>,
    meter: &str,
    limit: u64,
    window: &Window,
    quantity: u64,
    key: &str,
) -> Record {
    let current = counts.get(meter).cloned().unwrap_or_default();
    if let Some(r) = current.keys.iter().find(|r| r.k == key) {
        return Record::Repeat {
            period: r.p.clone(),
            used: r.used,
        };
    }
    let before = if current.period == window.key {
        current.used
    } else {
        0
    };
    if quantity > limit.saturating_sub(before) {
        return Record::Full { used: before };
    }
    let used = before + quantity;
    let mut keys = current.keys;
    keys.push(Recorded {
        k: key.to_string(),
        p: window.key.clone(),
        used,
    });
    if keys.len() > KEPT_KEYS {
        keys.drain(..keys.len() - KEPT_KEYS);
    }
    let reported = if current.period == window.key {
        current.reported
    } else {
        0
    };
    let mut counts = counts.clone();
    counts.insert(
        meter.to_string(),
        MeterCount {
            period: window.key.clone(),
            used,
            keys,
            reached_at: current.reached_at,
            pending: current.pending,
            reported,
            failed: current.failed,
            last_failure: current.last_failure,
        },
    );
    Record::Write { counts, used }
}

/// `license.usage_limit_reached` is sent at most once an hour per license and meter.
pub const LIMIT_EVENT_EVERY_SECONDS: i64 = 3600;

/// The counts with `meter` marked as refused at `at`, when the last mark is an hour old or
/// more; `None` when it is recent (nothing to write).
pub fn mark_reached(
    counts: &BTreeMap<String, MeterCount>,
    meter: &str,
    at: i64,
) -> Option<BTreeMap<String, MeterCount>> {
    let current = counts.get(meter).cloned().unwrap_or_default();
    if current
        .reached_at
        .is_some_and(|last| at - last < LIMIT_EVENT_EVERY_SECONDS)
    {
        return None;
    }
    let mut counts = counts.clone();
    counts.insert(
        meter.to_string(),
        MeterCount {
            reached_at: Some(at),
            ..current
        },
    );
    Some(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn meter(name: &str) -> Meter {
        Meter {
            name: name.into(),
            limit: 10,
            period: MeterPeriod::Month,
            stripe_meter_event: None,
        }
    }

    #[test]
    fn meters_are_checked() {
        assert!(check_meters(&[meter("exports"), meter("api.calls-2")]).is_ok());
        assert!(check_meters(&[meter("Exports")]).is_err());
        assert!(check_meters(&[meter(&"a".repeat(41))]).is_err());
        assert!(matches!(
            check_meters(&[meter("a"), meter("a")]),
            Err(MeterRefusal::NamedTwice(_))
        ));
        let mut m = meter("a");
        m.limit = 0;
        assert!(check_meters(&[m.clone()]).is_err());
        m.limit = MAX_LIMIT + 1;
        assert!(check_meters(&[m]).is_err());
        let many: Vec<_> = (0..21).map(|i| meter(&format!("m{i}"))).collect();
        assert!(check_meters(&many).is_err());
        let mut m = meter("a");
        m.stripe_meter_event = Some("api requests".into());
        assert!(check_meters(&[m]).is_err());
    }

    #[test]
    fn report_ids_fit_stripes_identifier() {
        assert_eq!(report_id("lic_1", "api", "k1"), "lic_1:api:k1");
        let long = report_id(
            &format!("lic_{}", "A".repeat(26)),
            &"m".repeat(40),
            &"k".repeat(64),
        );
        assert!(long.len() <= REPORT_ID_MAX, "{long}");
        assert_ne!(
            long,
            report_id(
                &format!("lic_{}", "A".repeat(26)),
                &"m".repeat(40),
                &"j".repeat(64)
            )
        );
    }

    #[test]
    fn windows_roll_by_month_expiry_or_never() {
        let mut l = crate::domain::fixtures::license();
        let now = datetime!(2026-12-31 23:00 UTC);
        let w = window(MeterPeriod::Month, &l, now);
        assert_eq!(w.key, "2026-12");
        assert_eq!(w.resets_at, Some(datetime!(2027-01-01 0:00 UTC)));
        l.expires_at = None;
        assert_eq!(window(MeterPeriod::Subscription, &l, now), w);
        l.expires_at = Some(datetime!(2027-01-15 10:00 UTC));
        let s = window(MeterPeriod::Subscription, &l, now);
        assert_eq!(s.resets_at, l.expires_at);
        assert_eq!(window(MeterPeriod::Lifetime, &l, now).resets_at, None);
    }

    #[test]
    fn records_stop_at_the_limit_repeat_by_key_and_reset_by_period() {
        let dec = Window {
            key: "2026-12".into(),
            resets_at: None,
        };
        let Record::Write { counts, used } = record(&BTreeMap::new(), "m", 10, &dec, 7, "a") else {
            panic!()
        };
        assert_eq!(used, 7);
        assert_eq!(
            record(&counts, "m", 10, &dec, 4, "b"),
            Record::Full { used: 7 }
        );
        assert_eq!(
            record(&counts, "m", 10, &dec, 7, "a"),
            Record::Repeat {
                period: "2026-12".into(),
                used: 7
            }
        );
        let jan = Window {
            key: "2027-01".into(),
            resets_at: None,
        };
        assert!(matches!(
            record(&counts, "m", 10, &jan, 4, "b"),
            Record::Write { used: 4, .. }
        ));
        let mut counts = counts;
        for i in 0..100 {
            if let Record::Write { counts: c, .. } =
                record(&counts, "n", MAX_LIMIT, &dec, 1, &format!("k{i}"))
            {
                counts = c;
            }
        }
        assert_eq!(counts["n"].keys.len(), KEPT_KEYS);
        assert_eq!(counts["n"].used, 100);
    }

    fn report(id: &str, value: u64) -> MeterReport {
        MeterReport {
            id: id.into(),
            event: "api_calls".into(),
            value,
            at: 0,
        }
    }

    #[test]
    fn reports_wait_up_to_the_backlog_and_leave_it_sent_or_failed() {
        let mut counts = BTreeMap::from([("a".to_string(), MeterCount::default())]);
        counts.insert("b".into(), MeterCount::default());
        for i in 0..MAX_PENDING_REPORTS {
            let meter = if i % 2 == 0 { "a" } else { "b" };
            assert_eq!(
                with_report(&mut counts, meter, report(&format!("r{i}"), 2)),
                Ok(())
            );
        }
        // Full across meters: the next record is refused, whichever meter it is on.
        assert_eq!(
            with_report(&mut counts, "a", report("over", 1)),
            Err(ReportBacklogFull)
        );
        assert_eq!(pending_reports(&counts), MAX_PENDING_REPORTS);
        let sent = mark_reported(&counts, "r0").unwrap();
        assert_eq!(sent["a"].reported, 2);
        let failed = mark_failed(&sent, "r1", &"No meter named x. ".repeat(40)).unwrap();
        assert_eq!(failed["b"].failed, 2);
        assert_eq!(failed["b"].reported, 0);
        assert_eq!(
            failed["b"].last_failure.as_deref().unwrap().chars().count(),
            FAILURE_MAX
        );
        assert_eq!(pending_reports(&failed), MAX_PENDING_REPORTS - 2);
        assert!(
            mark_failed(&failed, "r1", "again").is_none(),
            "not pending any more"
        );
        let mut room = failed;
        assert_eq!(with_report(&mut room, "a", report("next", 1)), Ok(()));
    }
}
