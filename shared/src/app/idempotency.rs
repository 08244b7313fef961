//! `Idempotency-Key` on the API's creates: a retried create returns the first answer (same
//! status and body) instead of creating twice. One mechanism, in the dispatcher, for every
//! route declared `idempotent` ([`Route::idempotent`]):
//!
//! - the key is scoped to the caller's tenant and the route, and kept 24 hours;
//! - the first request claims the key with a conditional write, so concurrent duplicates never
//!   both run: the others get `409 idempotency_key_in_use` (retry shortly);
//! - a successful answer (2xx) is stored sealed under the tenant key (it can hold a secret shown
//!   once: an API token, a webhook endpoint's secret) and replayed with
//!   `Idempotent-Replayed: true`; a failed one frees the key, since nothing was created;
//! - the same key with a different request (method, path or body) is refused with
//!   `409 idempotency_key_mismatch`.

use std::future::Future;

use http::{HeaderValue, StatusCode};
use sha2::{Digest, Sha256};

use crate::app::routes::Route;
use crate::crypto::SealContext;
use crate::http::{auth, ApiRequest, ApiResponse};
use crate::store::idempotency::{IdempotencyRecord, DONE, PENDING};
use crate::{Error, Result, Services};

/// The header.
pub const HEADER: &str = "Idempotency-Key";
/// How long a key is remembered.
pub const WINDOW_SECONDS: i64 = 24 * 3600;
/// How long a first request holds its key before another may take it over (longer than any
/// request runs).
const LOCK_SECONDS: i64 = 60;
/// Longest key accepted (Stripe's limit).
pub const MAX_KEY_CHARS: usize = 255;
/// What a key may hold: printable ASCII, 1 to 255 characters.
pub const KEY_PATTERN: &str = "^[\\x21-\\x7e]{1,255}$";
/// The seal field of stored answers.
const SEAL_FIELD: &str = "idempotentResponse";
/// The answer header that marks a replay.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

fn valid_key(key: &str) -> bool {
    (1..=MAX_KEY_CHARS).contains(&key.len()) && key.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// Runs `handler` under the request's `Idempotency-Key`, if the operation accepts one and the
/// request carries it; otherwise just runs it.
pub async fn run(
    s: &Services,
    route: &Route,
    req: &ApiRequest,
    handler: impl Future<Output = Result<ApiResponse>>,
) -> Result<ApiResponse> {
    if !route.idempotent {
        return handler.await;
    }
    let Some(raw) = req.headers.get(HEADER) else {
        return handler.await;
    };
    let key = raw.to_str().ok().filter(|k| valid_key(k)).ok_or_else(|| {
        Error::validation(
            HEADER,
            format!("must be 1 to {MAX_KEY_CHARS} printable ASCII characters, without spaces"),
        )
    })?;
    // The key is the tenant's: authenticate first (the handler authenticates again).
    let caller = auth::authenticate(&s.store, req).await?;
    let scope = format!("{} {}", route.method, route.path);
    let id = hex::encode(Sha256::digest(format!("{scope}\n{key}").as_bytes()));
    let mut request = Sha256::new();
    request.update(req.method.as_str().as_bytes());
    request.update(b" ");
    request.update(req.path.as_bytes());
    request.update(b"\n");
    request.update(&req.body);
    let request_hash = hex::encode(request.finalize());
    let now = crate::time::now().unix_timestamp();
    let mut record = IdempotencyRecord {
        tenant_id: caller.tenant_id.clone(),
        route: scope,
        request_hash: request_hash.clone(),
        state: PENDING.into(),
        locked_until: now + LOCK_SECONDS,
        status: None,
        content_type: None,
        body_sealed: None,
        ttl: now + WINDOW_SECONDS,
    };
    if !s.store.claim_idempotency_key(&id, &record, now).await? {
        return replay(s, &caller.tenant_id, &id, &request_hash).await;
    }
    let result = handler.await;
    match result {
        Ok(res) if res.status.is_success() => {
            record.state = DONE.into();
            record.status = Some(res.status.as_u16());
            record.content_type = Some(res.content_type.to_string());
            record.body_sealed = Some(
                s.keyring
                    .seal(seal_context(&caller.tenant_id, &id), &res.body)
                    .await?,
            );
            s.store.finish_idempotency_key(&id, &record).await?;
            Ok(res)
        }
        other => {
            s.store
                .release_idempotency_key(&caller.tenant_id, &id, &request_hash)
                .await?;
            other
        }
    }
}

fn seal_context<'a>(tenant_id: &'a str, id: &'a str) -> SealContext<'a> {
    SealContext {
        tenant_id,
        owner: id,
        field: SEAL_FIELD,
    }
}

/// The answer to a key another request claimed.
async fn replay(
    s: &Services,
    tenant_id: &str,
    id: &str,
    request_hash: &str,
) -> Result<ApiResponse> {
    let in_use = || Error::ConflictCode {
        code: "idempotency_key_in_use",
        message: format!(
            "another request with this {HEADER} is in progress; retry in a few seconds"
        ),
    };
    let Some(record) = s.store.idempotency_record(tenant_id, id).await? else {
        // Freed between the claim and this read: the first request failed.
        return Err(in_use());
    };
    if record.request_hash != request_hash {
        return Err(Error::ConflictCode {
            code: "idempotency_key_mismatch",
            message: format!(
                "this {HEADER} was used within 24 hours for a different request; use a new key"
            ),
        });
    }
    if record.state != DONE {
        return Err(in_use());
    }
    let (Some(status), Some(sealed)) = (record.status, record.body_sealed.as_deref()) else {
        return Err(Error::internal("idempotency record without its answer"));
    };
    let body = s
        .keyring
        .open(seal_context(tenant_id, id), sealed)
        .await?
        .ok_or_else(|| Error::internal("stored idempotent answer does not open"))?;
    let content_type = match record.content_type.as_deref() {
        Some("application/json") | None => "application/json",
        Some(_) => "application/octet-stream",
    };
    Ok(ApiResponse::text(
        StatusCode::from_u16(status).map_err(|_| Error::internal("stored status"))?,
        content_type,
        body,
    )
    .with_header(
        http::header::HeaderName::from_static(REPLAYED_HEADER),
        HeaderValue::from_static("true"),
    ))
}
