//! The clock mark, `keyhook-clock-mark-v1`: the highest local time an app has observed for one
//! license on one device, kept next to its offline proofs and MAC'd so that editing it shows.
//!
//! Signed times alone cannot catch a clock wound back to a day inside a license file's life:
//! the file is genuinely valid then. The mark can: an app records every time it checks the
//! clock, only forward, and refuses a clock behind the highest time it recorded (beyond a small
//! tolerance for clock jitter).
//!
//! **What is stored** (one mark per (product, license key, device), the slot an app keeps
//! proofs for), compact JSON in this member order:
//!
//! ```json
//! {"format":"keyhook-clock-mark-v1","highWater":"2026-11-25T00:00:00.000Z","mac":"<64 hex>"}
//! ```
//!
//! - `highWater`: the highest local time observed, RFC 3339 UTC with milliseconds (the form
//!   [`crate::time_fmt::format`] writes);
//! - `mac`: lowercase hex of HMAC-SHA256(K, `keyhook-clock-mark-v1` || 0x00 || productId ||
//!   0x00 || deviceId || 0x00 || highWater), the `highWater` text exactly as stored;
//! - K = HKDF-SHA256(salt empty, IKM = the license key's secret bytes (the canonical key for
//!   Keyhook keys, else the key trimmed; empty for a device's trial, which has no key), info
//!   `keyhook-clock-mark-v1`, 32 bytes).
//!
//! **The check** ([`check`]), before any kept proof is trusted offline, at local time `now`:
//! a mark whose JSON, `format`, `mac` or time does not hold is [`Rollback::MarkAltered`]; a
//! valid mark with `now + tolerance < highWater` is [`Rollback::Behind`]; no mark while a proof
//! is kept for the slot is [`Rollback::MarkMissing`]; no mark and no proof is a first use. When
//! the check passes, the mark to store is `max(highWater, now)`. After a verified, fresh online
//! answer (its nonce and `signedAt` prove the clock), an app stores [`seal`]`(now)` instead,
//! whatever the mark said: that is how a missing, altered or too-far-ahead mark is repaired.
//!
//! The MAC key comes from the license key, which the app holds and a user knows: the mark
//! defeats winding the clock back, alone or with deleting or editing the app's files; it cannot
//! defeat restoring a whole earlier copy of them (a disk or VM snapshot), nor a clock that is
//! stopped rather than set back. No offline check without a trusted clock can.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::{license_key, time_fmt};

/// The `format` of a mark, its HKDF `info` and the first part of its MAC input.
pub const MARK_FORMAT: &str = "keyhook-clock-mark-v1";

/// Whose mark it is: the slot an app keeps offline proofs for.
#[derive(Debug, Clone, Copy)]
pub struct MarkSlot<'a> {
    pub product_id: &'a str,
    /// The license key (`None`: the device's trial).
    pub license_key: Option<&'a str>,
    pub device_id: &'a str,
}

/// Why the clock is not trusted offline. Each is treated as a clock set back: the app refuses
/// its kept proofs until an online check succeeds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rollback {
    /// The clock is behind a time this app has already observed or been told.
    #[error("the clock is behind {0}, a time already seen: it was set back")]
    Behind(String),
    /// No mark, though an offline proof is kept: the mark was deleted.
    #[error("the clock mark is missing while an offline proof is kept")]
    MarkMissing,
    /// The mark does not verify for this slot: edited, or copied from another license.
    #[error("the clock mark does not verify")]
    MarkAltered,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    format: String,
    high_water: String,
    mac: String,
}

fn mac(slot: &MarkSlot, high_water: &str) -> Hmac<Sha256> {
    let ikm = Zeroizing::new(
        slot.license_key
            .map(license_key::secret_bytes)
            .unwrap_or_default(),
    );
    let mut key = Zeroizing::new([0u8; 32]);
    hkdf::Hkdf::<Sha256>::new(None, &ikm)
        .expand(MARK_FORMAT.as_bytes(), &mut key[..])
        .expect("32 bytes is a valid HKDF length");
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&key[..]).expect("HMAC takes any key");
    for part in [MARK_FORMAT, slot.product_id, slot.device_id] {
        m.update(part.as_bytes());
        m.update(&[0]);
    }
    m.update(high_water.as_bytes());
    m
}

/// The text to store for `high_water` (milliseconds kept, finer digits dropped).
pub fn seal(slot: &MarkSlot, high_water: OffsetDateTime) -> String {
    let high_water = time_fmt::format(high_water);
    let mac = hex::encode(mac(slot, &high_water).finalize().into_bytes());
    serde_json::to_string(&Stored {
        format: MARK_FORMAT.into(),
        high_water,
        mac,
    })
    .expect("marks serialise")
}

/// The high-water time of a stored mark, if it verifies for `slot`.
pub fn open(slot: &MarkSlot, text: &str) -> Result<OffsetDateTime, Rollback> {
    let stored: Stored = serde_json::from_str(text).map_err(|_| Rollback::MarkAltered)?;
    if stored.format != MARK_FORMAT {
        return Err(Rollback::MarkAltered);
    }
    let tag = hex::decode(&stored.mac).map_err(|_| Rollback::MarkAltered)?;
    mac(slot, &stored.high_water)
        .verify_slice(&tag)
        .map_err(|_| Rollback::MarkAltered)?;
    time_fmt::parse("highWater", &stored.high_water).map_err(|_| Rollback::MarkAltered)
}

/// The clock check before a kept proof is trusted offline: `stored` is the slot's mark (if
/// any), `has_proof` whether an offline proof (license file, answer) is kept for the slot.
/// Returns the mark to store now, advanced to `now` (never moved back).
pub fn check(
    slot: &MarkSlot,
    stored: Option<&str>,
    has_proof: bool,
    now: OffsetDateTime,
    tolerance: Duration,
) -> Result<String, Rollback> {
    let high_water = match stored {
        Some(text) => open(slot, text)?,
        None if has_proof => return Err(Rollback::MarkMissing),
        None => return Ok(seal(slot, now)),
    };
    if now + tolerance < high_water {
        return Err(Rollback::Behind(time_fmt::format(high_water)));
    }
    Ok(seal(slot, high_water.max(now)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLOT: MarkSlot = MarkSlot {
        product_id: "42",
        license_key: Some("ABCDE-FGHJK-MNPQR-STVWX-YZ012"),
        device_id: "machine-1",
    };

    fn t(s: &str) -> OffsetDateTime {
        time_fmt::parse("t", s).unwrap()
    }

    #[test]
    fn a_mark_opens_only_for_its_own_slot_and_text() {
        let mark = seal(&SLOT, t("2026-11-25T00:00:00.123456Z"));
        assert_eq!(open(&SLOT, &mark).unwrap(), t("2026-11-25T00:00:00.123Z"));
        // Lenient key input is the same key.
        let lenient = MarkSlot {
            license_key: Some("abcde fghjk mnpqr stvwx yz012"),
            ..SLOT
        };
        assert!(open(&lenient, &mark).is_ok());
        for other in [
            MarkSlot {
                license_key: Some("7K2M9-Q4X1C-8V3B6-N0D5F-HJKMP"),
                ..SLOT
            },
            MarkSlot {
                license_key: None,
                ..SLOT
            },
            MarkSlot {
                product_id: "43",
                ..SLOT
            },
            MarkSlot {
                device_id: "machine-2",
                ..SLOT
            },
        ] {
            assert_eq!(open(&other, &mark), Err(Rollback::MarkAltered));
        }
        let edited = mark.replace("2026-11-25", "2026-11-20");
        assert_eq!(open(&SLOT, &edited), Err(Rollback::MarkAltered));
        assert_eq!(open(&SLOT, "{}"), Err(Rollback::MarkAltered));
        assert_eq!(open(&SLOT, ""), Err(Rollback::MarkAltered));
    }

    #[test]
    fn the_check_refuses_a_clock_behind_the_mark_and_only_advances_it() {
        let five = Duration::minutes(5);
        let mark = seal(&SLOT, t("2026-11-25T00:00:00Z"));
        let at = |now: &str| check(&SLOT, Some(&mark), true, t(now), five);
        assert_eq!(
            at("2026-11-24T12:00:00Z"),
            Err(Rollback::Behind("2026-11-25T00:00:00.000Z".into()))
        );
        // Jitter within the tolerance passes and leaves the mark where it was.
        assert_eq!(at("2026-11-24T23:56:00Z").unwrap(), mark);
        assert_eq!(
            at("2026-11-26T00:00:00Z").unwrap(),
            seal(&SLOT, t("2026-11-26T00:00:00Z"))
        );
        let now = t("2026-11-25T00:00:00Z");
        assert_eq!(
            check(&SLOT, None, true, now, five),
            Err(Rollback::MarkMissing)
        );
        assert_eq!(
            check(&SLOT, None, false, now, five).unwrap(),
            seal(&SLOT, now)
        );
    }
}
