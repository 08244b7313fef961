//! Import (`/dashboard/import`): an ExisOne, Lukittu or Keygen export (CSV or JSON) uploaded,
//! read by the same reader as `keyhook import`
//! ([`exports`](crate::handlers::admin::license_import::exports)), and given to the core of
//! `POST /api/licenses/import` ([`import_licenses`]) in the CLI's batches: a dry run first
//! (what would be created, what fails and why), then the import, with one result per license.
//! Re-importing the same file changes nothing (the import is idempotent per external id). The
//! file's keys are never shown back: the results name licenses by their external id.

use minijinja::context;
use serde_json::{Map, Value};

use super::form::{self, form_status, Form};
use super::session::{self, Signed};
use super::{notice, show};
use crate::handlers::admin::license_import::exports::{parse, Format, Skipped};
use crate::handlers::admin::license_import::{import_licenses, ImportInput, ImportResult};
use crate::handlers::admin::products;
use crate::http::input::ListQuery;
use crate::http::{ApiRequest, ApiResponse};
use crate::{Error, Result, Services};

/// Licenses per batch (the CLI's: well within the route's 1000).
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
    results: Vec<ImportResult>,
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
    values: minijinja::Value,
    errors: Option<Value>,
    outcome: Option<Outcome>,
) -> Result<ApiResponse> {
    let status = form_status(&errors);
    let products = products::list_products(s, &me.caller(), ListQuery::first(200)).await?;
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
            products => products.items,
            values => values,
            errors => errors,
            outcome => outcome,
        },
    )
}

/// `GET /dashboard/import`.
pub async fn page(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let me = session::require(s, req).await?;
    page_with(s, req, &me, context! { format => "exisone" }, None, None).await
}

/// `POST /dashboard/import` (`multipart/form-data`: `format`, `file`; `action` = `dry_run`
/// or `import`).
pub async fn run(s: &Services, req: &ApiRequest) -> Result<ApiResponse> {
    let (me, form) = session::post(s, req).await?;
    me.must_edit()?;
    let values = context! { format => form.get("format") };
    match outcome(s, &me, &form).await {
        Ok(outcome) => page_with(s, req, &me, values, None, Some(outcome)).await,
        Err(Error::Validation { field, message }) => {
            // The form's own fields at their input; anything the API says about the batch
            // (its fields are not inputs here) above the results.
            let (at, message) = match field {
                Some(f) if f == "file" || f == "format" => (f, message),
                Some(f) => ("_".to_string(), format!("{f} {message}")),
                None => ("_".to_string(), message),
            };
            let errors = Map::from_iter([(at, Value::String(message))]);
            page_with(s, req, &me, values, Some(Value::Object(errors)), None).await
        }
        Err(e) => Err(e),
    }
}

async fn outcome(s: &Services, me: &Signed, form: &Form) -> Result<Outcome> {
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
    let c = me.caller();
    let mut out = Outcome {
        dry_run,
        file_name: form.get("file.filename").map(str::to_string),
        format: format.label(),
        read: parsed.licenses.len() + parsed.skipped.len(),
        skipped: parsed.skipped.into_iter().map(SkippedView::from).collect(),
        ..Outcome::default()
    };
    for chunk in parsed.licenses.chunks(BATCH) {
        let batch = ImportInput {
            licenses: chunk.to_vec(),
            dry_run,
        };
        // Checked against the route's schema as `keyhook import`'s batches are (an entry the
        // reader let through may still be refused there, at its field).
        let batch = serde_json::to_value(batch)
            .map_err(|e| Error::internal(format!("an import batch as JSON: {e}")))?;
        let input: ImportInput = form::input(batch, &[])?;
        let report = import_licenses(s, &c, input).await?;
        out.created += report.created;
        out.unchanged += report.unchanged;
        out.failed += report.failed;
        out.results.extend(report.results);
    }
    Ok(out)
}
