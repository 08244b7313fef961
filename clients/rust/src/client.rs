//! The client: online calls with verified answers, and the offline fallback.

use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use crate::cache::{self, Cache, CachedAnswer};
use crate::{Config, Error};
use keyhook_format::answer::{verify_answer, Expected};
use keyhook_format::clock_mark::{self, MarkSlot, Rollback};
use keyhook_format::{Answer, FilePayload, LicenseFile, VerifyError};

/// Where a [`Status`] comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A fresh answer from Keyhook.
    Online,
    /// Keyhook was unreachable: the last good answer, signed at `signed_at`, within the grace
    /// period.
    CachedAnswer { signed_at: String },
    /// A license file valid until `expires_at`.
    LicenseFile { expires_at: String },
}

/// A verified standing. `valid` is true only for `VALID` and `TRIAL`.
#[derive(Debug, Clone)]
pub struct Status {
    pub valid: bool,
    /// The answer's code (`VALID`, `TRIAL`, `EXPIRED`, …; `VALID` for a license file).
    pub code: String,
    pub detail: String,
    /// False for licenses from Stripe test-mode payments.
    pub livemode: bool,
    /// With `DEVICE_LIMIT_REACHED`: where the buyer frees a device (the license's page in the
    /// merchant's customer portal). Show it: "Too many devices — manage your devices: …".
    pub manage_url: Option<String>,
    pub source: Source,
    /// The verified answer (online and cached answers).
    pub answer: Option<Answer>,
    /// The verified license file (its entitlements, expiry, limits).
    pub file: Option<FilePayload>,
}

impl Status {
    fn of_answer(a: Answer, source: Source) -> Self {
        Status {
            valid: a.valid,
            code: a.code.clone(),
            detail: a.detail.clone(),
            livemode: a.livemode,
            manage_url: a.manage_url.clone(),
            source,
            answer: Some(a),
            file: None,
        }
    }

    fn of_file(p: FilePayload) -> Self {
        Status {
            valid: true,
            code: "VALID".into(),
            detail: "The license file is valid.".into(),
            livemode: p.livemode,
            manage_url: None,
            source: Source::LicenseFile {
                expires_at: p.expires_at.clone(),
            },
            answer: None,
            file: Some(p),
        }
    }

    /// Whether the license grants `entitlement` (known from a license file).
    pub fn has(&self, entitlement: &str) -> bool {
        self.file.as_ref().is_some_and(|f| f.has(entitlement))
    }
}

/// A Keyhook client for one product.
#[derive(Debug)]
pub struct Client {
    pub(crate) config: Config,
    pub(crate) http: reqwest::Client,
    cache: Cache,
}

/// A fresh random nonce (128 bits, hex).
fn nonce() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

impl Client {
    pub fn new(config: Config) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("keyhook-client-rust/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(e.to_string()))?;
        Self::with_http(config, http)
    }

    /// With your own `reqwest::Client` (proxies, extra roots, …).
    pub fn with_http(config: Config, http: reqwest::Client) -> Result<Self, Error> {
        let cache = Cache::new(config.cache_dir.clone())?;
        Ok(Client {
            config,
            http,
            cache,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    fn now(&self) -> OffsetDateTime {
        (self.config.clock)()
    }

    fn mark_slot<'a>(&'a self, key: Option<&'a str>, device_id: &'a str) -> MarkSlot<'a> {
        MarkSlot {
            product_id: &self.config.product_id,
            license_key: key,
            device_id,
        }
    }

    /// The clock check before anything kept is trusted offline: the slot's clock mark must
    /// verify and the clock must not be behind it (beyond `clock_skew`); a missing mark is
    /// refused when a proof is kept (else this is the slot's first use). Advances the mark to
    /// now; returns now.
    fn observe_clock(&self, key: Option<&str>, device_id: &str) -> Result<OffsetDateTime, Error> {
        let now = self.now();
        let slot = cache::slot(&self.config.product_id, key, device_id);
        let next = clock_mark::check(
            &self.mark_slot(key, device_id),
            self.cache.mark(&slot).as_deref(),
            self.cache.has_proof(&slot),
            now,
            self.config.clock_skew,
        )?;
        self.cache.put_mark(&slot, &next)?;
        Ok(now)
    }

    /// After a verified fresh answer (its nonce and `signedAt` prove the clock right): the
    /// slot's mark restarts at now, replacing a missing, altered or too-far-ahead one.
    fn clock_confirmed(
        &self,
        key: Option<&str>,
        device_id: &str,
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        let slot = cache::slot(&self.config.product_id, key, device_id);
        self.cache.put_mark(
            &slot,
            &clock_mark::seal(&self.mark_slot(key, device_id), now),
        )
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> Result<(u16, Vec<u8>), Error> {
        let res = self
            .http
            .post(format!("{}{path}", self.config.base_url))
            .json(body)
            .send()
            .await
            .map_err(|e| Error::Network(e.to_string()))?;
        let status = res.status().as_u16();
        let bytes = res
            .bytes()
            .await
            .map_err(|e| Error::Network(e.to_string()))?;
        Ok((status, bytes.to_vec()))
    }

    pub(crate) fn server_error(status: u16, body: &[u8]) -> Error {
        let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        Error::Server {
            status,
            code: v["error"]["code"].as_str().unwrap_or("unknown").to_string(),
            message: v["error"]["message"]
                .as_str()
                .unwrap_or("no message")
                .to_string(),
        }
    }

    fn request_body(&self, key: Option<&str>, device_id: Option<&str>, nonce: &str) -> Value {
        let mut body = json!({
            "productId": self.config.product_id,
            "nonce": nonce,
            "environment": self.config.environment.as_str(),
        });
        if let Some(k) = key {
            body["licenseKey"] = json!(k);
        }
        if let Some(d) = device_id {
            body["deviceId"] = json!(d);
        }
        body
    }

    /// Verifies an answer to the request (`key`, `device_id`, `nonce`): signature (by a key of
    /// the set, not retired before `signedAt`), format, product, device, license, nonce, the
    /// build's mode (a live build refuses a valid answer about a test license), then freshness;
    /// a fresh answer proves the clock, so the slot's clock mark restarts at now. The client's
    /// own calls use it; an app that sends requests through its own HTTP stack calls it on the
    /// raw response body (with [`Client::new_nonce`]'s nonce).
    pub fn verify_answer(
        &self,
        body: &[u8],
        key: Option<&str>,
        device_id: Option<&str>,
        nonce: &str,
    ) -> Result<Answer, Error> {
        self.accept_answer(body, key, device_id, nonce)
    }

    /// A fresh random nonce for a request.
    pub fn new_nonce() -> String {
        nonce()
    }

    pub(crate) fn accept_answer(
        &self,
        body: &[u8],
        key: Option<&str>,
        device_id: Option<&str>,
        nonce: &str,
    ) -> Result<Answer, Error> {
        let answer = verify_answer(
            &self.config.keys,
            body,
            &Expected {
                product_id: &self.config.product_id,
                device_id,
                nonce: Some(nonce),
                license_key: key,
            },
        )?;
        answer.check_livemode(self.config.accepts_test_licenses())?;
        let now = self.now();
        answer.check_fresh(now, self.config.max_answer_age, self.config.clock_skew)?;
        self.clock_confirmed(key, device_id.unwrap_or(""), now)?;
        Ok(answer)
    }

    /// One online call of a validation route; the verified answer and its raw body.
    pub(crate) async fn call(
        &self,
        path: &str,
        key: Option<&str>,
        device_id: Option<&str>,
        extra: &[(&str, Value)],
    ) -> Result<(Answer, String, String), Error> {
        let nonce = nonce();
        let mut body = self.request_body(key, device_id, &nonce);
        for (k, v) in extra {
            body[*k] = v.clone();
        }
        let (status, raw) = self.post(path, &body).await?;
        if status != 200 {
            return Err(Self::server_error(status, &raw));
        }
        let answer = self.accept_answer(&raw, key, device_id, &nonce)?;
        Ok((answer, String::from_utf8_lossy(&raw).into_owned(), nonce))
    }

    /// Keeps a good answer for offline use, or forgets the proofs of a license Keyhook just
    /// called invalid.
    fn remember(
        &self,
        slot: &str,
        answer: &Answer,
        raw: String,
        nonce: String,
    ) -> Result<(), Error> {
        if answer.valid {
            self.cache
                .put_answer(slot, &CachedAnswer { body: raw, nonce })
        } else {
            self.cache.forget(slot);
            Ok(())
        }
    }

    /// `POST /api/licenses/validate`: the key's standing for this product on `device_id`
    /// (without a key: the device's trial). When Keyhook cannot be reached (network error or
    /// 5xx), falls back to [`Client::check_offline`].
    pub async fn validate(&self, key: Option<&str>, device_id: &str) -> Result<Status, Error> {
        let slot = cache::slot(&self.config.product_id, key, device_id);
        match self
            .call("/api/licenses/validate", key, Some(device_id), &[])
            .await
        {
            Ok((answer, raw, nonce)) => {
                self.remember(&slot, &answer, raw, nonce)?;
                Ok(Status::of_answer(answer, Source::Online))
            }
            Err(Error::Network(e)) => self.offline_or(key, device_id, Error::Network(e)),
            Err(Error::Server {
                status,
                code,
                message,
            }) if status >= 500 => self.offline_or(
                key,
                device_id,
                Error::Server {
                    status,
                    code,
                    message,
                },
            ),
            Err(e) => Err(e),
        }
    }

    fn offline_or(
        &self,
        key: Option<&str>,
        device_id: &str,
        online: Error,
    ) -> Result<Status, Error> {
        match self.check_offline(key, device_id) {
            Err(Error::NoOfflineProof(_)) => Err(online),
            other => other,
        }
    }

    /// `POST /api/licenses/activate`.
    pub async fn activate(
        &self,
        key: &str,
        device_id: &str,
        device_name: Option<&str>,
    ) -> Result<Status, Error> {
        let extra: Vec<(&str, Value)> = device_name
            .map(|n| vec![("deviceName", json!(n))])
            .unwrap_or_default();
        let (answer, raw, nonce) = self
            .call("/api/licenses/activate", Some(key), Some(device_id), &extra)
            .await?;
        let slot = cache::slot(&self.config.product_id, Some(key), device_id);
        self.remember(&slot, &answer, raw, nonce)?;
        Ok(Status::of_answer(answer, Source::Online))
    }

    /// `POST /api/licenses/usage`: records `quantity` on the product's `meter`, from
    /// `device_id`. Make `idempotency_key` once per unit of work and send it again on retries:
    /// the record counts once. The verified `usage` (what remains); `Error::UsageLimit` when the
    /// quantity does not fit (nothing recorded); `Error::Refused` for any other refusal.
    pub async fn record_usage(
        &self,
        key: &str,
        device_id: &str,
        meter: &str,
        quantity: u64,
        idempotency_key: &str,
    ) -> Result<keyhook_format::answer::AnswerUsage, Error> {
        let extra = [
            ("meter", json!(meter)),
            ("quantity", json!(quantity)),
            ("idempotencyKey", json!(idempotency_key)),
        ];
        let (answer, _, _) = self
            .call("/api/licenses/usage", Some(key), Some(device_id), &extra)
            .await?;
        match (answer.valid, answer.usage) {
            (true, Some(usage)) => Ok(usage),
            (false, Some(u)) if answer.code == "USAGE_LIMIT_REACHED" => Err(Error::UsageLimit {
                meter: u.meter,
                used: u.used,
                limit: u.limit,
                remaining: u.remaining,
            }),
            (true, None) => Err(Error::Verify(keyhook_format::VerifyError::Malformed(
                "a usage answer without its usage".into(),
            ))),
            (false, _) => Err(Error::Refused {
                code: answer.code,
                detail: answer.detail,
                manage_url: answer.manage_url,
            }),
        }
    }

    /// `POST /api/licenses/deactivate` (frees the seat; forgets the offline proofs).
    pub async fn deactivate(&self, key: &str, device_id: &str) -> Result<Status, Error> {
        let (answer, _, _) = self
            .call("/api/licenses/deactivate", Some(key), Some(device_id), &[])
            .await?;
        self.cache
            .forget(&cache::slot(&self.config.product_id, Some(key), device_id));
        Ok(Status::of_answer(answer, Source::Online))
    }

    /// `POST /api/licenses/checkout`: activates `device_id` and returns its verified license
    /// file, also cached for [`Client::check_offline`]. `ttl`: the file's lifetime (within the
    /// product's bounds; the product's default when `None`). `encrypt`: the file is encrypted
    /// to the license key.
    pub async fn checkout_file(
        &self,
        key: &str,
        device_id: &str,
        ttl: Option<Duration>,
        encrypt: bool,
    ) -> Result<(String, FilePayload), Error> {
        let nonce = nonce();
        let mut body = self.request_body(Some(key), Some(device_id), &nonce);
        if let Some(t) = ttl {
            body["ttl"] = json!(t.whole_seconds());
        }
        body["encrypt"] = json!(encrypt);
        let (status, raw) = self.post("/api/licenses/checkout", &body).await?;
        if status != 200 {
            return Err(Self::server_error(status, &raw));
        }
        let v: Value = serde_json::from_slice(&raw)
            .map_err(|e| Error::Verify(VerifyError::Malformed(e.to_string())))?;
        let slot = cache::slot(&self.config.product_id, Some(key), device_id);
        let Some(text) = v["file"].as_str() else {
            // Refused: the signed answer says why.
            let answer = self.accept_answer(&raw, Some(key), Some(device_id), &nonce)?;
            if !answer.valid {
                self.cache.forget(&slot);
            }
            return Err(Error::Refused {
                code: answer.code,
                detail: answer.detail,
                manage_url: answer.manage_url,
            });
        };
        // The file carries no nonce, so it proves nothing about the clock: checked against the
        // mark like any file (a mark lost since is restored by an online validate first).
        let payload = self.verify_file(text, Some(key), device_id)?;
        Ok((text.to_string(), payload))
    }

    /// Verifies a license file offline, after the clock check (the slot's clock mark, see
    /// [`keyhook_format::clock_mark`]): signature (by a key of the set, not retired before
    /// `issuedAt`), lifetime, product, device, issue and expiry times, the build's mode (a live
    /// build refuses a test license's file). `key` decrypts encrypted files. The file is kept
    /// for [`Client::check_offline`] unless a file issued later is kept already.
    pub fn verify_file(
        &self,
        text: &str,
        key: Option<&str>,
        device_id: &str,
    ) -> Result<FilePayload, Error> {
        let now = self.observe_clock(key, device_id)?;
        let payload = self.check_file(text, key, device_id, now)?;
        let slot = cache::slot(&self.config.product_id, key, device_id);
        let kept_is_newer = self.cache.file(&slot).is_some_and(|kept| {
            LicenseFile(kept)
                .verify(&self.config.keys, key)
                .is_ok_and(|k| k.issued_at().ok() > payload.issued_at().ok())
        });
        if !kept_is_newer {
            self.cache.put_file(&slot, text)?;
        }
        Ok(payload)
    }

    /// A license file's own checks at `now` (no clock mark).
    fn check_file(
        &self,
        text: &str,
        key: Option<&str>,
        device_id: &str,
        now: OffsetDateTime,
    ) -> Result<FilePayload, Error> {
        let payload = LicenseFile(text.to_string()).verify(&self.config.keys, key)?;
        payload.check(
            &self.config.product_id,
            device_id,
            now,
            self.config.clock_skew,
        )?;
        payload.check_livemode(self.config.accepts_test_licenses())?;
        Ok(payload)
    }

    /// The standing without Keyhook: after the clock check (the slot's clock mark), the cached
    /// license file if it is still valid, else the last good answer if it is within the grace
    /// period. Both are verified again.
    pub fn check_offline(&self, key: Option<&str>, device_id: &str) -> Result<Status, Error> {
        let slot = cache::slot(&self.config.product_id, key, device_id);
        if !self.cache.has_proof(&slot) {
            return Err(Error::NoOfflineProof(
                "nothing cached for this license and device".into(),
            ));
        }
        let now = self.observe_clock(key, device_id)?;
        let mut last_error = None;
        if let Some(text) = self.cache.file(&slot) {
            match self.check_file(&text, key, device_id, now) {
                Ok(p) => return Ok(Status::of_file(p)),
                Err(e) => last_error = Some(e),
            }
        }
        if let Some(cached) = self.cache.answer(&slot) {
            let answer = verify_answer(
                &self.config.keys,
                cached.body.as_bytes(),
                &Expected {
                    product_id: &self.config.product_id,
                    device_id: Some(device_id),
                    nonce: Some(&cached.nonce),
                    license_key: key,
                },
            )?;
            answer.check_livemode(self.config.accepts_test_licenses())?;
            let signed_at = answer.signed_at()?;
            if signed_at > now + self.config.clock_skew {
                return Err(Rollback::Behind(answer.signed_at.clone()).into());
            }
            if signed_at + self.config.grace < now {
                return Err(Error::GraceExpired {
                    since: answer.signed_at.clone(),
                });
            }
            // What the answer said ends on its own: a trial, a license's expiry.
            let ends = [
                answer.trial.as_ref().map(|t| t.expires_at.as_str()),
                answer
                    .license
                    .as_ref()
                    .and_then(|l| l.expires_at.as_deref()),
            ];
            for end in ends.into_iter().flatten() {
                if keyhook_format::time_fmt::parse("expiresAt", end)? <= now {
                    return Err(Error::Verify(VerifyError::Expired(end.to_string())));
                }
            }
            let source = Source::CachedAnswer {
                signed_at: answer.signed_at.clone(),
            };
            return Ok(Status::of_answer(answer, source));
        }
        Err(match last_error {
            Some(e) => e,
            None => Error::NoOfflineProof("nothing cached for this license and device".into()),
        })
    }
}
