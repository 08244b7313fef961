//! `keyhook import --format exisone|lukittu|keygen FILE`: reads another licensing service's
//! export with the shared reader
//! ([`keyhook_shared::handlers::admin::license_import::exports`], also behind the dashboard's
//! import page), and sends its licenses in batches to the admin API
//! (`POST /api/licenses/import`) with the merchant's token, so the import goes through the
//! same checks as any admin request and needs no AWS credentials. Re-running it changes
//! nothing (idempotent per external id).

use std::time::Duration;

pub use keyhook_shared::handlers::admin::license_import::exports::{
    parse, FileError, Format, Parsed, Skipped,
};
use keyhook_shared::handlers::admin::license_import::{ImportInput, ImportLicense, ImportReport};

/// Licenses per request (well under the 256 KiB body limit and the route's 1000).
pub const BATCH: usize = 500;

/// Why sending failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("could not reach Keyhook: {0}")]
    Http(#[from] reqwest::Error),
    #[error("Keyhook answered {status}: {body}")]
    Refused { status: u16, body: String },
}

/// Most consecutive `429` answers to one batch before giving up (each waited out first).
const MAX_RATE_LIMITED: u32 = 10;
/// Longest wait `Retry-After` may ask for.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// Sends licenses in batches of `batch`; `progress` sees each batch's report. A batch refused
/// by the tenant's import rate limit (`429`) is sent again after the `Retry-After` it names.
pub async fn send(
    http: &reqwest::Client,
    base_url: &str,
    token: &str,
    licenses: &[ImportLicense],
    dry_run: bool,
    batch: usize,
    mut progress: impl FnMut(&ImportReport),
) -> Result<Vec<ImportReport>, SendError> {
    let url = format!("{}/api/licenses/import", base_url.trim_end_matches('/'));
    let mut reports = Vec::new();
    for chunk in licenses.chunks(batch.clamp(1, 1000)) {
        let body = ImportInput {
            licenses: chunk.to_vec(),
            dry_run,
        };
        let mut limited = 0;
        let (status, body) = loop {
            let res = http
                .post(&url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await?;
            let status = res.status().as_u16();
            let wait = res
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                .map_or(Duration::from_secs(5), |s| {
                    Duration::from_secs(s).min(MAX_WAIT)
                });
            let text = res.text().await?;
            if status == 429 && limited < MAX_RATE_LIMITED {
                limited += 1;
                tokio::time::sleep(wait).await;
                continue;
            }
            break (status, text);
        };
        if status != 200 {
            return Err(SendError::Refused { status, body });
        }
        let report: ImportReport = serde_json::from_str(&body).map_err(|e| SendError::Refused {
            status,
            body: format!("unexpected answer ({e}): {body}"),
        })?;
        progress(&report);
        reports.push(report);
    }
    Ok(reports)
}
