//! `license.expired` (and a subscription's delayed suspension) has no write to derive from: a
//! stored `active` license simply passes its `expiresAt`. The stream consumer stores a timer for
//! each such moment; this sweep, run on a schedule (every 5 minutes on AWS, every minute
//! locally), reads the timers that came due since it last ran and emits the event for each
//! license that really did turn expired (or suspended) then — not one renewed meanwhile. Event
//! ids derive from (license, kind, moment), so overlapping or repeated sweeps emit nothing twice.

use serde::Serialize;
use time::Duration;

use super::emit::{Emitter, OutgoingEvent};
use super::payload;
use crate::domain::webhooks::derive::{self, TimerKind};
use crate::domain::LicenseStatus;
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
        let Some(kind) = t.kind() else { continue };
        let Some(license) = s
            .store
            .get_tenant_license(&t.tenant_id, &t.license_id)
            .await?
        else {
            continue;
        };
        let still = match kind {
            TimerKind::Expire => {
                license.expires_at == Some(t.at) && license.status_at(now) == LicenseStatus::Expired
            }
            TimerKind::Suspend => {
                license.suspend_at == Some(t.at)
                    && license.status_at(now) == LicenseStatus::Suspended
            }
        };
        if !still {
            continue;
        }
        let endpoints = emitter.wanting(&t.tenant_id, kind.event_type()).await?;
        if endpoints.is_empty() {
            continue;
        }
        let at = crate::time::format(t.at);
        let event = OutgoingEvent {
            id: derive::event_id(&["timer", &t.license_id, kind.as_str(), &at]),
            kind: kind.event_type(),
            at: t.at,
            data: payload::license(s, license).await?,
        };
        emitter.emit(&endpoints, &event).await?;
        report.events += 1;
    }
    s.store.set_sweep_mark(now).await?;
    Ok(report)
}
