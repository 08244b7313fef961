//! Counts the AWS calls Keyhook makes, by operation, with an interceptor on the real SDK
//! clients: how the benchmarks measure "AWS calls per purchase / per validation".

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use keyhook_shared::store::Store;
use keyhook_shared::{Config, Services};

/// Calls seen, as `Service.Operation` → count.
#[derive(Debug, Clone, Default)]
pub struct CallCounter(Arc<Mutex<BTreeMap<String, usize>>>);

impl CallCounter {
    pub fn snapshot(&self) -> BTreeMap<String, usize> {
        self.0.lock().unwrap().clone()
    }

    pub fn reset(&self) {
        self.0.lock().unwrap().clear();
    }

    /// The calls so far, clearing them.
    pub fn take(&self) -> BTreeMap<String, usize> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// Total calls to one service (`DynamoDB`, `KMS`, `SQS`, `SESv2`).
    pub fn service_total(&self, service: &str) -> usize {
        self.snapshot()
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{service}.")))
            .map(|(_, v)| v)
            .sum()
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    // Not `read_before_execution`: for interceptors set on a client's config, the SDK calls it
    // before the operation's configuration (its `Metadata`) is in the bag, so nothing would be
    // counted. Serialization happens once per operation, before the retry loop.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(m) = cfg.load::<Metadata>() {
            *self
                .0
                .lock()
                .unwrap()
                .entry(format!("{}.{}", m.service(), m.name()))
                .or_default() += 1;
        }
        Ok(())
    }
}

/// Services whose every AWS client reports to `counter`.
pub fn counted_services(config: Config, sdk: &SdkConfig, counter: &CallCounter) -> Services {
    let ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(sdk)
            .interceptor(counter.clone())
            .build(),
    );
    let kms = aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::config::Builder::from(sdk)
            .interceptor(counter.clone())
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(sdk)
            .interceptor(counter.clone())
            .build(),
    );
    let ses = aws_sdk_sesv2::Client::from_conf(
        aws_sdk_sesv2::config::Builder::from(sdk)
            .interceptor(counter.clone())
            .build(),
    );
    let store = Store::new(ddb, &config.table_name);
    Services::with_clients(config, store, kms, sqs, ses)
}
