//! Hello world on `lambda_runtime`: the baseline Keyhook's functions are measured against in
//! `make bench-deploy` (same profile, same build, same local Runtime API).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(json!({ "hello": "world", "echo": event.payload }))
    }))
    .await
}
