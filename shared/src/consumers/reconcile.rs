//! Reconciliation with Stripe: nothing missed when a webhook never arrives. Stripe stops
//! retrying an event after three days and disables endpoints that keep failing, so a merchant
//! who mistyped a signing secret would lose sales. On a schedule (and `keyhook reconcile`),
//! each active app's recent events are listed from Stripe's API (`GET /v1/events`, the handled
//! types, `created` bounds, paginated), with the app's own secret key over TLS — so they need no
//! signature — and every event Keyhook has not recorded (or recorded but never finished) goes
//! through the same processing as a webhook delivery ([`webhook::record_and_process`]), logged
//! with `source: "reconcile"`.
//!
//! Idempotent: processing is (recorded events are duplicates), so a second run changes nothing.
//! A per-app watermark keeps runs small: each lists from its last run's end (less an overlap)
//! to a few minutes ago (events still in flight as webhooks are left to their webhook).
//!
//! Each run also checks the app with Stripe (`stripe_connect::check_and_store`), so an
//! endpoint deleted or disabled in Stripe turns the app Partial without anyone asking.

use serde::Serialize;
use serde_json::Value;
use time::{Duration, OffsetDateTime};
use tracing::Instrument;

use crate::domain::{EventSource, EventStatus, StripeApp};
use crate::handlers::webhook::{self, stripe_reads};
use crate::services::stripe_connect;
use crate::store::reconcile_marks::ReconcileMark;
use crate::stripe::client::Form;
use crate::stripe::Event;
use crate::{Error, Result, Services};

/// The event types Keyhook processes (the one list: [`stripe_events::HANDLED`]).
pub use crate::domain::stripe_events::HANDLED as HANDLED_TYPES;

/// Events younger than this are left to their webhook (Stripe sends it within seconds).
pub const SETTLE: Duration = Duration::minutes(5);
/// Each run re-reads this much before its watermark (Stripe's list is eventually consistent).
pub const OVERLAP: Duration = Duration::minutes(15);
/// How far back a first run looks: as long as Stripe retries a webhook.
pub const FIRST_LOOK_BACK: Duration = Duration::days(3);
/// Stripe keeps events this long (`GET /v1/events` returns the last 30 days).
pub const MAX_LOOK_BACK: Duration = Duration::days(30);

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Only this app (else every active app that receives webhooks).
    pub app_id: Option<String>,
    /// List from this time instead of the watermark.
    pub since: Option<OffsetDateTime>,
}

/// What a run did for one app.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRun {
    pub app_id: String,
    pub tenant_id: String,
    pub from: String,
    pub to: String,
    /// Stripe list calls made.
    pub pages: u32,
    /// Events Stripe listed in the window.
    pub listed: u32,
    /// Events processed here because Keyhook had not recorded them (or never finished them).
    pub recovered: Vec<String>,
    /// Why the app was skipped (nothing to list with).
    pub skipped: Option<String>,
    /// Why the run stopped early (the watermark stays; the next run covers the window again).
    pub error: Option<String>,
}

/// Runs reconciliation for every active app (or one); one app's failure does not stop others.
pub async fn run(s: &Services, opts: &Options) -> Result<Vec<AppRun>> {
    let apps = match &opts.app_id {
        Some(id) => vec![s
            .store
            .get_app(id)
            .await?
            .ok_or_else(|| Error::not_found(format!("Stripe app {id}")))?],
        None => {
            let mut apps = s.store.webhook_apps(true).await?;
            apps.extend(s.store.webhook_apps(false).await?);
            apps
        }
    };
    let mut runs = Vec::new();
    for app in apps.into_iter().filter(|a| a.active) {
        let span = tracing::info_span!("reconcile", app_id = %app.id, tenant_id = %app.tenant_id);
        runs.push(run_app(s, &app, opts.since).instrument(span).await);
    }
    Ok(runs)
}

async fn run_app(s: &Services, app: &StripeApp, since: Option<OffsetDateTime>) -> AppRun {
    let now = s.clock.now();
    let mark = s.store.reconcile_mark(&app.tenant_id, &app.id).await;
    let from = match (since, &mark) {
        (Some(t), _) => t,
        (None, Ok(Some(m))) => m.through - OVERLAP,
        _ => now - FIRST_LOOK_BACK,
    }
    .max(now - MAX_LOOK_BACK);
    let to = now - SETTLE;
    let mut run = AppRun {
        app_id: app.id.clone(),
        tenant_id: app.tenant_id.clone(),
        from: crate::time::format(from),
        to: crate::time::format(to),
        pages: 0,
        listed: 0,
        recovered: Vec::new(),
        skipped: None,
        error: None,
    };
    // What Stripe says of the app now (a failure here is the check's, never the run's).
    let mut checked = app.clone();
    if let Err(e) = stripe_connect::check_and_store(s, &mut checked).await {
        tracing::warn!(error = %e, "could not check the app with Stripe");
    }
    if let Err(e) = reconcile_window(s, app, from, to, &mut run).await {
        tracing::error!(error = %e, "reconciliation stopped; the watermark stays");
        run.error = Some(e.to_string());
        return run;
    }
    let mark = ReconcileMark {
        tenant_id: app.tenant_id.clone(),
        app_id: app.id.clone(),
        through: to.max(mark.ok().flatten().map(|m| m.through).unwrap_or(to)),
        last_run_at: now,
        last_listed: run.listed,
        last_recovered: run.recovered.clone(),
    };
    if let Err(e) = s.store.put_reconcile_mark(&mark).await {
        run.error = Some(e.to_string());
    }
    if !run.recovered.is_empty() {
        tracing::warn!(
            recovered = run.recovered.len(),
            "events recovered by reconciliation"
        );
    }
    run
}

async fn reconcile_window(
    s: &Services,
    app: &StripeApp,
    from: OffsetDateTime,
    to: OffsetDateTime,
    run: &mut AppRun,
) -> Result<()> {
    if to <= from {
        return Ok(());
    }
    let Some(secret) = stripe_reads::secret_key(s, app).await? else {
        run.skipped = Some("the app has no secret key that opens; nothing listed".into());
        return Ok(());
    };
    // Stripe lists newest first; collect the window, then process oldest first.
    let mut events: Vec<Value> = Vec::new();
    let mut starting_after: Option<String> = None;
    loop {
        let mut form = Form::new()
            .set("limit", 100)
            .set("created[gte]", from.unix_timestamp())
            .set("created[lte]", to.unix_timestamp());
        for t in HANDLED_TYPES {
            form = form.set("types[]", t);
        }
        let form = form.set_opt("starting_after", starting_after.as_deref());
        let page = s
            .stripe
            .get(&secret, "events", &form)
            .await
            .map_err(Error::from_stripe_read)?;
        run.pages += 1;
        let data = page["data"].as_array().cloned().unwrap_or_default();
        starting_after = data
            .last()
            .and_then(|e| e["id"].as_str())
            .map(str::to_string);
        events.extend(data);
        if page["has_more"] != true || starting_after.is_none() {
            break;
        }
    }
    run.listed = events.len() as u32;
    events.sort_by_key(|e| e["created"].as_i64().unwrap_or(0));
    let ids: Vec<String> = events
        .iter()
        .filter_map(|e| e["id"].as_str().map(str::to_string))
        .collect();
    let mut known = std::collections::HashMap::new();
    for chunk in ids.chunks(100) {
        known.extend(s.store.event_statuses(&app.tenant_id, chunk).await?);
    }
    for value in events {
        let Ok(event) = serde_json::from_value::<Event>(value) else {
            continue;
        };
        if event.livemode != app.is_live {
            continue;
        }
        match known.get(&event.id) {
            Some(EventStatus::Verified) | Some(EventStatus::Failed) => continue,
            Some(EventStatus::Received) | None => {}
        }
        let span =
            tracing::info_span!("event", event_id = %event.id, event_type = %event.event_type);
        let processed = async {
            tracing::info!("processing an event its webhook did not deliver");
            webhook::record_and_process(s, app, &event, EventSource::Reconcile).await
        }
        .instrument(span)
        .await?;
        if !processed.duplicate {
            if processed.entry.source != EventSource::Reconcile {
                s.store
                    .set_event_source(&app.tenant_id, &event.id, EventSource::Reconcile)
                    .await?;
            }
            run.recovered.push(event.id.clone());
        }
    }
    Ok(())
}
