//! Import (`/dashboard/import`): an ExisOne, Lukittu or Keygen export (CSV or JSON) uploaded,
//! read by the same reader as `keyhook import` ([`crate::import`]), and sent to the admin API's
//! `POST /api/licenses/import` in-process, in the CLI's batches: a dry run first (what would be
//! created, what fails and why), then the import, with one result per license. Re-importing
//! the same file changes nothing (the API is idempotent per external id). The file's keys are
//! never shown back: the results name licenses by their external id.

use minijinja::context;
use serde_json::json;

use super::api::{items, Api};
use super::form::{form_status, Form};
use super::session::{self, Signed};
use super::{notice, show};
use crate::handlers::admin::license_import::{ImportReport, ImportStatus};
use crate::http::{ApiRequest, ApiResponse};
use crate::import::{parse, Format, Skipped};
use crate::{Error, Result, Services};

/// Licenses per in-process request (the CLI's batch: well within the route's 1000).
const BATCH: usize = 500;

/// What a run did, for the results table.
#[derive(Debug, Default, serde::Serialize)]
struct Outcome {
    dry_run: bool,
    file_name: Option<String>,
    format: &'static str,
    read: usize,
    created: usize,
    unchanged: usize,
    failed: usize,
    /// Records the reader could not turn into a license (never sent).
    skipped: Vec<SkippedView>,
    results: Vec<serde_json::Value>,
}

#[derive(Debug, serde::Serialize)]
struct SkippedView {
    record: usize,
    reason: String,
}

impl From<Skipped> for SkippedView {
    fn from(s: Skipped) -> Self {
        SkippedView {
            record: s.record,
            reason: s.reason,
        }
    }
}

fn formats() -> Vec<(&'static str, &'static str)> {
    Format::ALL
        .iter()
        .map(|f| (f.as_str(), f.label()))
        .collect()
}

async fn page_with(
    s: &Services,
    req: &ApiRequest,
    me: &Signed,
    values: serde_json::Value,
    errors: Option<serde_json::Value>,
    outcome: Option<Outcome>,
) -> Result<ApiResponse> {
    let status = form_status(&errors);
    let products = Api::new(s, me, req).get("/api/products?limit=200").await?;
    show(
        s,
        me,
        "import.html",
        status,
        context! {
            title => "Import licenses",
            nav => "import",
            notice => notice(req),
            formats => formats(),
            products => items(&products),
            values => values,
            errors => errors,
            outcome => outcome,
        },
    )
}

/// `GET /dashboard/import`.
pub async fn page(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    page_with(s, req, &me, json!({"format": "exisone"}), None, None).await
}

/// `POST /dashboard/import` (`multipart/form-data`: `format`, `file`; `action` = `dry_run`
/// or `import`).
pub async fn run(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_edit()?;
    let values = json!({"format": form.get("format")});
    match outcome(s, req, &me, &form).await {
        Ok(outcome) => page_with(s, req, &me, values, None, Some(outcome)).await,
        Err(Error::Validation { field, message }) => {
            // The form's own fields at their input; anything the API says about the batch
            // (its fields are not inputs here) above the results.
            let errors = match field.as_deref() {
                Some(f @ ("file" | "format")) => json!({ f: message }),
                Some(f) => json!({"_": format!("{f} {message}")}),
                None => json!({"_": message}),
            };
            page_with(s, req, &me, values, Some(errors), None).await
        }
        Err(e) => Err(e),
    }
}

async fn outcome(s: &Services, req: &ApiRequest, me: &Signed, form: &Form) -> Result<Outcome> {
    let format: Format = form
        .get("format")
        .unwrap_or_default()
        .parse()
        .map_err(|m: String| Error::validation("format", m))?;
    let text = form.raw("file").unwrap_or_default();
    if text.trim().is_empty() {
        return Err(Error::validation(
            "file",
            "choose the export file (CSV or JSON)",
        ));
    }
    let parsed = parse(format, text).map_err(|e| Error::validation("file", e.to_string()))?;
    let dry_run = form.action() != "import";
    let api = Api::new(s, me, req);
    let mut out = Outcome {
        dry_run,
        file_name: form.get("file.filename").map(str::to_string),
        format: format.label(),
        read: parsed.licenses.len() + parsed.skipped.len(),
        skipped: parsed.skipped.into_iter().map(SkippedView::from).collect(),
        ..Outcome::default()
    };
    for chunk in parsed.licenses.chunks(BATCH) {
        let answer = api
            .post(
                "/api/licenses/import",
                json!({"licenses": chunk, "dryRun": dry_run}),
            )
            .await?;
        let report: ImportReport = serde_json::from_value(answer)
            .map_err(|e| Error::internal(format!("import answer: {e}")))?;
        out.created += report.created;
        out.unchanged += report.unchanged;
        out.failed += report.failed;
        out.results.extend(report.results.into_iter().map(|r| {
            json!({
                "externalId": r.external_id,
                "status": match r.status {
                    ImportStatus::Created => "created",
                    ImportStatus::WouldCreate => "would_create",
                    ImportStatus::Unchanged => "unchanged",
                    ImportStatus::Failed => "failed",
                },
                "licenseId": r.license_id,
                "error": r.error,
            })
        }));
    }
    Ok(out)
}
