//! Locally, this plays Lambda's DynamoDB stream event source: it reads the table's stream
//! (DynamoDB Streams: DescribeStream, GetShardIterator, GetRecords), hands each batch to the
//! same handler the deliveries Lambda runs, and moves on only past the records it handled.
//! A record the handler reports failed (a transient failure: it steps over the others itself)
//! is read again, as Lambda retries a batch from its reported failure, within the same budget
//! as the deployed event source mapping: [`MAX_RETRY_ATTEMPTS`] retries and [`MAX_RECORD_AGE`]
//! (by the services' clock). Past it, the record's position is sent to the dead-letter queue
//! in the shape of Lambda's on-failure record (`DDBStreamBatchInfo`), and the shard moves on.
//! One shard's failing record never stops the others from being read.
//!
//! A fresh iterator is asked for on every read (after the last sequence number handled):
//! the emulator's iterators can go stale when a transaction is cancelled.

use std::collections::HashMap;

use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use keyhook_shared::consumers::deliveries::stream::{
    self, StreamChange, StreamEvent, StreamRecord, MAX_RECORD_AGE, MAX_RETRY_ATTEMPTS,
};
use keyhook_shared::{Error, Result, Services};
use serde_json::json;
use time::OffsetDateTime;

fn streams_err(e: impl std::error::Error + 'static) -> Error {
    Error::aws(
        "dynamodbstreams",
        aws_sdk_dynamodbstreams::error::DisplayErrorContext(e),
    )
}

/// The record a shard is stuck on, and how many times it has failed.
struct Failing {
    position: String,
    failures: u32,
}

/// Why a failing record was given up (the `condition` of Lambda's on-failure record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GivenUp {
    RetryAttemptsExhausted,
    RecordAgeExceeded,
}

/// A reader of one table's stream, from its beginning.
pub struct StreamReader {
    client: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    /// Per shard, the last sequence number handled.
    positions: HashMap<String, String>,
    /// Per shard, the record being retried.
    failing: HashMap<String, Failing>,
    /// Where given-up records' positions go (the delivery queue's dead-letter queue).
    dead_letter: Option<(aws_sdk_sqs::Client, String)>,
}

impl StreamReader {
    pub fn new(client: aws_sdk_dynamodbstreams::Client, stream_arn: impl Into<String>) -> Self {
        StreamReader {
            client,
            stream_arn: stream_arn.into(),
            positions: HashMap::new(),
            failing: HashMap::new(),
            dead_letter: None,
        }
    }

    /// Sends the positions of given-up records to the SQS queue at `queue_url` (without one,
    /// they are only logged).
    pub fn with_dead_letter_queue(
        mut self,
        sqs: aws_sdk_sqs::Client,
        queue_url: impl Into<String>,
    ) -> Self {
        self.dead_letter = Some((sqs, queue_url.into()));
        self
    }

    /// One read of every shard; how many records were handled (given up ones included).
    /// `Err` when a shard's record failed and will be read again (after the other shards).
    pub async fn poll_once(&mut self, services: &Services) -> Result<usize> {
        let described = self
            .client
            .describe_stream()
            .stream_arn(&self.stream_arn)
            .send()
            .await
            .map_err(streams_err)?;
        let shards: Vec<String> = described
            .stream_description
            .map(|d| d.shards.unwrap_or_default())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|s| s.shard_id)
            .collect();
        let mut handled = 0;
        let mut retrying = Vec::new();
        for shard in shards {
            let (n, failed) = self.poll_shard(services, &shard).await?;
            handled += n;
            retrying.extend(failed);
        }
        if !retrying.is_empty() {
            return Err(Error::internal(format!(
                "stream record {} failed; it will be read again",
                retrying.join(", ")
            )));
        }
        Ok(handled)
    }

    /// One read of one shard: records handled, and the record that failed (to be read again).
    async fn poll_shard(
        &mut self,
        services: &Services,
        shard: &str,
    ) -> Result<(usize, Option<String>)> {
        let mut req = self
            .client
            .get_shard_iterator()
            .stream_arn(&self.stream_arn)
            .shard_id(shard);
        req = match self.positions.get(shard) {
            Some(seq) => req
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(seq),
            None => req.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        let iterator = req.send().await.map_err(streams_err)?.shard_iterator;
        let Some(iterator) = iterator else {
            return Ok((0, None));
        };
        let out = self
            .client
            .get_records()
            .shard_iterator(iterator)
            .limit(100)
            .send()
            .await
            .map_err(streams_err)?;
        let records: Vec<StreamRecord> = out
            .records
            .unwrap_or_default()
            .into_iter()
            .filter_map(convert)
            .collect();
        if records.is_empty() {
            return Ok((0, None));
        }
        let response = stream::handle(
            services,
            StreamEvent {
                records: records.clone(),
            },
        )
        .await;
        let failed_at = response
            .batch_item_failures
            .first()
            .map(|f| f.item_identifier.clone());
        let mut handled = 0;
        for r in &records {
            let position = r.position();
            if Some(&position) == failed_at.as_ref() {
                match self.failed(services.clock.now(), shard, r) {
                    None => return Ok((handled, Some(r.event_id.clone()))),
                    Some(condition) => {
                        self.give_up(shard, r, condition).await?;
                        self.failing.remove(shard);
                    }
                }
            } else if self
                .failing
                .get(shard)
                .is_some_and(|f| f.position == position)
            {
                self.failing.remove(shard);
            }
            self.positions.insert(shard.to_string(), position);
            handled += 1;
        }
        Ok((handled, None))
    }

    /// Counts a failure of `r` at `now`; whether it is now to be given up, and why.
    fn failed(&mut self, now: OffsetDateTime, shard: &str, r: &StreamRecord) -> Option<GivenUp> {
        let position = r.position();
        let failing = self
            .failing
            .entry(shard.to_string())
            .or_insert_with(|| Failing {
                position: position.clone(),
                failures: 0,
            });
        if failing.position != position {
            *failing = Failing {
                position,
                failures: 0,
            };
        }
        failing.failures += 1;
        let age = r.created_at().map(|t| now - t).unwrap_or_default();
        if age > MAX_RECORD_AGE {
            Some(GivenUp::RecordAgeExceeded)
        } else if failing.failures > MAX_RETRY_ATTEMPTS {
            // The first failure is the first try; the retries come after it.
            Some(GivenUp::RetryAttemptsExhausted)
        } else {
            None
        }
    }

    /// Sends a given-up record's position to the dead-letter queue, as Lambda's on-failure
    /// destination receives it.
    async fn give_up(&self, shard: &str, r: &StreamRecord, condition: GivenUp) -> Result<()> {
        let position = r.position();
        let failures = self.failing.get(shard).map_or(1, |f| f.failures);
        tracing::error!(
            record = %r.event_id,
            shard,
            sequence_number = %position,
            ?condition,
            failures,
            "stream record given up; its position goes to the dead-letter queue"
        );
        let Some((sqs, queue_url)) = &self.dead_letter else {
            return Ok(());
        };
        let created = r.created_at().map(keyhook_shared::time::format);
        let body = json!({
            "version": "1.0",
            "timestamp": keyhook_shared::time::format(keyhook_shared::time::now()),
            "requestContext": {
                "condition": format!("{condition:?}"),
                "approximateInvokeCount": failures,
            },
            "DDBStreamBatchInfo": {
                "shardId": shard,
                "startSequenceNumber": position,
                "endSequenceNumber": position,
                "approximateArrivalOfFirstRecord": created,
                "approximateArrivalOfLastRecord": created,
                "batchSize": 1,
                "streamArn": self.stream_arn,
            },
        });
        sqs.send_message()
            .queue_url(queue_url)
            .message_body(body.to_string())
            .send()
            .await
            .map_err(|e| Error::aws("sqs", aws_sdk_sqs::error::DisplayErrorContext(e)))?;
        Ok(())
    }

    /// Reads until the stream has nothing new.
    pub async fn drain(&mut self, services: &Services) -> Result<usize> {
        let mut total = 0;
        loop {
            let n = self.poll_once(services).await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }

    /// Runs forever (the local stack's stream consumer).
    pub async fn run(mut self, services: Services) {
        loop {
            match self.poll_once(&services).await {
                Ok(0) => tokio::time::sleep(std::time::Duration::from_millis(250)).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "stream worker poll failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                }
            }
        }
    }
}

/// A DynamoDB Streams record in the shape Lambda delivers it.
fn convert(r: aws_sdk_dynamodbstreams::types::Record) -> Option<StreamRecord> {
    let change = r.dynamodb?;
    let item = |m: Option<HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| {
        m.map(serde_dynamo::Item::from)
    };
    Some(StreamRecord {
        event_id: r.event_id?,
        event_name: r
            .event_name
            .map(|n| n.as_str().to_string())
            .unwrap_or_default(),
        event_source: Some("aws:dynamodb".into()),
        dynamodb: StreamChange {
            approximate_creation_date_time: change
                .approximate_creation_date_time
                .map(|t| t.as_secs_f64()),
            keys: item(change.keys),
            new_image: item(change.new_image),
            old_image: item(change.old_image),
            sequence_number: change.sequence_number,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader() -> StreamReader {
        let conf = aws_sdk_dynamodbstreams::Config::builder()
            .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
            .build();
        StreamReader::new(aws_sdk_dynamodbstreams::Client::from_conf(conf), "arn")
    }

    fn record(seq: &str, created: OffsetDateTime) -> StreamRecord {
        StreamRecord {
            event_id: format!("ev-{seq}"),
            event_name: "INSERT".into(),
            event_source: None,
            dynamodb: StreamChange {
                approximate_creation_date_time: Some(created.unix_timestamp() as f64),
                sequence_number: Some(seq.into()),
                ..Default::default()
            },
        }
    }

    #[test]
    fn a_failing_record_is_given_up_after_lambdas_retries_or_age() {
        let now = keyhook_shared::time::now();
        let mut reader = reader();
        let r = record("100", now);
        // The first try fails, and MAX_RETRY_ATTEMPTS - 1 retries: each is read again; the
        // last retry failing gives the record up.
        for _ in 0..MAX_RETRY_ATTEMPTS {
            assert_eq!(reader.failed(now, "s1", &r), None);
        }
        assert_eq!(
            reader.failed(now, "s1", &r),
            Some(GivenUp::RetryAttemptsExhausted)
        );
        // Another shard, and another record of the same shard, count afresh.
        assert_eq!(reader.failed(now, "s2", &r), None);
        assert_eq!(reader.failed(now, "s1", &record("101", now)), None);
        // A record older than Lambda's limit is given up at its next failure.
        let later = now + MAX_RECORD_AGE + std::time::Duration::from_secs(1);
        assert_eq!(
            reader.failed(later, "s2", &r),
            Some(GivenUp::RecordAgeExceeded)
        );
        let just = now + MAX_RECORD_AGE - std::time::Duration::from_secs(1);
        assert_eq!(reader.failed(just, "s3", &r), None);
    }
}
