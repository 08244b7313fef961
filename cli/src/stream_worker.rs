//! Locally, this plays Lambda's DynamoDB stream event source: it reads the table's stream
//! (DynamoDB Streams: DescribeStream, GetShardIterator, GetRecords), hands each batch to the
//! same handler the deliveries Lambda runs, and moves on only past the records it handled
//! (a failed record is read again, as Lambda retries a batch from its reported failure).
//!
//! A fresh iterator is asked for on every read (after the last sequence number handled):
//! the emulator's iterators can go stale when a transaction is cancelled.

use std::collections::HashMap;

use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use keyhook_shared::handlers::deliveries::stream::{self, StreamChange, StreamEvent, StreamRecord};
use keyhook_shared::{Error, Result, Services};

fn streams_err(e: impl std::error::Error + 'static) -> Error {
    Error::aws(
        "dynamodbstreams",
        aws_sdk_dynamodbstreams::error::DisplayErrorContext(e),
    )
}

/// A reader of one table's stream, from its beginning.
pub struct StreamReader {
    client: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    /// Per shard, the last sequence number handled.
    positions: HashMap<String, String>,
}

impl StreamReader {
    pub fn new(client: aws_sdk_dynamodbstreams::Client, stream_arn: impl Into<String>) -> Self {
        StreamReader {
            client,
            stream_arn: stream_arn.into(),
            positions: HashMap::new(),
        }
    }

    /// One read of every shard; how many records were handled.
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
        for shard in shards {
            let mut req = self
                .client
                .get_shard_iterator()
                .stream_arn(&self.stream_arn)
                .shard_id(&shard);
            req = match self.positions.get(&shard) {
                Some(seq) => req
                    .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                    .sequence_number(seq),
                None => req.shard_iterator_type(ShardIteratorType::TrimHorizon),
            };
            let iterator = req.send().await.map_err(streams_err)?.shard_iterator;
            let Some(iterator) = iterator else { continue };
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
                continue;
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
            for r in &records {
                let seq = r.dynamodb.sequence_number.clone().unwrap_or_default();
                if Some(&seq) == failed_at.as_ref() {
                    return Err(Error::internal(format!(
                        "stream record {} failed; it will be read again",
                        r.event_id
                    )));
                }
                self.positions.insert(shard.clone(), seq);
                handled += 1;
            }
        }
        Ok(handled)
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
