//! The Stripe event log: newest first, filterable by status, type and mode (`?livemode=`).

use serde::Serialize;

use super::{caller, ts};
use crate::domain::{EventLogEntry, EventSource, EventStatus};
use crate::http::input::{pagination, ListBody};
use crate::http::{ApiRequest, ApiResponse};
use crate::store::Filter;
use crate::{Error, Result, Services};

#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    pub event_id: String,
    pub app_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub status: EventStatus,
    pub error: Option<String>,
    pub livemode: bool,
    pub api_version: Option<String>,
    pub received_at: String,
    pub license_ids: Vec<String>,
    pub purchase_ref: Option<String>,
    /// `webhook` (Stripe delivered it) or `reconcile` (found by reconciliation with Stripe).
    pub source: EventSource,
}

impl From<EventLogEntry> for EventView {
    fn from(e: EventLogEntry) -> Self {
        EventView {
            event_id: e.event_id,
            app_id: e.app_id,
            event_type: e.event_type,
            status: e.status,
            error: e.error,
            livemode: e.livemode,
            api_version: e.api_version,
            received_at: ts(e.received_at),
            license_ids: e.license_ids,
            purchase_ref: e.purchase_ref,
            source: e.source,
        }
    }
}

pub async fn list(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let (limit, cursor) = pagination(req)?;
    let status = req.query_param("status");
    if let Some(st) = status {
        if !["received", "verified", "failed"].contains(&st) {
            return Err(Error::validation(
                "status",
                "must be one of received, verified, failed",
            ));
        }
    }
    let livemode = req
        .query_param("livemode")
        .map(|m| crate::http::input::bool_param("livemode", m))
        .transpose()?;
    let source = req.query_param("source");
    if let Some(src) = source {
        if !["webhook", "reconcile"].contains(&src) {
            return Err(Error::validation(
                "source",
                "must be one of webhook, reconcile",
            ));
        }
    }
    let filters: Vec<Filter> = [
        ("status", status.map(str::to_string)),
        ("type", req.query_param("type").map(str::to_string)),
        ("livemode", livemode.map(|m| m.to_string())),
        ("source", source.map(str::to_string)),
    ]
    .into_iter()
    .filter_map(|(attribute, value)| value.map(|value| Filter { attribute, value }))
    .collect();
    let page = s
        .store
        .list_events(&c.tenant_id, limit, cursor.as_deref(), &filters)
        .await?;
    Ok(ApiResponse::ok(&ListBody::from_page(page, EventView::from)))
}

pub async fn get(s: &Services, req: &ApiRequest, event_id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let e = s
        .store
        .get_event(&c.tenant_id, event_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("Event {event_id}")))?;
    Ok(ApiResponse::ok(&EventView::from(e)))
}
