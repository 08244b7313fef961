//! License timers: when a stored `active` license turns expired or suspended by itself, no
//! write happens, so nothing reaches the stream. The stream consumer writes a timer for each
//! such moment it sees set; the sweep reads the timers that have come due, day partition by day
//! partition (`TIMER#<day>`, sort key `<at>#<licenseId>#<kind>`), from its watermark on.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{dynamo_err, table_keys, Store};
use crate::domain::webhooks::derive::TimerKind;
use crate::time::serde_ts;
use crate::Result;

/// A timer as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Timer {
    pub tenant_id: String,
    pub license_id: String,
    pub kind: String,
    #[serde(with = "serde_ts")]
    pub at: OffsetDateTime,
}

impl Timer {
    pub fn kind(&self) -> Option<TimerKind> {
        TimerKind::parse(&self.kind)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SweepMark {
    #[serde(with = "serde_ts")]
    through: OffsetDateTime,
}

/// `2026-11-24`.
pub fn day(t: OffsetDateTime) -> String {
    crate::time::format(t)[..10].to_string()
}

impl Store {
    /// Writes a timer (idempotent: the same moment for the same license is one item).
    pub async fn put_timer(&self, t: &Timer) -> Result<()> {
        let sk = format!("{}#{}#{}", crate::time::format(t.at), t.license_id, t.kind);
        let item = Self::item(t, (table_keys::timer_partition(&day(t.at)), sk))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(dynamo_err)?;
        Ok(())
    }

    /// The timers due in `(from, to]`, oldest first.
    pub async fn due_timers(&self, from: OffsetDateTime, to: OffsetDateTime) -> Result<Vec<Timer>> {
        let mut out = Vec::new();
        let mut d = from;
        loop {
            let mut start = None;
            loop {
                let page = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
                    .expression_attribute_values(
                        ":pk",
                        AttributeValue::S(table_keys::timer_partition(&day(d))),
                    )
                    .expression_attribute_values(
                        ":from",
                        AttributeValue::S(crate::time::format(from)),
                    )
                    // `~` sorts after every `#…` suffix of the same instant.
                    .expression_attribute_values(
                        ":to",
                        AttributeValue::S(format!("{}~", crate::time::format(to))),
                    )
                    .set_exclusive_start_key(start.take())
                    .send()
                    .await
                    .map_err(dynamo_err)?;
                for item in page.items.unwrap_or_default() {
                    let t: Timer = Self::record(item)?;
                    if t.at > from && t.at <= to {
                        out.push(t);
                    }
                }
                start = page.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
            if day(d) == day(to) {
                return Ok(out);
            }
            d += time::Duration::days(1);
        }
    }

    /// How far the sweep has read, if it ever ran.
    pub async fn sweep_mark(&self) -> Result<Option<OffsetDateTime>> {
        Ok(self
            .get::<SweepMark>(table_keys::sweep_mark())
            .await?
            .map(|m| m.through))
    }

    pub async fn set_sweep_mark(&self, through: OffsetDateTime) -> Result<()> {
        let item = Self::item(&SweepMark { through }, table_keys::sweep_mark())?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(dynamo_err)?;
        Ok(())
    }
}
