//! Creates Keyhook's AWS resources if they do not exist: the DynamoDB table with its indexes
//! and its stream (new and old images: outgoing webhook events are derived from it), the KMS
//! key (behind an alias), the mail queue and the webhook delivery queue with their dead-letter
//! queues, and the SES sender identity. The SAM template (`infra/template.yaml`) declares the same resources for
//! AWS; a test keeps the two in step.

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};
use aws_sdk_sqs::types::QueueAttributeName;
use keyhook_shared::store::table_keys as keys;

/// Redeliveries of a mail job before it goes to the dead-letter queue.
pub const MAIL_MAX_RECEIVE_COUNT: u32 = 5;
/// The mail queue's visibility timeout (seconds): above the mailer's timeout and claim.
pub const MAIL_VISIBILITY_TIMEOUT: u32 = 180;

/// Receives of a delivery message before it goes to the dead-letter queue. Retries of a failing
/// endpoint are scheduled by the sender itself (new messages); this only catches a message the
/// sender keeps crashing on.
pub const DELIVERY_MAX_RECEIVE_COUNT: u32 = 5;
/// The delivery queue's visibility timeout (seconds): 6 x the deliveries function's 30 s
/// timeout, above the sender's 60 s claim on a delivery.
pub const DELIVERY_VISIBILITY_TIMEOUT: u32 = 180;
/// The table's stream view: outgoing events compare each item's old and new image.
pub const STREAM_VIEW: StreamViewType = StreamViewType::NewAndOldImages;

/// Names of the resources to create.
#[derive(Debug, Clone)]
pub struct ResourceNames {
    pub table: String,
    /// KMS alias, `alias/...`.
    pub kms_alias: String,
    pub queue: String,
    /// The webhook delivery queue (its dead-letter queue is `<name>-dlq`).
    pub delivery_queue: String,
    pub mail_from: String,
}

/// What was created (or found).
#[derive(Debug, Clone)]
pub struct Resources {
    pub table: String,
    /// The table's stream (outgoing webhook events are derived from it).
    pub stream_arn: String,
    pub kms_key_id: String,
    pub queue_url: String,
    pub dlq_url: String,
    pub delivery_queue_url: String,
    pub delivery_dlq_url: String,
    pub mail_from: String,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The table's key schema and indexes, as `infra/template.yaml` declares them.
pub fn table_definition() -> (
    Vec<KeySchemaElement>,
    Vec<AttributeDefinition>,
    Vec<GlobalSecondaryIndex>,
) {
    let key = |name: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(t)
            .build()
            .expect("complete key")
    };
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("complete attribute")
    };
    let gsi = |name: &str, pk: &str, sk: &str| {
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key(pk, KeyType::Hash))
            .key_schema(key(sk, KeyType::Range))
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .expect("complete index")
    };
    (
        vec![key(keys::PK, KeyType::Hash), key(keys::SK, KeyType::Range)],
        [
            keys::PK,
            keys::SK,
            keys::GSI1_PK,
            keys::GSI1_SK,
            keys::GSI2_PK,
            keys::GSI2_SK,
        ]
        .into_iter()
        .map(attr)
        .collect(),
        vec![
            gsi(keys::GSI1, keys::GSI1_PK, keys::GSI1_SK),
            gsi(keys::GSI2, keys::GSI2_PK, keys::GSI2_SK),
        ],
    )
}

pub async fn provision(sdk: &SdkConfig, names: &ResourceNames) -> Result<Resources, BoxError> {
    let (table, stream_arn) =
        ensure_table(&aws_sdk_dynamodb::Client::new(sdk), &names.table).await?;
    let kms_key_id = ensure_kms_key(&aws_sdk_kms::Client::new(sdk), &names.kms_alias).await?;
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let (queue_url, dlq_url) = ensure_queues(
        &sqs,
        &names.queue,
        MAIL_MAX_RECEIVE_COUNT,
        MAIL_VISIBILITY_TIMEOUT,
    )
    .await?;
    let (delivery_queue_url, delivery_dlq_url) = ensure_queues(
        &sqs,
        &names.delivery_queue,
        DELIVERY_MAX_RECEIVE_COUNT,
        DELIVERY_VISIBILITY_TIMEOUT,
    )
    .await?;
    ensure_sender(&aws_sdk_sesv2::Client::new(sdk), &names.mail_from).await?;
    Ok(Resources {
        table,
        stream_arn,
        kms_key_id,
        queue_url,
        dlq_url,
        delivery_queue_url,
        delivery_dlq_url,
        mail_from: names.mail_from.clone(),
    })
}

fn stream_spec() -> StreamSpecification {
    StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(STREAM_VIEW)
        .build()
        .expect("complete stream specification")
}

/// The table (created with its stream, or given one if it has none) and its stream's ARN.
async fn ensure_table(
    ddb: &aws_sdk_dynamodb::Client,
    name: &str,
) -> Result<(String, String), BoxError> {
    let (schema, attrs, gsis) = table_definition();
    let result = ddb
        .create_table()
        .table_name(name)
        .set_key_schema(Some(schema))
        .set_attribute_definitions(Some(attrs))
        .set_global_secondary_indexes(Some(gsis))
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(stream_spec())
        .send()
        .await;
    match result {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) => {}
        Err(e) => {
            return Err(aws_sdk_dynamodb::error::DisplayErrorContext(e)
                .to_string()
                .into())
        }
    }
    // Sign-in links, sessions and rate counters expire by themselves (`ttl`, epoch seconds).
    let ttl = aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
        .attribute_name(keys::TTL)
        .enabled(true)
        .build()?;
    if let Err(e) = ddb
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(ttl)
        .send()
        .await
    {
        // Already enabled (a second `provision`) is fine; anything else is not.
        let text = aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string();
        if !text.contains("already enabled") {
            return Err(text.into());
        }
    }
    let ddb_err = |e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string();
    let described = ddb
        .describe_table()
        .table_name(name)
        .send()
        .await
        .map_err(ddb_err)?;
    let mut stream_arn = described.table.and_then(|t| t.latest_stream_arn);
    if stream_arn.is_none() {
        // A table made before outgoing webhooks: give it its stream.
        let updated = ddb
            .update_table()
            .table_name(name)
            .stream_specification(stream_spec())
            .send()
            .await
            .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
        stream_arn = updated.table_description.and_then(|t| t.latest_stream_arn);
    }
    let stream_arn = stream_arn.ok_or("DynamoDB returned no stream ARN")?;
    Ok((name.to_string(), stream_arn))
}

async fn ensure_kms_key(kms: &aws_sdk_kms::Client, alias: &str) -> Result<String, BoxError> {
    if let Ok(out) = kms.describe_key().key_id(alias).send().await {
        if let Some(meta) = out.key_metadata {
            return Ok(meta.key_id);
        }
    }
    let key = kms
        .create_key()
        .description("Keyhook: wraps tenant data keys")
        .send()
        .await
        .map_err(|e| aws_sdk_kms::error::DisplayErrorContext(e).to_string())?;
    let key_id = key
        .key_metadata
        .map(|m| m.key_id)
        .ok_or("KMS returned no key metadata")?;
    let _ = kms.enable_key_rotation().key_id(&key_id).send().await;
    kms.create_alias()
        .alias_name(alias)
        .target_key_id(&key_id)
        .send()
        .await
        .map_err(|e| aws_sdk_kms::error::DisplayErrorContext(e).to_string())?;
    Ok(key_id)
}

/// A queue with its dead-letter queue (`<name>-dlq`, 14 days' retention); their URLs.
async fn ensure_queues(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    max_receive_count: u32,
    visibility_timeout: u32,
) -> Result<(String, String), BoxError> {
    let dlq = sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
        .send()
        .await
        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
    let dlq_url = dlq.queue_url.ok_or("SQS returned no DLQ URL")?;
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
    let dlq_arn = attrs
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or("SQS returned no DLQ ARN")?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": max_receive_count.to_string(),
    })
    .to_string();
    let queue = sqs
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility_timeout.to_string(),
        )
        .send()
        .await
        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
    Ok((queue.queue_url.ok_or("SQS returned no queue URL")?, dlq_url))
}

async fn ensure_sender(ses: &aws_sdk_sesv2::Client, from: &str) -> Result<(), BoxError> {
    match ses
        .create_email_identity()
        .email_identity(from)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_already_exists_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_sdk_sesv2::error::DisplayErrorContext(e)
            .to_string()
            .into()),
    }
}
