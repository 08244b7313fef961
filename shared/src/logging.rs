//! Log set-up: `tracing` as JSON in Lambda (CloudWatch parses it), human-readable locally.
//! Nothing secret is ever passed to a log macro: secrets live in types whose `Debug` redacts.

use tracing_subscriber::{fmt, EnvFilter};

/// JSON logs for Lambda; level from `RUST_LOG` (default `info`).
pub fn init_json() {
    let _ = fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .try_init();
}

/// Compact text logs for the local server and the CLI.
pub fn init_text() {
    let _ = fmt()
        .compact()
        .with_target(false)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,aws_smithy=warn".into()),
        )
        .try_init();
}
