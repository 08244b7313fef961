//! The Stripe event log: newest first, filterable by status, type and mode (`?livemode=`).

use serde::Serialize;

use super::{caller, ts};
use crate::domain::{EventLogEntry, EventSource, EventStatus};
use crate::http::auth::Caller;
use crate::http::input::{bool_param, raw_param, ListBody, ListQuery};
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

/// A page of the event log, newest first, filtered by what is given.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub page: ListQuery,
    /// `?status=`.
    pub status: Option<EventStatus>,
    /// `?type=`: a Stripe event type.
    pub event_type: Option<String>,
    /// `?livemode=`.
    pub livemode: Option<bool>,
    /// `?source=`.
    pub source: Option<EventSource>,
}

impl EventQuery {
    /// `GET /api/stripe/events`'s query.
    pub fn from_request(req: &ApiRequest) -> Result<Self> {
        Self::from_params(|k| raw_param(req, k))
    }

    /// The query from parameters (`param` gives a parameter's value as sent; empty filters
    /// are none), checked in the order of the API's errors: page, status, livemode, source.
    pub fn from_params<'a>(param: impl Fn(&str) -> Option<&'a str>) -> Result<Self> {
        let page = ListQuery::from_params(&param)?;
        let given = |k: &str| param(k).filter(|v| !v.is_empty());
        let status = given("status")
            .map(|st| match st {
                "received" => Ok(EventStatus::Received),
                "verified" => Ok(EventStatus::Verified),
                "failed" => Ok(EventStatus::Failed),
                _ => Err(Error::validation(
                    "status",
                    "must be one of received, verified, failed",
                )),
            })
            .transpose()?;
        let livemode = given("livemode")
            .map(|m| bool_param("livemode", m))
            .transpose()?;
        let source = given("source")
            .map(|src| match src {
                "webhook" => Ok(EventSource::Webhook),
                "reconcile" => Ok(EventSource::Reconcile),
                _ => Err(Error::validation(
                    "source",
                    "must be one of webhook, reconcile",
                )),
            })
            .transpose()?;
        Ok(EventQuery {
            page,
            status,
            event_type: given("type").map(str::to_string),
            livemode,
            source,
        })
    }
}

/// A page of the caller's Stripe event log.
pub async fn list_events(
    s: &Services,
    c: &Caller,
    query: EventQuery,
) -> Result<ListBody<EventView>> {
    let filters: Vec<Filter> = [
        ("status", query.status.map(|st| st.as_str().to_string())),
        ("type", query.event_type),
        ("livemode", query.livemode.map(|m| m.to_string())),
        ("source", query.source.map(|src| src.as_str().to_string())),
    ]
    .into_iter()
    .filter_map(|(attribute, value)| value.map(|value| Filter { attribute, value }))
    .collect();
    let page = s
        .store
        .list_events(
            &c.tenant_id,
            query.page.limit,
            query.page.cursor.as_deref(),
            &filters,
        )
        .await?;
    Ok(ListBody::from_page(page, EventView::from))
}

/// `GET /api/stripe/events`.
pub async fn list(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    let query = EventQuery::from_request(req)?;
    Ok(ApiResponse::ok(&list_events(s, &c, query).await?))
}

/// One event of the caller's log.
pub async fn get_event(s: &Services, c: &Caller, event_id: &str) -> Result<EventView> {
    let e = s
        .store
        .get_event(&c.tenant_id, event_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("Event {event_id}")))?;
    Ok(EventView::from(e))
}

/// `GET /api/stripe/events/{eventId}`.
pub async fn get(s: &Services, req: &ApiRequest, event_id: &str) -> Result<ApiResponse> {
    let c = caller(s, req).await?;
    Ok(ApiResponse::ok(&get_event(s, &c, event_id).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&'static str, &'static str)]) -> Result<EventQuery> {
        EventQuery::from_params(|k| pairs.iter().find(|(p, _)| *p == k).map(|(_, v)| *v))
    }

    fn refused_at(pairs: &[(&'static str, &'static str)]) -> Option<String> {
        match read(pairs) {
            Err(Error::Validation { field, .. }) => field,
            other => panic!("{pairs:?}: {other:?}"),
        }
    }

    #[test]
    fn the_log_query_is_read_and_checked_in_the_apis_order() {
        let q = read(&[
            ("status", "failed"),
            ("type", "invoice.paid"),
            ("livemode", "false"),
            ("source", "reconcile"),
            ("limit", "25"),
        ])
        .unwrap();
        assert_eq!(q.status, Some(EventStatus::Failed));
        assert_eq!(q.event_type.as_deref(), Some("invoice.paid"));
        assert_eq!(q.livemode, Some(false));
        assert_eq!(q.source, Some(EventSource::Reconcile));
        assert_eq!(q.page, ListQuery::first(25));
        // Empty filters are none.
        let q = read(&[("status", ""), ("type", ""), ("source", "")]).unwrap();
        assert!(q.status.is_none() && q.event_type.is_none() && q.source.is_none());
        let all_bad = [
            ("limit", "0"),
            ("status", "done"),
            ("livemode", "yes"),
            ("source", "cron"),
        ];
        for n in 0..all_bad.len() {
            assert_eq!(refused_at(&all_bad[n..]).as_deref(), Some(all_bad[n].0));
        }
    }
}
