//! Webhook deliveries, in the tenant's partition (`WHDLV#<deliveryId>`), listed per endpoint
//! newest first through `gsi1` (`WHDLV#<endpointId>#<createdAt>#<deliveryId>`).
//!
//! Who may attempt a delivery is decided by conditional writes on `seq`: a queue message names
//! the `seq` it was sent for; claiming an attempt needs that `seq` and no live claim; recording
//! the outcome needs it still and moves it on. So duplicated, superseded or crashed messages
//! never make two attempts at once, and a crashed attempt is taken over once its claim expires.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use time::OffsetDateTime;

use super::{applied, table_keys, updated_record, Filter, Page, Store};
use crate::domain::webhooks::{Attempt, Delivery, DeliveryStatus};
use crate::{Error, Result};

fn key(tenant_id: &str, id: &str) -> table_keys::Key {
    (
        table_keys::tenant_partition(tenant_id),
        format!("{}{id}", table_keys::kind::DELIVERY),
    )
}

fn ts(t: OffsetDateTime) -> AttributeValue {
    AttributeValue::S(crate::time::format(t))
}

fn value<T: serde::Serialize>(v: &T) -> Result<AttributeValue> {
    serde_dynamo::to_attribute_value(v)
        .map_err(|e| Error::internal(format!("serialising attribute: {e}")))
}

/// How an attempt (or the decision not to make one) ended.
pub struct Outcome<'a> {
    pub status: DeliveryStatus,
    /// The attempt made, if one was.
    pub attempt: Option<&'a Attempt>,
    pub next_attempt_at: Option<OffsetDateTime>,
    /// Why it was given up without an attempt (endpoint disabled or deleted).
    pub closed_reason: Option<&'a str>,
    pub now: OffsetDateTime,
}

impl Store {
    /// Writes a new delivery; `Ok(false)` when it exists (the same event derived again). An item
    /// DynamoDB refuses (`ValidationException`: too large, say) is an internal error, not an
    /// unavailable service: writing it again can never succeed.
    pub async fn create_delivery(&self, d: &Delivery) -> Result<bool> {
        let item = Self::item(d, key(&d.tenant_id, &d.id))?;
        let item = Self::with_gsi1(
            item,
            &d.tenant_id,
            format!(
                "{}{}#{}#{}",
                table_keys::listing::DELIVERIES,
                d.endpoint_id,
                crate::time::format(d.created_at),
                d.id
            ),
        );
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        if let Err(e) = &result {
            if e.as_service_error().and_then(|e| e.code()) == Some("ValidationException") {
                return Err(Error::internal(format!(
                    "DynamoDB refused delivery {}: {}",
                    d.id,
                    aws_sdk_dynamodb::error::DisplayErrorContext(e)
                )));
            }
        }
        applied(result)
    }

    pub async fn get_delivery(&self, tenant_id: &str, id: &str) -> Result<Option<Delivery>> {
        self.get(key(tenant_id, id)).await
    }

    /// One page of an endpoint's deliveries, newest first, optionally of one status.
    pub async fn list_deliveries(
        &self,
        tenant_id: &str,
        endpoint_id: &str,
        limit: usize,
        cursor: Option<&str>,
        status: Option<DeliveryStatus>,
    ) -> Result<Page<Delivery>> {
        let filters: Vec<Filter> = status
            .map(|s| Filter {
                attribute: "status",
                value: s.as_str().to_string(),
            })
            .into_iter()
            .collect();
        self.list_tenant(
            tenant_id,
            &format!("{}{endpoint_id}#", table_keys::listing::DELIVERIES),
            limit,
            cursor,
            true,
            &filters,
        )
        .await
    }

    /// Claims the attempt that message `seq` asks for, until `until`.
    pub async fn claim_delivery(
        &self,
        tenant_id: &str,
        id: &str,
        seq: u32,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool> {
        applied(
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(Self::key_attrs(key(tenant_id, id))))
                .update_expression("SET claimUntil = :until")
                .condition_expression(
                    "seq = :seq AND #s = :pending AND (attribute_not_exists(claimUntil) OR claimUntil < :now)",
                )
                .expression_attribute_names("#s", "status")
                .expression_attribute_values(":seq", AttributeValue::N(seq.to_string()))
                .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
                .expression_attribute_values(":now", ts(now))
                .expression_attribute_values(":until", ts(until))
                .send()
                .await,
        )
    }

    /// Records how the attempt claimed for `seq` ended, and moves `seq` on (a retry is then
    /// enqueued for the new `seq`). `Ok(false)` when the claim was lost meanwhile.
    pub async fn finish_delivery(
        &self,
        tenant_id: &str,
        id: &str,
        seq: u32,
        outcome: Outcome<'_>,
    ) -> Result<bool> {
        let mut sets = vec!["#s = :status", "seq = :next_seq", "updatedAt = :now"];
        let mut removes = vec!["claimUntil"];
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(key(tenant_id, id))))
            .condition_expression("seq = :seq")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":seq", AttributeValue::N(seq.to_string()))
            .expression_attribute_values(":next_seq", AttributeValue::N((seq + 1).to_string()))
            .expression_attribute_values(":status", value(&outcome.status)?)
            .expression_attribute_values(":now", ts(outcome.now));
        if let Some(a) = outcome.attempt {
            sets.push("attempts = if_not_exists(attempts, :zero) + :one");
            sets.push("history = list_append(if_not_exists(history, :empty), :attempt)");
            req = req
                .expression_attribute_values(":zero", AttributeValue::N("0".into()))
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .expression_attribute_values(":empty", AttributeValue::L(vec![]))
                .expression_attribute_values(":attempt", AttributeValue::L(vec![value(a)?]));
        }
        match outcome.next_attempt_at {
            Some(t) => {
                sets.push("nextAttemptAt = :next");
                req = req.expression_attribute_values(":next", ts(t));
            }
            None => removes.push("nextAttemptAt"),
        }
        if let Some(r) = outcome.closed_reason {
            sets.push("closedReason = :reason");
            req = req.expression_attribute_values(":reason", AttributeValue::S(r.into()));
        }
        let expression = format!("SET {} REMOVE {}", sets.join(", "), removes.join(", "));
        applied(req.update_expression(expression).send().await)
    }

    /// A manual retry: pending again, due now, under a new `seq`. `Ok(None)` while an attempt
    /// is in progress (or the delivery is gone).
    pub async fn retry_delivery(
        &self,
        tenant_id: &str,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Delivery>> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attrs(key(tenant_id, id))))
            .update_expression(
                "SET #s = :pending, seq = seq + :one, nextAttemptAt = :now, updatedAt = :now REMOVE closedReason",
            )
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(claimUntil) OR claimUntil < :now)",
            )
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":now", ts(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        updated_record(result)
    }
}
