//! `license.expired` (and a subscription's delayed suspension) has no write to derive from: a
//! stored `active` license simply passes its `expiresAt`. The stream consumer stores a timer for
//! each such moment; this sweep, run on a schedule (every 5 minutes on AWS, every minute
//! locally), reads the timers that came due since it last ran and emits the event for each
//! license that really did turn expired (or suspended) then — not one renewed meanwhile. Event
//! ids derive from (license, kind, moment), so overlapping or repeated sweeps emit nothing twice.
//!
//! A transient failure stops the run (the next one reads the same timers again); a timer that
//! can never be handled (its license does not read, its key does not open) is recorded failed
//! or logged and stepped over, so one license cannot hold every tenant's expiry events.

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use super::emit::{Emitter, OutgoingEvent};
use super::{is_transient, payload};
use crate::domain::webhooks::derive::{self, TimerKind};
use crate::domain::LicenseStatus;
use crate::store::timers::Timer;
use crate::{Result, Services};

/// How far back a sweep re-reads before its watermark (a timer written late is still seen).
const OVERLAP: Duration = Duration::minutes(10);
/// How far back a first (or long-stopped) sweep looks.
const LOOK_BACK: Duration = Duration::days(2);

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    pub timers: usize,
    pub events: usize,
}

pub async fn run(s: &Services) -> Result<SweepReport> {
    let now = s.clock.now();
    let earliest = now - LOOK_BACK;
    let from = match s.store.sweep_mark().await? {
        Some(mark) => (mark - OVERLAP).max(earliest),
        None => earliest,
    };
    let timers = s.store.due_timers(from, now).await?;
    let mut emitter = Emitter::new(s);
    let mut report = SweepReport {
        timers: timers.len(),
        events: 0,
    };
    for t in timers {
        match sweep_timer(s, &mut emitter, &t, now).await {
            Ok(emitted) => report.events += usize::from(emitted),
            Err(e) if is_transient(&e) => return Err(e),
            Err(e) => tracing::error!(
                license = %t.license_id,
                timer = %t.kind,
                error = %e,
                "timer can never be handled; skipped"
            ),
        }
    }
    s.store.set_sweep_mark(now).await?;
    Ok(report)
}

/// Emits the event of one timer come due, if its license really turned then; whether it did.
async fn sweep_timer(
    s: &Services,
    emitter: &mut Emitter<'_>,
    t: &Timer,
    now: OffsetDateTime,
) -> Result<bool> {
    let Some(kind) = t.kind() else {
        return Ok(false);
    };
    let Some(license) = s
        .store
        .get_tenant_license(&t.tenant_id, &t.license_id)
        .await?
    else {
        return Ok(false);
    };
    let still = match kind {
        TimerKind::Expire => {
            license.expires_at == Some(t.at) && license.status_at(now) == LicenseStatus::Expired
        }
        TimerKind::Suspend => {
            license.suspend_at == Some(t.at) && license.status_at(now) == LicenseStatus::Suspended
        }
    };
    if !still {
        return Ok(false);
    }
    let endpoints = emitter.wanting(&t.tenant_id, kind.event_type()).await?;
    if endpoints.is_empty() {
        return Ok(false);
    }
    let at = crate::time::format(t.at);
    let event = OutgoingEvent {
        id: derive::event_id(&["timer", &t.license_id, kind.as_str(), &at]),
        kind: kind.event_type(),
        at: t.at,
        data: payload::license_reference(&license, now, None),
    };
    let read = payload::license(s, license, None).await;
    emitter.emit_read(&endpoints, event, read).await?;
    Ok(true)
}
