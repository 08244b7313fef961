//! Webhooks to the merchant's systems, end to end: the table's stream is turned into events
//! ([`stream`], with [`sweep`] for what happens without a write), each event into deliveries
//! ([`emit`]), and the delivery queue into signed attempts ([`send`]). The deliveries Lambda
//! receives all three kinds of trigger; [`handle_lambda_event`] tells them apart.
//!
//! One tenant's data must not hold the others' events: payloads are bounded ([`payload`]), and
//! a failure is either transient (retried: the stream record, the sweep run) or one that can
//! never pass, which is recorded and stepped over ([`is_transient`]).

pub mod emit;
pub mod notice;
pub mod payload;
pub mod send;
pub mod stream;
pub mod sweep;

use serde::Serialize;
use serde_json::{json, Value};

use crate::{Error, Result, Services};

/// One invocation of the deliveries function: a DynamoDB stream batch, an SQS batch of
/// delivery jobs, or the scheduled sweep (`{"task": "sweep"}`).
pub async fn handle_lambda_event(s: &Services, event: Value) -> Result<Value> {
    let source = event["Records"][0]["eventSource"]
        .as_str()
        .unwrap_or_default();
    match source {
        "aws:dynamodb" => {
            let batch: stream::StreamEvent = serde_json::from_value(event)
                .map_err(|e| Error::internal(format!("not a DynamoDB stream event: {e}")))?;
            Ok(to_json(&stream::handle(s, batch).await))
        }
        "aws:sqs" => {
            let batch: aws_lambda_events::event::sqs::SqsEvent = serde_json::from_value(event)
                .map_err(|e| Error::internal(format!("not an SQS event: {e}")))?;
            Ok(to_json(&send::handle_batch(s, batch).await))
        }
        _ if event["task"] == "sweep" => Ok(to_json(&sweep::run(s).await?)),
        _ => Err(Error::internal(format!(
            "unknown event for the deliveries function: {}",
            json!(event.as_object().map(|o| o.keys().collect::<Vec<_>>()))
        ))),
    }
}

/// Whether a failure may pass by itself: an AWS service failing, throttling or unreachable
/// (retried). Anything else can never pass by retrying the same record (a stored item that does
/// not read or whose key does not open, an item DynamoDB refuses, a tenant deleted meanwhile):
/// it is recorded failed where the tenant sees it, and the work moves on.
pub fn is_transient(e: &Error) -> bool {
    matches!(e, Error::Upstream { .. })
}

fn to_json(v: &impl Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}
