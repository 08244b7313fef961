//! Floating licenses: [`Client::lease`] takes a seat and returns a [`LeaseGuard`] whose
//! background task heartbeats every `heartbeatSeconds` (a third of the lease) and reports loss
//! of the seat ([`LeaseGuard::state`], [`LeaseGuard::lost`]). Dropping the guard stops the task,
//! which gives the seat back (`DELETE`); [`LeaseGuard::release`] does it and waits.
//! [`LeaseGuard::borrow`] turns the seat into a license file for offline use.
//!
//! Every answer is verified as `validate`'s are (signature, product, device, license, nonce,
//! freshness). The task needs a Tokio runtime (the one `reqwest` runs on).

use std::sync::Arc;

use keyhook_format::answer::AnswerLease;
use keyhook_format::{Answer, FilePayload, VerifyError};
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};
use tokio::sync::{oneshot, watch};

use crate::{Client, Error};

/// Where a held seat stands, as the heartbeat task last learnt it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeatState {
    /// Held until `expires_at` (each heartbeat moves it).
    Held { expires_at: String },
    /// Lost: Keyhook answered `code` (`LEASE_EXPIRED`: the lease lapsed or a merchant released
    /// it; `REVOKED`, `SUSPENDED`, `EXPIRED`: the license), or the lease lapsed while Keyhook
    /// was unreachable (`code` = `UNREACHABLE`). Stop the licensed features, or lease again.
    Lost { code: String, detail: String },
}

/// A held seat. Dropping it gives the seat back (from the background task).
#[derive(Debug)]
pub struct LeaseGuard {
    client: Arc<Client>,
    key: String,
    device_id: String,
    lease: AnswerLease,
    answer: Answer,
    state: watch::Receiver<SeatState>,
    /// `true`: release the seat on the way out.
    stop: Option<oneshot::Sender<bool>>,
}

/// While Keyhook cannot be reached, heartbeats are retried this often (until the lease lapses).
const RETRY: std::time::Duration = std::time::Duration::from_secs(5);

impl Client {
    /// `POST /api/licenses/leases`: takes a floating seat for `device_id` (or gets the device's
    /// own lease back). `Error::ConcurrencyLimit` when every seat is in use; `Error::Refused`
    /// with the signed code for any other refusal.
    pub async fn lease(self: &Arc<Self>, key: &str, device_id: &str) -> Result<LeaseGuard, Error> {
        let (answer, _, _) = self
            .call("/api/licenses/leases", Some(key), Some(device_id), &[])
            .await?;
        if !answer.valid {
            if let Some(seats) = answer.seats {
                return Err(Error::ConcurrencyLimit {
                    in_use: seats.in_use,
                    max_concurrent: seats.max_concurrent,
                });
            }
            return Err(Error::Refused {
                code: answer.code,
                detail: answer.detail,
                manage_url: answer.manage_url,
            });
        }
        let lease = answer.lease.clone().ok_or_else(|| {
            Error::Verify(VerifyError::Malformed(
                "a lease answer without its lease".into(),
            ))
        })?;
        let (tx, rx) = watch::channel(SeatState::Held {
            expires_at: lease.expires_at.clone(),
        });
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(heartbeats(
            Arc::clone(self),
            key.to_string(),
            device_id.to_string(),
            lease.clone(),
            tx,
            stopped,
        ));
        Ok(LeaseGuard {
            client: Arc::clone(self),
            key: key.to_string(),
            device_id: device_id.to_string(),
            lease,
            answer,
            state: rx,
            stop: Some(stop),
        })
    }

    /// The body of a lease route: product, device, environment, and `nonce`.
    fn lease_body(&self, device_id: &str, nonce: &str) -> Value {
        json!({
            "productId": self.config.product_id,
            "deviceId": device_id,
            "nonce": nonce,
            "environment": self.config.environment.as_str(),
        })
    }

    /// `POST /api/licenses/leases/{id}/heartbeat`, verified as an answer about `key`'s license.
    async fn heartbeat(&self, key: &str, lease_id: &str, device_id: &str) -> Result<Answer, Error> {
        let nonce = Client::new_nonce();
        let (status, raw) = self
            .post(
                &format!("/api/licenses/leases/{lease_id}/heartbeat"),
                &self.lease_body(device_id, &nonce),
            )
            .await?;
        if status != 200 {
            return Err(Self::server_error(status, &raw));
        }
        self.accept_answer(&raw, Some(key), Some(device_id), &nonce)
    }

    /// `DELETE /api/licenses/leases/{id}`: `Ok(false)` when the lease was no longer live.
    async fn release_lease(&self, lease_id: &str) -> Result<bool, Error> {
        let res = self
            .http
            .delete(format!(
                "{}/api/licenses/leases/{lease_id}",
                self.config.base_url
            ))
            .send()
            .await
            .map_err(|e| Error::Network(e.to_string()))?;
        match res.status().as_u16() {
            204 => Ok(true),
            404 => Ok(false),
            status => {
                let body = res.bytes().await.unwrap_or_default();
                Err(Self::server_error(status, &body))
            }
        }
    }
}

/// The background task: heartbeat every `heartbeatSeconds` until stopped or the seat is lost.
async fn heartbeats(
    client: Arc<Client>,
    key: String,
    device_id: String,
    lease: AnswerLease,
    state: watch::Sender<SeatState>,
    mut stop: oneshot::Receiver<bool>,
) {
    let parse = |t: &str| keyhook_format::time_fmt::parse("expiresAt", t).ok();
    let mut expires_at = parse(&lease.expires_at);
    let mut period = std::time::Duration::from_secs(u64::from(lease.heartbeat_seconds.max(1)));
    loop {
        tokio::select! {
            release = &mut stop => {
                // Dropped (the sender is gone) or asked: give the seat back.
                if release.unwrap_or(true) {
                    let _ = client.release_lease(&lease.id).await;
                }
                return;
            }
            _ = tokio::time::sleep(period) => {}
        }
        match client.heartbeat(&key, &lease.id, &device_id).await {
            Ok(a) if a.valid => {
                if let Some(l) = a.lease {
                    expires_at = parse(&l.expires_at);
                    period = std::time::Duration::from_secs(u64::from(l.heartbeat_seconds.max(1)));
                    let _ = state.send(SeatState::Held {
                        expires_at: l.expires_at,
                    });
                }
            }
            Ok(a) => {
                let _ = state.send(SeatState::Lost {
                    code: a.code,
                    detail: a.detail,
                });
                return;
            }
            Err(e) => {
                let now = OffsetDateTime::now_utc();
                if expires_at.is_none_or(|t| t <= now) {
                    let _ = state.send(SeatState::Lost {
                        code: "UNREACHABLE".into(),
                        detail: e.to_string(),
                    });
                    return;
                }
                period = RETRY;
            }
        }
    }
}

impl LeaseGuard {
    /// The lease as Keyhook first answered it (`id`, `expiresAt`, `heartbeatSeconds`).
    pub fn lease(&self) -> &AnswerLease {
        &self.lease
    }

    /// The verified answer that granted the seat.
    pub fn answer(&self) -> &Answer {
        &self.answer
    }

    /// Where the seat stands now.
    pub fn state(&self) -> SeatState {
        self.state.borrow().clone()
    }

    /// Waits until the seat is lost (never returns while it is held); the loss.
    pub async fn lost(&mut self) -> SeatState {
        loop {
            if let lost @ SeatState::Lost { .. } = self.state.borrow_and_update().clone() {
                return lost;
            }
            if self.state.changed().await.is_err() {
                return self.state.borrow().clone();
            }
        }
    }

    /// `POST /api/licenses/leases/{id}/borrow`: a verified license file valid for `seconds`
    /// (at most the license's `maxBorrowSeconds`), also kept for [`Client::check_offline`];
    /// the seat stays taken until then, heartbeats or not.
    pub async fn borrow(&self, seconds: Duration) -> Result<(String, FilePayload), Error> {
        let client = &self.client;
        let nonce = Client::new_nonce();
        let mut body = client.lease_body(&self.device_id, &nonce);
        body["seconds"] = json!(seconds.whole_seconds());
        let (status, raw) = client
            .post(
                &format!("/api/licenses/leases/{}/borrow", self.lease.id),
                &body,
            )
            .await?;
        if status != 200 {
            return Err(Client::server_error(status, &raw));
        }
        let v: Value = serde_json::from_slice(&raw)
            .map_err(|e| Error::Verify(VerifyError::Malformed(e.to_string())))?;
        let Some(text) = v["file"].as_str() else {
            let answer =
                client.accept_answer(&raw, Some(&self.key), Some(&self.device_id), &nonce)?;
            return Err(Error::Refused {
                code: answer.code,
                detail: answer.detail,
                manage_url: answer.manage_url,
            });
        };
        let payload = client.verify_file(text, Some(&self.key), &self.device_id)?;
        Ok((text.to_string(), payload))
    }

    /// Gives the seat back now and waits for Keyhook to confirm (`Ok(false)`: it had lapsed).
    pub async fn release(mut self) -> Result<bool, Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(false);
        }
        self.client.release_lease(&self.lease.id).await
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
    }
}
