//! Floating licenses (public, called from end-user apps; rules in
//! `domain::validation::leases`):
//! - `POST /api/licenses/leases` `{ licenseKey, productId, deviceId, deviceName?, nonce?,
//!   environment? }`: takes a seat (or gives the device its own lease back, extended). A
//!   signed answer (`valid: true` with `lease`), or `CONCURRENCY_LIMIT_REACHED` with `seats`.
//! - `POST /api/licenses/leases/{leaseId}/heartbeat` `{ productId, deviceId, nonce? }`: extends
//!   it; `LEASE_EXPIRED` once it lapsed or was released.
//! - `POST /api/licenses/leases/{leaseId}/borrow` `{ productId, deviceId, seconds }`: a license
//!   file (as `POST /api/licenses/checkout` signs them) valid until the borrow ends; the seat
//!   stays taken until then.
//! - `DELETE /api/licenses/leases/{leaseId}`: gives the seat back (`204`).
//!
//! The license must stand as validation requires (`rules::standing`: product, mode, status).
//! Each request is one read of the license item (the leases live on it) and, when a lease
//! changes, one write conditional on the lease version read; a lost race decides again on a
//! fresh read.

use time::OffsetDateTime;

use super::answer::{respond, Answer, LeaseSummary, LicenseSummary, SeatsSummary};
use super::input::{self, ValidationInput};
use super::license::{self, MAX_ATTEMPTS, RACE_BACKOFF};
use super::license_file::{self, FileOrder};
use crate::domain::license_key::AnyKey;
use crate::domain::validation::ips::client_ip_key;
use crate::domain::validation::leases::{self, Extend, Lease, Seats, Take};
use crate::domain::validation::{Code, DeviceId, LicenseUsage, Verdict};
use crate::domain::License;
use crate::http::{ApiRequest, ApiResponse};
use crate::store::license_usage::ChangeWrite;
use crate::{Error, Result, Services};

/// `license.lease_limit_reached` is sent at most once an hour per license.
const LIMIT_EVENT_EVERY_SECONDS: i64 = 3600;

/// The per-IP budget of validations (leases and heartbeats are as frequent).
fn admit(s: &Services, req: &ApiRequest) -> Result<()> {
    if s.ip_budgets.validate.allow(&client_ip_key(req.source_ip)) {
        Ok(())
    } else {
        Err(Error::RateLimited(
            "too many license requests from this address; retry in a minute".into(),
        ))
    }
}

fn device_of(input: &ValidationInput) -> Result<&DeviceId> {
    input
        .device
        .as_ref()
        .ok_or_else(|| Error::validation("deviceId", "is required: a lease is for one device"))
}

/// A license standing as validation requires, with its floating terms.
struct Standing {
    seats: Seats,
    livemode: bool,
    product: crate::domain::Product,
}

/// Validation's checks (product, mode, status) for a lease on `license`, then its terms; the
/// refusal's verdict when it does not stand. `409` when the license is not floating.
async fn standing(
    s: &Services,
    license: &License,
    input: &ValidationInput,
    now: OffsetDateTime,
) -> Result<std::result::Result<Standing, Verdict>> {
    let license::Standing {
        product,
        livemode,
        refusal,
    } = license::standing(s, license, input, now).await?;
    if let Some(v) = refusal {
        return Ok(Err(v));
    }
    let Some(seats) = Seats::of(license, &product) else {
        return Err(Error::Conflict(
            "this license has no floating seats: its product (or the license) sets no maxConcurrent"
                .into(),
        ));
    };
    Ok(Ok(Standing {
        seats,
        livemode,
        product,
    }))
}

/// What a lease answer says beyond the verdict.
#[derive(Default)]
struct Extra<'a> {
    livemode: Option<bool>,
    lease: Option<(&'a Lease, Seats)>,
    seats: Option<SeatsSummary>,
}

/// The signed answer about `license`.
async fn answer(
    s: &Services,
    input: &ValidationInput,
    license: &License,
    verdict: Verdict,
    now: OffsetDateTime,
    extra: Extra<'_>,
) -> Result<ApiResponse> {
    let device_hash = input.device_hash();
    let livemode = match extra.livemode {
        Some(m) => m,
        None => license::livemode_of(s, license).await?,
    };
    respond(
        s,
        Some(&license.tenant_id),
        Answer {
            license_id: Some(&license.id),
            livemode,
            license: (verdict.code != Code::ProductMismatch)
                .then(|| LicenseSummary::of(license, now)),
            lease: extra.lease.map(|(l, seats)| LeaseSummary {
                id: &l.id,
                expires_at: crate::time::format(l.expires_at),
                heartbeat_seconds: seats.heartbeat_seconds(),
                borrowed_until: l.borrowed_until.map(crate::time::format),
            }),
            seats: extra.seats,
            ..Answer::to(input, device_hash.as_deref(), verdict, now)
        },
    )
    .await
}

/// `NOT_FOUND`, signed by the tenant of the product asked about.
async fn not_found(
    s: &Services,
    input: &ValidationInput,
    license_id: Option<&str>,
) -> Result<ApiResponse> {
    license::not_found(s, input, input.device_hash().as_deref(), license_id).await
}

/// `POST /api/licenses/leases`.
pub async fn take(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let input = input::parse_requiring(req, input::LEASE_REQUIRED)?;
    admit(s, req)?;
    let device = device_of(&input)?;
    let key_text = input.license_key.as_deref().unwrap_or_default();
    let Ok(key) = AnyKey::parse(key_text) else {
        return not_found(s, &input, None).await;
    };
    for attempt in 0..MAX_ATTEMPTS {
        let now = s.clock.now();
        let Some((license, usage)) = license::find(s, &key, &input.product_id).await? else {
            return not_found(s, &input, Some(&key.license_id(&input.product_id))).await;
        };
        let st = match standing(s, &license, &input, now).await? {
            Ok(st) => st,
            Err(v) => return answer(s, &input, &license, v, now, Extra::default()).await,
        };
        let (seats, livemode) = (st.seats, Some(st.livemode));
        let taken = leases::take(
            &usage.leases,
            &seats,
            device.as_str(),
            input.device_name.as_deref(),
            &license.id,
            now,
        );
        let no_room = matches!(taken, Take::NoRoom { .. });
        let lease = match taken {
            Take::Held(lease) => lease,
            Take::Full { in_use } | Take::NoRoom { in_use } => {
                limit_reached(s, &license, &usage, now).await;
                let verdict = if no_room {
                    Verdict::with_detail(
                        Code::ConcurrencyLimitReached,
                        "The license holds as many leases as it can store (128 KiB of device ids and names); retry when one is released.",
                    )
                } else {
                    Code::ConcurrencyLimitReached.verdict()
                };
                let seats = SeatsSummary {
                    in_use,
                    max_concurrent: seats.max_concurrent,
                };
                let extra = Extra {
                    livemode,
                    seats: Some(seats),
                    ..Extra::default()
                };
                return answer(s, &input, &license, verdict, now, extra).await;
            }
            Take::Write { leases, lease } => {
                match s
                    .store
                    .write_leases(&license, usage.lease_version, &leases)
                    .await?
                {
                    ChangeWrite::Written => lease,
                    ChangeWrite::Stale => {
                        RACE_BACKOFF.sleep(attempt + 1).await;
                        continue;
                    }
                }
            }
        };
        tracing::info!(license_id = %license.id, lease_id = %lease.id, "lease taken");
        let extra = Extra {
            livemode,
            lease: Some((&lease, seats)),
            ..Extra::default()
        };
        return answer(s, &input, &license, Code::Valid.verdict(), now, extra).await;
    }
    Err(busy())
}

fn busy() -> Error {
    Error::Conflict("the license's seats are being changed by many requests at once; retry".into())
}

/// Records that the seats ran out (`leaseLimitReachedAt`), at most once an hour per license:
/// the table's stream turns the change into `license.lease_limit_reached`. A failure to
/// record it never fails the answer.
async fn limit_reached(s: &Services, license: &License, usage: &LicenseUsage, now: OffsetDateTime) {
    let at = now.unix_timestamp();
    if usage
        .lease_limit_reached_at
        .is_some_and(|last| at - last < LIMIT_EVENT_EVERY_SECONDS)
    {
        return;
    }
    if let Err(e) = s
        .store
        .mark_lease_limit_reached(&license.id, usage.lease_limit_reached_at, at)
        .await
    {
        tracing::warn!(license_id = %license.id, error = %e, "lease limit not recorded");
    }
}

/// The license a lease id names, if it covers `product_id`.
async fn lease_license(
    s: &Services,
    lease_id: &str,
    product_id: &str,
) -> Result<Option<(License, LicenseUsage)>> {
    let Some(license_id) = leases::license_of(lease_id) else {
        return Ok(None);
    };
    Ok(s.store
        .get_license_with_usage(&license_id)
        .await?
        .filter(|(l, _)| l.covers(product_id)))
}

/// `POST /api/licenses/leases/{leaseId}/heartbeat`.
pub async fn heartbeat(s: &Services, req: &ApiRequest, lease_id: &str) -> Result<ApiResponse> {
    let input = input::parse_requiring(req, input::HEARTBEAT_REQUIRED)?;
    admit(s, req)?;
    let device = device_of(&input)?;
    for attempt in 0..MAX_ATTEMPTS {
        let now = s.clock.now();
        let Some((license, usage)) = lease_license(s, lease_id, &input.product_id).await? else {
            return not_found(s, &input, None).await;
        };
        let st = match standing(s, &license, &input, now).await? {
            Ok(st) => st,
            Err(v) => return answer(s, &input, &license, v, now, Extra::default()).await,
        };
        let extend = leases::heartbeat(&usage.leases, &st.seats, lease_id, device.as_str(), now);
        let lease = match settle(s, &input, &license, &usage, &st, extend, now).await? {
            Settled::Lease(lease) => lease,
            Settled::Answered(response) => return Ok(response),
            Settled::Stale => {
                RACE_BACKOFF.sleep(attempt + 1).await;
                continue;
            }
        };
        let extra = Extra {
            livemode: Some(st.livemode),
            lease: Some((&lease, st.seats)),
            ..Extra::default()
        };
        return answer(s, &input, &license, Code::Valid.verdict(), now, extra).await;
    }
    Err(busy())
}

/// What extending a lease (a heartbeat, a borrow) comes to.
enum Settled {
    /// The lease as it now stands (written, or held by a borrow).
    Lease(Lease),
    /// `LEASE_EXPIRED`, signed.
    Answered(ApiResponse),
    /// Another request changed the leases since the read: decide again.
    Stale,
}

/// Writes an extension conditionally on the lease version read (one write at most).
async fn settle(
    s: &Services,
    input: &ValidationInput,
    license: &License,
    usage: &LicenseUsage,
    st: &Standing,
    extend: Extend,
    now: OffsetDateTime,
) -> Result<Settled> {
    Ok(match extend {
        Extend::Gone => {
            let extra = Extra {
                livemode: Some(st.livemode),
                ..Extra::default()
            };
            let verdict = Code::LeaseExpired.verdict();
            Settled::Answered(answer(s, input, license, verdict, now, extra).await?)
        }
        Extend::Held(lease) => Settled::Lease(lease),
        Extend::Write { leases, lease } => {
            match s
                .store
                .write_leases(license, usage.lease_version, &leases)
                .await?
            {
                ChangeWrite::Written => Settled::Lease(lease),
                ChangeWrite::Stale => Settled::Stale,
            }
        }
    })
}

/// `POST /api/licenses/leases/{leaseId}/borrow`: a license file for offline use until the
/// borrow ends; `409` beyond the license's `maxBorrowSeconds`.
pub async fn borrow(s: &Services, req: &ApiRequest, lease_id: &str) -> Result<ApiResponse> {
    let input = input::parse_requiring(req, input::BORROW_REQUIRED)?;
    admit(s, req)?;
    let device = device_of(&input)?;
    let seconds = input.seconds.unwrap_or_default();
    for attempt in 0..MAX_ATTEMPTS {
        let now = s.clock.now();
        let Some((license, usage)) = lease_license(s, lease_id, &input.product_id).await? else {
            return not_found(s, &input, None).await;
        };
        let st = match standing(s, &license, &input, now).await? {
            Ok(st) => st,
            Err(v) => return answer(s, &input, &license, v, now, Extra::default()).await,
        };
        let max = st.seats.max_borrow_seconds;
        if seconds == 0 || seconds > u64::from(max) {
            return Err(Error::conflict_at(
                "seconds",
                if max == 0 {
                    "this license may not be borrowed (its maxBorrowSeconds is 0)".to_string()
                } else {
                    format!("must be 1 to {max} seconds (the license's maxBorrowSeconds)")
                },
            ));
        }
        let extend = leases::borrow(
            &usage.leases,
            lease_id,
            device.as_str(),
            seconds as u32,
            now,
        );
        let lease = match settle(s, &input, &license, &usage, &st, extend, now).await? {
            Settled::Lease(lease) => lease,
            Settled::Answered(response) => return Ok(response),
            Settled::Stale => {
                RACE_BACKOFF.sleep(attempt + 1).await;
                continue;
            }
        };
        let signer = s.signing_keys.get(&license.tenant_id).await?;
        let (file, expires_at) = license_file::build(FileOrder {
            signer: &signer,
            license: &license,
            product: &st.product,
            device,
            livemode: st.livemode,
            ttl: lease.expires_at - now,
            encrypt_to: None,
            now,
        });
        tracing::info!(license_id = %license.id, lease_id, "lease borrowed");
        return Ok(ApiResponse::ok(&license_file::file_view(
            &signer, file, expires_at,
        )));
    }
    Err(busy())
}

/// `DELETE /api/licenses/leases/{leaseId}`: `204`, or `404` when no live lease has this id.
pub async fn release(s: &Services, req: &ApiRequest, lease_id: &str) -> Result<ApiResponse> {
    admit(s, req)?;
    if release_lease(s, lease_id).await? {
        Ok(ApiResponse::no_content())
    } else {
        Err(Error::not_found("Lease"))
    }
}

/// Gives a seat back (a client app's `DELETE`): whether a live lease with this id was
/// released.
pub async fn release_lease(s: &Services, lease_id: &str) -> Result<bool> {
    let Some(license_id) = leases::license_of(lease_id) else {
        return Ok(false);
    };
    release_where(s, &license_id, None, |l| l.id == lease_id).await
}

/// The dashboard's Release: frees the seat `device_id` holds on a license of `tenant_id`
/// (the page names devices, never lease ids, which are what apps present). Whether the device
/// held one.
pub async fn release_device(
    s: &Services,
    tenant_id: &str,
    license_id: &str,
    device_id: &str,
) -> Result<bool> {
    release_where(s, license_id, Some(tenant_id), |l| l.device_id == device_id).await
}

/// Releases the live lease `pick` chooses, on a fresh read after each lost race.
async fn release_where(
    s: &Services,
    license_id: &str,
    tenant_id: Option<&str>,
    pick: impl Fn(&Lease) -> bool,
) -> Result<bool> {
    for attempt in 0..MAX_ATTEMPTS {
        let now = s.clock.now();
        let Some((license, usage)) = s
            .store
            .get_license_with_usage(license_id)
            .await?
            .filter(|(l, _)| tenant_id.is_none_or(|t| l.tenant_id == t))
        else {
            return Ok(false);
        };
        let Some(lease_id) = leases::live(&usage.leases, now)
            .into_iter()
            .find(|l| pick(l))
            .map(|l| l.id)
        else {
            return Ok(false);
        };
        let Some(kept) = leases::release(&usage.leases, &lease_id, now) else {
            return Ok(false);
        };
        match s
            .store
            .write_leases(&license, usage.lease_version, &kept)
            .await?
        {
            ChangeWrite::Written => {
                tracing::info!(license_id = %license.id, "lease released");
                return Ok(true);
            }
            ChangeWrite::Stale => RACE_BACKOFF.sleep(attempt + 1).await,
        }
    }
    Err(busy())
}

/// The live leases of a license of `tenant_id` (the dashboard's seats in use).
pub async fn seats_in_use(s: &Services, tenant_id: &str, license_id: &str) -> Result<Vec<Lease>> {
    let now = s.clock.now();
    Ok(s.store
        .get_license_with_usage(license_id)
        .await?
        .filter(|(l, _)| l.tenant_id == tenant_id)
        .map(|(_, usage)| leases::live(&usage.leases, now))
        .unwrap_or_default())
}
