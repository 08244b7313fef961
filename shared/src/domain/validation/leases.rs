//! Floating licenses: seats taken by leases. A license (or its product) with `maxConcurrent`
//! lets that many devices run at once; each holds a lease that lapses `leaseSeconds` after its
//! last heartbeat (or when its borrow ends). The leases live on the license item next to the
//! license ([`LicenseUsage::leases`](super::LicenseUsage)), written by one conditional write on
//! their own version (`leaseVersion`), so a lease never races an activation's write.
//!
//! A lapsed lease frees its seat by itself: every rule here counts only leases whose
//! `expiresAt` is after `now`, and every write drops the lapsed ones. No sweeper is needed.
//!
//! Pure rules over one read: [`take`], [`heartbeat`], [`release`], [`borrow`].

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::domain::{License, Product};
use crate::time::serde_ts;

/// Bounds of `leaseSeconds`.
pub const MIN_LEASE_SECONDS: u32 = 10;
pub const MAX_LEASE_SECONDS: u32 = 86_400;
/// `leaseSeconds` when neither the license nor the product sets it: 15 minutes.
pub const DEFAULT_LEASE_SECONDS: u32 = 900;
/// Bounds of `maxConcurrent` (the leases live in the license's item, at most 400 KB; see
/// [`MAX_LEASE_LIST_BYTES`]).
pub const MAX_CONCURRENT: u32 = 1_000;
/// The most bytes of leases one license holds (next to at most 256 KiB of devices, the item's
/// other attributes keeping the rest of DynamoDB's 400 KB): about 500 leases of 64-character
/// device ids without names. A lease past it is refused like one past `maxConcurrent`.
pub const MAX_LEASE_LIST_BYTES: usize = 128 * 1024;

/// Bytes a lease takes in the list: its id, device id and name, and the fixed part (attribute
/// names, three times).
pub fn lease_bytes(l: &Lease) -> usize {
    l.id.len() + l.device_id.len() + l.device_name.as_ref().map_or(0, String::len) + 160
}
/// Longest borrow any product may allow (`maxBorrowSeconds`): 30 days.
pub const MAX_BORROW_SECONDS: u32 = 30 * 86_400;

/// The floating terms of a license: the license's own values, else its product's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seats {
    pub max_concurrent: u32,
    pub lease_seconds: u32,
    /// 0: no borrowing.
    pub max_borrow_seconds: u32,
}

impl Seats {
    /// The terms of `license` (overriding `product`); `None` when neither sets
    /// `maxConcurrent` (the license is not floating).
    pub fn of(license: &License, product: &Product) -> Option<Seats> {
        let max_concurrent = license.max_concurrent.or(product.max_concurrent)?;
        Some(Seats {
            max_concurrent,
            lease_seconds: license
                .lease_seconds
                .or(product.lease_seconds)
                .unwrap_or(DEFAULT_LEASE_SECONDS),
            max_borrow_seconds: license
                .max_borrow_seconds
                .or(product.max_borrow_seconds)
                .unwrap_or(0),
        })
    }

    /// How often an app should heartbeat: a third of the lease, so two heartbeats may fail
    /// before the lease lapses.
    pub fn heartbeat_seconds(&self) -> u32 {
        (self.lease_seconds / 3).max(1)
    }
}

/// Checks floating terms as the admin API receives them; the field and what is wrong.
pub fn check_terms(
    max_concurrent: Option<u32>,
    lease_seconds: Option<u32>,
    max_borrow_seconds: Option<u32>,
) -> Result<(), (&'static str, String)> {
    if max_concurrent.is_some_and(|n| !(1..=MAX_CONCURRENT).contains(&n)) {
        return Err(("maxConcurrent", format!("must be 1 to {MAX_CONCURRENT}")));
    }
    if lease_seconds.is_some_and(|n| !(MIN_LEASE_SECONDS..=MAX_LEASE_SECONDS).contains(&n)) {
        return Err((
            "leaseSeconds",
            format!("must be {MIN_LEASE_SECONDS} to {MAX_LEASE_SECONDS} seconds"),
        ));
    }
    if max_borrow_seconds.is_some_and(|n| n > MAX_BORROW_SECONDS) {
        return Err((
            "maxBorrowSeconds",
            format!("must be at most {MAX_BORROW_SECONDS} seconds (30 days)"),
        ));
    }
    Ok(())
}

/// A seat held by a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lease {
    /// `lse_…`, naming the license ([`lease_id`]).
    pub id: String,
    pub device_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    /// When the device took the seat.
    #[serde(with = "serde_ts")]
    pub since: OffsetDateTime,
    /// The last heartbeat (or `since`).
    #[serde(with = "serde_ts")]
    pub heartbeat_at: OffsetDateTime,
    /// The seat is free from this time on.
    #[serde(with = "serde_ts")]
    pub expires_at: OffsetDateTime,
    /// Set while the lease is borrowed (a license file runs offline until then).
    #[serde(
        with = "serde_ts::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub borrowed_until: Option<OffsetDateTime>,
}

impl Lease {
    /// Whether the lease holds its seat at `now`.
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.expires_at > now
    }
}

/// A new lease id for a lease on `license_id`: the license is found from the id alone (one
/// read), and 100 random bits make the id unguessable (it is what a heartbeat presents).
pub fn lease_id(license_id: &str) -> String {
    let license = license_id.strip_prefix("lic_").unwrap_or(license_id);
    format!(
        "lse_{license}_{}",
        crate::ids::random_symbols(20).to_ascii_lowercase()
    )
}

/// The license id a lease id names; `None` for text that is no lease id.
pub fn license_of(lease_id: &str) -> Option<String> {
    let rest = lease_id.strip_prefix("lse_")?;
    let (license, random) = rest.rsplit_once('_')?;
    let ok = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    };
    (ok(license, 26) && ok(random, 20)).then(|| format!("lic_{license}"))
}

/// The leases still holding a seat at `now` (what every write keeps).
pub fn live(leases: &[Lease], now: OffsetDateTime) -> Vec<Lease> {
    leases.iter().filter(|l| l.is_live(now)).cloned().collect()
}

/// What taking a seat decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Take {
    /// Write `leases`; the device holds `lease` (new, or its own extended).
    Write { leases: Vec<Lease>, lease: Lease },
    /// The device's lease is borrowed: answered as it is, nothing written.
    Held(Lease),
    /// Every seat is taken by another device.
    Full { in_use: u32 },
    /// Seats are left, but the license's item holds no more leases ([`MAX_LEASE_LIST_BYTES`]).
    NoRoom { in_use: u32 },
}

/// A device asks for a seat: its own live lease back (extended), else a free seat, else
/// [`Take::Full`].
pub fn take(
    leases: &[Lease],
    seats: &Seats,
    device_id: &str,
    device_name: Option<&str>,
    license_id: &str,
    now: OffsetDateTime,
) -> Take {
    let mut kept = live(leases, now);
    let until = now + Duration::seconds(i64::from(seats.lease_seconds));
    if let Some(own) = kept.iter_mut().find(|l| l.device_id == device_id) {
        if own.borrowed_until.is_some_and(|b| b > now) {
            return Take::Held(own.clone());
        }
        own.heartbeat_at = now;
        own.expires_at = until;
        let lease = own.clone();
        return Take::Write {
            leases: kept,
            lease,
        };
    }
    if kept.len() >= seats.max_concurrent as usize {
        return Take::Full {
            in_use: kept.len() as u32,
        };
    }
    let lease = Lease {
        id: lease_id(license_id),
        device_id: device_id.to_string(),
        device_name: device_name.map(str::to_string),
        since: now,
        heartbeat_at: now,
        expires_at: until,
        borrowed_until: None,
    };
    let used: usize = kept.iter().map(lease_bytes).sum();
    if used + lease_bytes(&lease) > MAX_LEASE_LIST_BYTES {
        return Take::NoRoom {
            in_use: kept.len() as u32,
        };
    }
    kept.push(lease.clone());
    Take::Write {
        leases: kept,
        lease,
    }
}

/// What a heartbeat or a borrow decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extend {
    Write {
        leases: Vec<Lease>,
        lease: Lease,
    },
    /// Borrowed: the lease runs until the borrow ends; nothing to write.
    Held(Lease),
    /// No live lease with this id (lapsed, released, or never taken by this device).
    Gone,
}

/// The live lease `lease_id` of `device_id`, and the live leases.
fn find(
    leases: &[Lease],
    lease_id: &str,
    device_id: &str,
    now: OffsetDateTime,
) -> Option<(Vec<Lease>, usize)> {
    let kept = live(leases, now);
    let i = kept
        .iter()
        .position(|l| l.id == lease_id && l.device_id == device_id)?;
    Some((kept, i))
}

/// A heartbeat: the lease runs `leaseSeconds` from now.
pub fn heartbeat(
    leases: &[Lease],
    seats: &Seats,
    lease_id: &str,
    device_id: &str,
    now: OffsetDateTime,
) -> Extend {
    let Some((mut kept, i)) = find(leases, lease_id, device_id, now) else {
        return Extend::Gone;
    };
    if kept[i].borrowed_until.is_some_and(|b| b > now) {
        return Extend::Held(kept[i].clone());
    }
    kept[i].heartbeat_at = now;
    kept[i].expires_at = now + Duration::seconds(i64::from(seats.lease_seconds));
    let lease = kept[i].clone();
    Extend::Write {
        leases: kept,
        lease,
    }
}

/// A borrow of `seconds` (checked against `maxBorrowSeconds` by the caller): the seat stays
/// taken until the borrow ends, with no heartbeat.
pub fn borrow(
    leases: &[Lease],
    lease_id: &str,
    device_id: &str,
    seconds: u32,
    now: OffsetDateTime,
) -> Extend {
    let Some((mut kept, i)) = find(leases, lease_id, device_id, now) else {
        return Extend::Gone;
    };
    let until = now + Duration::seconds(i64::from(seconds));
    kept[i].heartbeat_at = now;
    kept[i].expires_at = until;
    kept[i].borrowed_until = Some(until);
    let lease = kept[i].clone();
    Extend::Write {
        leases: kept,
        lease,
    }
}

/// A release: the live leases without `lease_id`; `None` when no live lease has that id.
pub fn release(leases: &[Lease], lease_id: &str, now: OffsetDateTime) -> Option<Vec<Lease>> {
    let kept = live(leases, now);
    kept.iter().any(|l| l.id == lease_id).then(|| {
        kept.into_iter()
            .filter(|l| l.id != lease_id)
            .collect::<Vec<_>>()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIC: &str = "lic_0123456789abcdefghjkmnpqrs";

    fn seats(n: u32) -> Seats {
        Seats {
            max_concurrent: n,
            lease_seconds: 60,
            max_borrow_seconds: 3600,
        }
    }

    fn taken(t: Take) -> (Vec<Lease>, Lease) {
        match t {
            Take::Write { leases, lease } => (leases, lease),
            other => panic!("expected a write, got {other:?}"),
        }
    }

    #[test]
    fn lease_ids_name_their_license() {
        let id = lease_id(LIC);
        assert_eq!(license_of(&id).as_deref(), Some(LIC));
        assert_ne!(lease_id(LIC), id);
        assert_eq!(license_of("lse_x_y"), None);
        assert_eq!(license_of(LIC), None);
    }

    #[test]
    fn seats_are_limited_and_a_device_gets_its_own_lease_back() {
        let now = crate::time::now();
        let (leases, a) = taken(take(&[], &seats(2), "a", None, LIC, now));
        let (leases, again) = taken(take(&leases, &seats(2), "a", None, LIC, now));
        assert_eq!((again.id.as_str(), leases.len()), (a.id.as_str(), 1));
        let (leases, _) = taken(take(&leases, &seats(2), "b", None, LIC, now));
        assert_eq!(
            take(&leases, &seats(2), "c", None, LIC, now),
            Take::Full { in_use: 2 }
        );
        // A lapsed lease frees its seat by itself.
        let later = now + Duration::seconds(61);
        let (leases, c) = taken(take(&leases, &seats(2), "c", None, LIC, later));
        assert_eq!(leases.len(), 1, "the lapsed leases were dropped");
        assert_eq!(
            heartbeat(&leases, &seats(2), &a.id, "a", later),
            Extend::Gone
        );
        assert!(matches!(
            heartbeat(&leases, &seats(2), &c.id, "c", later),
            Extend::Write { .. }
        ));
        assert_eq!(release(&leases, &c.id, later), Some(vec![]));
        assert_eq!(release(&leases, &a.id, later), None);
    }

    #[test]
    fn a_borrowed_lease_holds_its_seat_until_the_borrow_ends() {
        let now = crate::time::now();
        let (leases, a) = taken(take(&[], &seats(1), "a", None, LIC, now));
        let Extend::Write { leases, lease } = borrow(&leases, &a.id, "a", 600, now) else {
            panic!("borrow refused");
        };
        assert_eq!(lease.expires_at, now + Duration::seconds(600));
        let at = now + Duration::seconds(300);
        assert_eq!(
            take(&leases, &seats(1), "b", None, LIC, at),
            Take::Full { in_use: 1 }
        );
        assert!(matches!(
            heartbeat(&leases, &seats(1), &a.id, "a", at),
            Extend::Held(_)
        ));
        let after = now + Duration::seconds(601);
        assert!(matches!(
            take(&leases, &seats(1), "b", None, LIC, after),
            Take::Write { .. }
        ));
    }

    #[test]
    fn the_leases_fit_the_license_item() {
        let now = crate::time::now();
        let many = Seats {
            max_concurrent: MAX_CONCURRENT,
            ..seats(1)
        };
        let mut leases = Vec::new();
        let long = "d".repeat(200);
        loop {
            let device = format!("{}{}", leases.len(), long);
            match take(&leases, &many, &device, Some(&"n".repeat(200)), LIC, now) {
                Take::Write { leases: next, .. } => leases = next,
                Take::NoRoom { in_use } => {
                    assert_eq!(in_use as usize, leases.len());
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        let bytes = serde_json::to_vec(&leases).unwrap().len();
        assert!(bytes <= MAX_LEASE_LIST_BYTES, "{bytes} bytes of leases");
        assert!(leases.len() > 100, "{} leases", leases.len());
    }

    #[test]
    fn terms_are_bounded() {
        assert!(check_terms(Some(1), Some(10), Some(0)).is_ok());
        assert_eq!(
            check_terms(Some(0), None, None).unwrap_err().0,
            "maxConcurrent"
        );
        assert_eq!(
            check_terms(None, Some(9), None).unwrap_err().0,
            "leaseSeconds"
        );
        assert_eq!(
            check_terms(None, Some(86_401), None).unwrap_err().0,
            "leaseSeconds"
        );
        assert_eq!(
            check_terms(None, None, Some(MAX_BORROW_SECONDS + 1))
                .unwrap_err()
                .0,
            "maxBorrowSeconds"
        );
    }
}
