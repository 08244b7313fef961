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
//! Like Lambda's poller, it reads on from each read's `NextShardIterator`: one GetRecords per
//! shard per poll. A fresh iterator (after the last sequence number handled) is asked for only
//! when a record is to be read again, when a read fails (an expired iterator), and when the
//! shard list is refreshed ([`SHARD_REFRESH`], or as soon as a shard ends), so an iterator the
//! emulator let go stale is replaced within seconds. An idle stream is polled at Lambda's pace
//! (4 reads a second), slowing to one a second after [`IDLE_POLLS`] empty reads.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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

/// How often the shard list is read again (DescribeStream), and every kept iterator with it.
pub const SHARD_REFRESH: std::time::Duration = std::time::Duration::from_secs(10);

/// Empty reads in a row before an idle stream is polled once a second instead of four times.
pub const IDLE_POLLS: u32 = 20;

/// Records asked for per GetRecords (Lambda's batch size for the deliveries function).
const BATCH: i32 = 100;

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

/// What a reader has done, for the local-stack benchmark and anyone watching `keyhook dev`:
/// records handled, and their lag (from the change's commit, by the stream's clock, to the
/// end of the batch that handled it).
#[derive(Debug, Default)]
pub struct StreamStats {
    records: AtomicU64,
    lag_total_ms: AtomicU64,
    lag_max_ms: AtomicU64,
}

impl StreamStats {
    fn handled(&self, lag: Option<std::time::Duration>) {
        self.records.fetch_add(1, Ordering::Relaxed);
        if let Some(lag) = lag {
            let ms = lag.as_millis() as u64;
            self.lag_total_ms.fetch_add(ms, Ordering::Relaxed);
            self.lag_max_ms.fetch_max(ms, Ordering::Relaxed);
        }
    }

    /// Records handled (given-up ones included).
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }

    /// The mean and the largest lag of the records handled so far.
    pub fn lag(&self) -> (std::time::Duration, std::time::Duration) {
        let n = self.records().max(1);
        (
            std::time::Duration::from_millis(self.lag_total_ms.load(Ordering::Relaxed) / n),
            std::time::Duration::from_millis(self.lag_max_ms.load(Ordering::Relaxed)),
        )
    }

    /// Clears the counters (a benchmark's warm-up done).
    pub fn reset(&self) {
        self.records.store(0, Ordering::Relaxed);
        self.lag_total_ms.store(0, Ordering::Relaxed);
        self.lag_max_ms.store(0, Ordering::Relaxed);
    }
}

/// A reader of one table's stream, from its beginning.
pub struct StreamReader {
    client: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    /// Per shard, the last sequence number handled.
    positions: HashMap<String, String>,
    /// Per shard, the iterator that reads on after its position (the last read's
    /// `NextShardIterator`); absent when the next read starts afresh from the position.
    iterators: HashMap<String, String>,
    /// The shards listed by the last DescribeStream, and when it was made.
    shards: Option<(Vec<String>, std::time::Instant)>,
    /// Shards read to their end (closed, nothing more will come).
    ended: HashSet<String>,
    /// Per shard, the record being retried.
    failing: HashMap<String, Failing>,
    /// Where given-up records' positions go (the delivery queue's dead-letter queue).
    dead_letter: Option<(aws_sdk_sqs::Client, String)>,
    stats: Arc<StreamStats>,
}

impl StreamReader {
    pub fn new(client: aws_sdk_dynamodbstreams::Client, stream_arn: impl Into<String>) -> Self {
        StreamReader {
            client,
            stream_arn: stream_arn.into(),
            positions: HashMap::new(),
            iterators: HashMap::new(),
            shards: None,
            ended: HashSet::new(),
            failing: HashMap::new(),
            dead_letter: None,
            stats: Arc::default(),
        }
    }

    /// The reader's counters (shared: they keep counting once the reader runs).
    pub fn stats(&self) -> Arc<StreamStats> {
        self.stats.clone()
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
        let shards = self.shards().await?;
        let mut handled = 0;
        let mut retrying = Vec::new();
        for shard in shards {
            if self.ended.contains(&shard) {
                continue;
            }
            let (n, failed) = match self.poll_shard(services, &shard).await {
                Ok(read) => read,
                Err(e) => {
                    // Read again from the position, with a fresh iterator and shard list.
                    self.iterators.remove(&shard);
                    self.shards = None;
                    return Err(e);
                }
            };
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

    /// The stream's shards: the cached list, or a fresh one (DescribeStream) when it is older
    /// than [`SHARD_REFRESH`] or was dropped; a fresh list drops the kept iterators too.
    async fn shards(&mut self) -> Result<Vec<String>> {
        if let Some((shards, at)) = &self.shards {
            if at.elapsed() < SHARD_REFRESH {
                return Ok(shards.clone());
            }
        }
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
        self.iterators.clear();
        self.shards = Some((shards.clone(), std::time::Instant::now()));
        Ok(shards)
    }

    /// An iterator reading `shard` after its last handled record: the kept one, or a fresh one.
    async fn iterator(&mut self, shard: &str) -> Result<Option<String>> {
        if let Some(kept) = self.iterators.remove(shard) {
            return Ok(Some(kept));
        }
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
        Ok(req.send().await.map_err(streams_err)?.shard_iterator)
    }

    /// One read of one shard: records handled, and the record that failed (to be read again).
    async fn poll_shard(
        &mut self,
        services: &Services,
        shard: &str,
    ) -> Result<(usize, Option<String>)> {
        let Some(iterator) = self.iterator(shard).await? else {
            return Ok((0, None));
        };
        let out = self
            .client
            .get_records()
            .shard_iterator(iterator)
            .limit(BATCH)
            .send()
            .await
            .map_err(streams_err)?;
        // Where the next read goes on from, once every record read here is handled; a shard
        // without one has ended (its records all read).
        let next = out.next_shard_iterator.clone();
        let records: Vec<StreamRecord> = out
            .records
            .unwrap_or_default()
            .into_iter()
            .filter_map(convert)
            .collect();
        if records.is_empty() {
            self.keep(shard, next);
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
        let done = keyhook_shared::time::now();
        let mut handled = 0;
        for r in &records {
            let position = r.position();
            if Some(&position) == failed_at.as_ref() {
                match self.failed(services.clock.now(), shard, r) {
                    // Read again from here: with a fresh iterator after the position.
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
            self.stats
                .handled(r.created_at().map(|t| (done - t).unsigned_abs()));
            handled += 1;
        }
        self.keep(shard, next);
        Ok((handled, None))
    }

    /// Keeps `next` to read `shard` on from, or marks the shard ended (and the shard list due
    /// for a refresh: its children are to be read).
    fn keep(&mut self, shard: &str, next: Option<String>) {
        match next {
            Some(next) => {
                self.iterators.insert(shard.to_string(), next);
            }
            None => {
                self.ended.insert(shard.to_string());
                self.shards = None;
            }
        }
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
        let mut empty = 0;
        loop {
            match self.poll_once(&services).await {
                Ok(0) => {
                    empty += 1;
                    let pause = if empty > IDLE_POLLS { 1000 } else { 250 };
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                }
                Ok(n) => {
                    empty = 0;
                    // A short batch: the stream is caught up; let the next one gather.
                    if n < 10 {
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                }
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
