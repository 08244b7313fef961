//! `POST /api/stripe/webhook[/{appId}]`: verify, record, process, answer.
//!
//! Stripe gets 2xx only once the event is durably recorded and its effects committed; any
//! infrastructure failure answers 5xx so Stripe retries. Events that can never succeed
//! (unknown product, bad metadata, wrong mode, a Connect event the app does not accept) are
//! recorded `failed` with the reason and answered 200, since retrying cannot fix them.

mod chargeback;
mod checkout;
mod invoice;
mod payment_intent;
mod purchase;
mod routing;
pub mod shared_url;
pub(crate) mod stripe_reads;
mod subscription;

use http::StatusCode;
use serde::Serialize;
use tracing::Instrument;

use crate::domain::{EventLogEntry, EventSource, EventStatus, StripeApp};
use crate::http::{ApiRequest, ApiResponse};
use crate::services::stripe_connect;
use crate::stripe::signature::SignatureHeader;
use crate::stripe::{Event, EventObject};
use crate::{Error, Result, Services};

/// What processing an event came to.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Effects committed (or nothing to do); the licenses concerned. `logged` when the
    /// commit already marked the event verified (issuance does, in its transaction).
    Done {
        purchase_ref: Option<String>,
        license_ids: Vec<String>,
        logged: bool,
    },
    /// Refused for a reason retrying cannot fix.
    Refused(String),
}

impl Outcome {
    /// Nothing to do, nothing written: the event is recorded verified on its own.
    pub(crate) fn nothing() -> Self {
        Outcome::Done {
            purchase_ref: None,
            license_ids: Vec::new(),
            logged: false,
        }
    }
}

/// The answer Stripe (and `keyhook trigger`) gets.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Receipt<'a> {
    pub received: bool,
    pub event_id: &'a str,
    pub app_id: &'a str,
    pub status: EventStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
    pub license_ids: &'a [String],
    pub duplicate: bool,
}

fn bad_signature(message: impl Into<String>) -> Error {
    Error::BadRequest {
        code: "invalid_signature",
        message: message.into(),
    }
}

/// `POST /api/stripe/webhook[/{appId}]`: an event Stripe sent (or the dashboard's test
/// purchase, signed by Keyhook with the app's stored secret). One Stripe made that verifies is
/// noted on its app (the app's status needs a verified event).
pub async fn receive(s: &Services, req: &ApiRequest, app_id: Option<&str>) -> Result<ApiResponse> {
    // The shared URLs' candidates are every tenant's apps: only Stripe may make them try.
    if app_id.is_none() {
        shared_url::admit(&s.config, req)?;
    }
    let header = req
        .header("stripe-signature")
        .ok_or_else(|| bad_signature("the Stripe-Signature header is missing"))?;
    let signature = SignatureHeader::parse(header).map_err(|e| bad_signature(e.to_string()))?;
    signature
        .check_timestamp(
            time::OffsetDateTime::now_utc().unix_timestamp(),
            s.config.webhook_tolerance,
        )
        .map_err(|e| bad_signature(e.to_string()))?;
    // Parsed before verification only to narrow the candidate apps (by mode); nothing acts on
    // it until the signature has matched.
    let event = Event::parse(&req.body).map_err(|message| Error::BadRequest {
        code: "invalid_payload",
        message,
    })?;
    let tenant_hint = req
        .query_param("tenantId")
        .or_else(|| req.query_param("teamId"));
    let app = routing::match_app(
        s,
        &signature,
        &req.body,
        app_id,
        tenant_hint,
        event.livemode,
    )
    .await?;
    // An event Keyhook made itself (the dashboard's test purchase, signed with the app's
    // secret) shows that the app's URL and secret work, not that Stripe reaches them.
    if !crate::stripe::test_events::made_by_keyhook(&event.id) {
        stripe_connect::note_verified_event(s, &app).await;
    }

    let span = tracing::info_span!("event", event_id = %event.id, event_type = %event.event_type, app_id = %app.id, tenant_id = %app.tenant_id);
    async {
        tracing::info!("stripe event verified");
        let processed = record_and_process(s, &app, &event, EventSource::Webhook).await?;
        Ok(receipt(&app, &processed.entry, processed.duplicate))
    }
    .instrument(span)
    .await
}

/// What recording and processing an event came to.
#[derive(Debug)]
pub struct Processed {
    /// The event's log entry after processing.
    pub entry: EventLogEntry,
    /// The event had already been processed; nothing changed.
    pub duplicate: bool,
}

/// The one entrance to event processing, for an event known to come from `app`'s Stripe
/// account: a webhook whose signature matched (see [`receive`]), or an event reconciliation
/// fetched from Stripe's API with the app's own secret key. Records the event (once), runs its
/// effects, and marks it verified or failed.
///
/// Most events are recorded `received` first: a redelivery of one already verified is
/// answered without running its effects again. A paid Checkout Session that names what it
/// sold (no Stripe read, no subscription: [`recorded_on_commit`]) is not: its effects are
/// idempotent through the purchase record, so it is recorded verified by the transaction that
/// issues it (one DynamoDB write for the whole purchase), and written separately only on the
/// paths that need it: refused (`failed`, with the reason), an infrastructure error
/// (`received`, then 5xx), or no new issuance (verified after, which also tells a redelivery).
pub async fn record_and_process(
    s: &Services,
    app: &StripeApp,
    event: &Event,
    source: EventSource,
) -> Result<Processed> {
    let entry = EventLogEntry {
        event_id: event.id.clone(),
        tenant_id: app.tenant_id.clone(),
        app_id: app.id.clone(),
        event_type: event.event_type.clone(),
        status: EventStatus::Received,
        error: None,
        livemode: event.livemode,
        api_version: event.api_version.clone(),
        received_at: crate::time::now(),
        license_ids: Vec::new(),
        purchase_ref: None,
        source,
    };
    let on_commit = recorded_on_commit(event);
    if !on_commit {
        if let Some(previous) = s.store.record_event(&entry).await? {
            if previous.status == EventStatus::Verified {
                return redelivered(s, app, previous).await;
            }
        }
    }

    let outcome = match process(s, app, event, &entry).await {
        Ok(outcome) => outcome,
        Err(e) if on_commit => {
            // Not recorded yet: recorded `received` now, as other events are (unless it was
            // verified before: a redelivery, answered as one).
            if let Ok(Some(previous)) = s.store.record_event(&entry).await {
                if previous.status == EventStatus::Verified {
                    return redelivered(s, app, previous).await;
                }
            }
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let mut duplicate = false;
    let entry = match outcome {
        Outcome::Done {
            purchase_ref,
            license_ids,
            logged,
        } => {
            if !logged && on_commit {
                // Recorded verified now; already verified means a redelivery (its effects
                // were found committed: the purchase existed, its email re-enqueued if unsent).
                duplicate = !s
                    .store
                    .record_event_verified(&entry, purchase_ref.as_deref(), &license_ids)
                    .await?;
                if duplicate {
                    tracing::info!("duplicate delivery of a processed event");
                }
            } else if !logged {
                s.store
                    .mark_event_verified(
                        &app.tenant_id,
                        &event.id,
                        purchase_ref.as_deref(),
                        &license_ids,
                    )
                    .await?;
            }
            EventLogEntry {
                status: EventStatus::Verified,
                license_ids,
                purchase_ref,
                ..entry
            }
        }
        Outcome::Refused(reason) => {
            if on_commit {
                if let Some(previous) = s.store.record_event(&entry).await? {
                    if previous.status == EventStatus::Verified {
                        return redelivered(s, app, previous).await;
                    }
                }
            }
            tracing::warn!(reason = %reason, "stripe event refused");
            s.store
                .mark_event_failed(&app.tenant_id, &event.id, &reason)
                .await?;
            EventLogEntry {
                status: EventStatus::Failed,
                error: Some(reason),
                ..entry
            }
        }
    };
    Ok(Processed { entry, duplicate })
}

/// A redelivery of an event whose effects are committed: only make sure its email was handed
/// to the mailer (the first delivery may have failed right there).
async fn redelivered(s: &Services, app: &StripeApp, previous: EventLogEntry) -> Result<Processed> {
    if let Some(purchase_ref) = &previous.purchase_ref {
        crate::services::issuance::ensure_email_enqueued(s, &app.tenant_id, purchase_ref).await?;
    }
    tracing::info!("duplicate delivery of a processed event");
    Ok(Processed {
        entry: previous,
        duplicate: true,
    })
}

/// Whether the event is recorded by the transaction that commits its effects rather than
/// first: a paid Checkout Session (`completed` or `async_payment_succeeded`) that names what it
/// sold in its metadata and is not a subscription's. Its processing reads nothing from Stripe
/// and is idempotent through the purchase record (exactly-once issuance does not depend on the
/// event's record), so a redelivery costs what a first delivery does and changes nothing.
fn recorded_on_commit(event: &Event) -> bool {
    use crate::stripe::event::CheckoutSession;
    matches!(
        event.event_type.as_str(),
        "checkout.session.completed" | "checkout.session.async_payment_succeeded"
    ) && {
        let session = CheckoutSession(event.object());
        crate::stripe::metadata::has_product_id(session.metadata())
            && session.subscription().is_none()
            && session.mode() != Some("subscription")
    }
}

fn receipt(app: &StripeApp, entry: &EventLogEntry, duplicate: bool) -> ApiResponse {
    ApiResponse::json(
        StatusCode::OK,
        &Receipt {
            received: true,
            event_id: &entry.event_id,
            app_id: &app.id,
            status: entry.status,
            error: entry.error.as_deref(),
            license_ids: &entry.license_ids,
            duplicate,
        },
    )
}

/// Runs the effects of one verified event.
/// `log`: the event's log entry (issuance records it verified in its transaction).
async fn process(
    s: &Services,
    app: &StripeApp,
    event: &Event,
    log: &EventLogEntry,
) -> Result<Outcome> {
    if event.livemode != app.is_live {
        return Ok(Outcome::Refused(format!(
            "the event is {} but the Stripe app is {}",
            if event.livemode { "live" } else { "test" },
            if app.is_live { "live" } else { "test" }
        )));
    }
    if let Some(account) = event.account.as_deref() {
        if let Some(reason) = app.connect.refusal(account, &app.id) {
            return Ok(Outcome::Refused(reason));
        }
    }
    match event.event_type.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            checkout::paid(s, app, event, log).await
        }
        "checkout.session.async_payment_failed" => checkout::payment_failed(s, app, event).await,
        "payment_intent.succeeded" => payment_intent::succeeded(s, app, event, log).await,
        "invoice.paid" => invoice::paid(s, app, event, log).await,
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => subscription::changed(s, app, event).await,
        "charge.refunded" => chargeback::refunded(s, app, event).await,
        "charge.dispute.created" => chargeback::disputed(s, app, event).await,
        _ => Ok(Outcome::nothing()),
    }
}
