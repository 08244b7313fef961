"""The client: online calls with verified answers, and the offline fallback. The same surface
and rules as the Rust client (`keyhook-client`), which is the reference."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

from . import __version__
from . import verify as fmt
from .cache import Cache, slot
from .errors import (ConcurrencyLimitError, ConfigError, GraceExpiredError, KeyhookError,
                     NetworkError, NoOfflineProofError, RefusedError, RetiredKeyError,
                     RollbackError, ServerError, TestLicenseError, UsageLimitError,
                     VerificationError)

#: Where a Status comes from.
ONLINE = "online"
CACHED_ANSWER = "cached_answer"
LICENSE_FILE = "license_file"


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Config:
    """What the merchant decides: where Keyhook is, which product, which keys to trust, how
    long the app may run offline."""

    #: Keyhook's base URL (https://…).
    base_url: str
    #: The product this app is.
    product_id: str
    #: The tenant's public keys (GET /api/tenants/{tenantId}/signing-keys), embedded.
    keys: fmt.KeySet
    #: "live" (default) refuses licenses from Stripe test-mode payments; "test" accepts them.
    environment: str = "live"
    #: A live build that also trusts test licenses (products with acceptTestLicenses: true).
    accept_test_licenses: bool = False
    #: Oldest online answer accepted.
    max_answer_age: timedelta = timedelta(minutes=5)
    #: Tolerated clock difference with Keyhook, and how far behind the clock mark the clock
    #: may be before it counts as set back (jitter, NTP corrections).
    clock_skew: timedelta = timedelta(minutes=5)
    #: How long after the last good online answer the app keeps working offline on it.
    #: License files have their own expiry.
    grace: timedelta = timedelta(days=7)
    #: Where the last good answer, license file and clock mark are kept (None: in memory
    #: only). One directory per product.
    cache_dir: str | os.PathLike | None = None
    #: Timeout of one HTTP request, in seconds.
    timeout: float = 10.0
    #: The clock (tests set it; apps keep the system clock). Returns an aware datetime.
    clock: Callable[[], datetime] = field(default=_utc_now)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        if not self.base_url.startswith(("https://", "http://")):
            raise ConfigError(f"the base URL is https://…, not {self.base_url!r}")
        if self.environment not in ("live", "test"):
            raise ConfigError(f"environment is 'live' or 'test', not {self.environment!r}")
        if len(self.keys) == 0:
            raise ConfigError("the key set has no Ed25519 key")

    @property
    def accepts_test_licenses(self) -> bool:
        return self.environment == "test" or self.accept_test_licenses


@dataclass(frozen=True)
class Status:
    """A verified standing. `valid` is true only for VALID and TRIAL."""

    valid: bool
    #: The answer's code (VALID, TRIAL, EXPIRED, NOT_ACTIVATED, …; VALID for a license file).
    code: str
    detail: str
    #: False for licenses from Stripe test-mode payments.
    livemode: bool
    #: ONLINE (a fresh answer), CACHED_ANSWER (the last good answer, within the grace period)
    #: or LICENSE_FILE (a kept license file).
    source: str
    #: The verified answer (online and cached answers): signedAt, license, trial, …
    answer: dict | None = None
    #: The verified license file's payload: entitlements, expiresAt, license limits.
    file: dict | None = None

    @property
    def manage_url(self) -> str | None:
        """With DEVICE_LIMIT_REACHED: where the buyer frees a device (the license's page in the
        merchant's customer portal). Show it: "Too many devices — manage your devices"."""
        return self.answer.get("manageUrl") if self.answer else None

    @property
    def offline(self) -> bool:
        return self.source != ONLINE

    def has(self, entitlement: str) -> bool:
        """Whether the license grants `entitlement` (known from a license file)."""
        return self.file is not None and entitlement in self.file["entitlements"]

    @classmethod
    def _of_answer(cls, a: dict, source: str) -> "Status":
        return cls(valid=a["valid"], code=a["code"], detail=a["detail"],
                   livemode=a["livemode"], source=source, answer=a)

    @classmethod
    def _of_file(cls, p: dict) -> "Status":
        return cls(valid=True, code="VALID", detail="The license file is valid.",
                   livemode=p["livemode"], source=LICENSE_FILE, file=p)


def typed_error(e: fmt.VerifyError) -> KeyhookError:
    """The client's error for a verifier's refusal."""
    if e.kind == "clock_rollback":
        if e.detail.startswith("behind "):
            return RollbackError("behind", e.detail[len("behind "):])
        return RollbackError("mark_missing" if e.detail == "mark missing" else "mark_altered")
    if e.kind == "test_license":
        return TestLicenseError(e.kind, e.detail)
    if e.kind == "retired_key":
        return RetiredKeyError(e.kind, e.detail)
    return VerificationError(e.kind, e.detail)


@contextlib.contextmanager
def _typed() -> Iterator[None]:
    try:
        yield
    except fmt.VerifyError as e:
        raise typed_error(e) from e


def new_nonce() -> str:
    """A fresh random nonce (128 bits, hex)."""
    return secrets.token_hex(16)


class Client:
    """A Keyhook client for one product.

        client = Client("https://keyhook.example.com", "42", open("signing-keys.json").read(),
                        cache_dir=app_dir / "license")
    """

    def __init__(self, base_url: str | Config, product_id: str | None = None,
                 keys: str | bytes | fmt.KeySet | None = None, **options: Any):
        if isinstance(base_url, Config):
            self.config = base_url
        else:
            if product_id is None or keys is None:
                raise ConfigError("a base URL, a product id and the key set are needed")
            if not isinstance(keys, fmt.KeySet):
                with _typed():
                    keys = fmt.KeySet.from_json(keys)
            self.config = Config(base_url, product_id, keys, **options)
        self.cache = Cache(self.config.cache_dir)

    # --- the clock -----------------------------------------------------------------------

    def _now(self) -> datetime:
        return self.config.clock()

    def _slot(self, key: str | None, device_id: str) -> str:
        return slot(self.config.product_id, key, device_id)

    def _mark_slot(self, key: str | None, device_id: str) -> dict:
        return {"product_id": self.config.product_id, "license_key": key,
                "device_id": device_id}

    def _observe_clock(self, key: str | None, device_id: str) -> datetime:
        """The clock check before anything kept is trusted offline: the slot's clock mark must
        verify and the clock must not be behind it (beyond clock_skew); a missing mark is
        refused when a proof is kept (else this is the slot's first use). Advances the mark to
        now; returns now."""
        now = self._now()
        s = self._slot(key, device_id)
        with _typed():
            after = fmt.check_mark(self.cache.mark(s), now=now, has_proof=self.cache.has_proof(s),
                                   tolerance=self.config.clock_skew,
                                   **self._mark_slot(key, device_id))
        self.cache.put_mark(s, after)
        return now

    def _clock_confirmed(self, key: str | None, device_id: str, now: datetime) -> None:
        """After a verified fresh answer (its nonce and signedAt prove the clock right): the
        slot's mark restarts at now, replacing a missing, altered or too-far-ahead one."""
        self.cache.put_mark(self._slot(key, device_id),
                            fmt.seal_mark(now, **self._mark_slot(key, device_id)))

    # --- HTTP ----------------------------------------------------------------------------

    def _post(self, path: str, body: dict) -> tuple[int, bytes]:
        return self._send("POST", path, body)

    def _send(self, method: str, path: str, body: dict | None) -> tuple[int, bytes]:
        headers = {"user-agent": f"keyhook-client-python/{__version__}"}
        if body is not None:
            headers["content-type"] = "application/json"
        request = urllib.request.Request(
            self.config.base_url + path,
            data=json.dumps(body).encode() if body is not None else None, method=method,
            headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout) as res:
                return res.status, res.read()
        except urllib.error.HTTPError as e:
            try:
                return e.code, e.read()
            except (OSError, http.client.HTTPException) as read_error:
                raise NetworkError(str(read_error)) from read_error
            finally:
                e.close()
        except (OSError, http.client.HTTPException, ValueError) as e:
            # URLError (refused, DNS), timeouts and broken connections are all OSErrors.
            raise NetworkError(str(getattr(e, "reason", e))) from e

    @staticmethod
    def _server_error(status: int, body: bytes) -> ServerError:
        try:
            error = json.loads(body)["error"]
            code, message = str(error["code"]), str(error["message"])
        except (ValueError, KeyError, TypeError):
            code, message = "unknown", "no message"
        return ServerError(status, code, message)

    def _request_body(self, key: str | None, device_id: str | None, nonce: str) -> dict:
        body = {"productId": self.config.product_id, "nonce": nonce,
                "environment": self.config.environment}
        if key is not None:
            body["licenseKey"] = key
        if device_id is not None:
            body["deviceId"] = device_id
        return body

    # --- answers -------------------------------------------------------------------------

    def verify_answer(self, body: bytes, key: str | None, device_id: str | None,
                      nonce: str) -> dict:
        """Verifies an answer to the request (key, device_id, nonce): signature (by a key of
        the set, not retired before signedAt), format, product, device, license, nonce, the
        build's mode, then freshness; a fresh answer proves the clock, so the slot's clock
        mark restarts at now. For apps that send requests through their own HTTP stack (with
        `new_nonce()`'s nonce)."""
        with _typed():
            answer = fmt.verify_answer(
                self.config.keys, body, product_id=self.config.product_id, device_id=device_id,
                nonce=nonce, license_key=key, environment=self.config.environment,
                accept_test_licenses=self.config.accept_test_licenses)
            now = self._now()
            fmt.check_fresh(answer, now, self.config.max_answer_age, self.config.clock_skew)
        self._clock_confirmed(key, device_id or "", now)
        return answer

    def _call(self, path: str, key: str | None, device_id: str | None,
              extra: dict | None = None) -> tuple[dict, str, str]:
        """One online call of a validation route: the verified answer, its raw body, the
        nonce sent."""
        nonce = new_nonce()
        body = self._request_body(key, device_id, nonce)
        body.update(extra or {})
        status, raw = self._post(path, body)
        if status != 200:
            raise self._server_error(status, raw)
        answer = self.verify_answer(raw, key, device_id, nonce)
        return answer, raw.decode("utf-8", "replace"), nonce

    def _remember(self, s: str, answer: dict, raw: str, nonce: str) -> None:
        """Keeps a good answer for offline use, or forgets the proofs of a license Keyhook
        just called invalid."""
        if answer["valid"]:
            self.cache.put_answer(s, raw, nonce)
        else:
            self.cache.forget(s)

    def validate(self, key: str | None, device_id: str) -> Status:
        """POST /api/licenses/validate: the key's standing for this product on `device_id`
        (without a key: the device's trial). When Keyhook cannot be reached (network error or
        5xx), falls back to check_offline (and raises the online error when nothing is
        kept)."""
        s = self._slot(key, device_id)
        try:
            answer, raw, nonce = self._call("/api/licenses/validate", key, device_id)
        except NetworkError as e:
            return self._offline_or(key, device_id, e)
        except ServerError as e:
            if e.status < 500:
                raise
            return self._offline_or(key, device_id, e)
        self._remember(s, answer, raw, nonce)
        return Status._of_answer(answer, ONLINE)

    def trial(self, device_id: str) -> Status:
        """The device's trial of this product (starts it on first use): validate without a
        key."""
        return self.validate(None, device_id)

    def _offline_or(self, key: str | None, device_id: str, online: KeyhookError) -> Status:
        try:
            return self.check_offline(key, device_id)
        except NoOfflineProofError:
            raise online from None

    def activate(self, key: str, device_id: str, device_name: str | None = None) -> Status:
        """POST /api/licenses/activate."""
        extra = {"deviceName": device_name} if device_name is not None else None
        answer, raw, nonce = self._call("/api/licenses/activate", key, device_id, extra)
        self._remember(self._slot(key, device_id), answer, raw, nonce)
        return Status._of_answer(answer, ONLINE)

    def deactivate(self, key: str, device_id: str) -> Status:
        """POST /api/licenses/deactivate (frees the seat; forgets the offline proofs)."""
        answer, _, _ = self._call("/api/licenses/deactivate", key, device_id)
        self.cache.forget(self._slot(key, device_id))
        return Status._of_answer(answer, ONLINE)

    # --- floating seats (leases) ---------------------------------------------------------

    def lease(self, key: str, device_id: str, device_name: str | None = None) -> Lease:
        """POST /api/licenses/leases: takes a floating seat for `device_id` (or gets the
        device's own lease back, extended) and heartbeats it from a daemon thread. Use it as
        a context manager (the seat is given back on exit) or call `release()`. Raises
        ConcurrencyLimitError when every seat is in use, RefusedError for any other refusal
        (REVOKED, NOT_FOUND, …).

            with client.lease(key, device) as seat:
                while seat.held: work()
        """
        extra = {"deviceName": device_name} if device_name is not None else None
        answer, _, _ = self._call("/api/licenses/leases", key, device_id, extra)
        if not answer["valid"]:
            seats = answer.get("seats")
            if answer["code"] == "CONCURRENCY_LIMIT_REACHED" and seats is not None:
                raise ConcurrencyLimitError(seats["inUse"], seats["maxConcurrent"])
            raise RefusedError(answer["code"], answer["detail"])
        if answer.get("lease") is None:
            raise VerificationError("malformed", "a lease answer without its lease")
        return Lease(self, key, device_id, answer)

    def _lease_body(self, device_id: str, nonce: str) -> dict:
        return {"productId": self.config.product_id, "deviceId": device_id, "nonce": nonce,
                "environment": self.config.environment}

    def _heartbeat(self, key: str, lease_id: str, device_id: str) -> dict:
        """POST /api/licenses/leases/{id}/heartbeat, verified as an answer about `key`'s
        license."""
        nonce = new_nonce()
        status, raw = self._post(f"/api/licenses/leases/{lease_id}/heartbeat",
                                 self._lease_body(device_id, nonce))
        if status != 200:
            raise self._server_error(status, raw)
        return self.verify_answer(raw, key, device_id, nonce)

    def _release_lease(self, lease_id: str) -> bool:
        """DELETE /api/licenses/leases/{id}: False when the lease was no longer live."""
        status, raw = self._send("DELETE", f"/api/licenses/leases/{lease_id}", None)
        if status == 204:
            return True
        if status == 404:
            return False
        raise self._server_error(status, raw)

    def borrow(self, lease: Lease, seconds: timedelta | int) -> tuple[str, dict]:
        """POST /api/licenses/leases/{id}/borrow: a verified license file (text, payload) valid
        for `seconds` (at most the license's maxBorrowSeconds), also kept for check_offline;
        the seat stays taken until then, heartbeats or not. Raises RefusedError with the
        signed code when refused."""
        nonce = new_nonce()
        body = self._lease_body(lease.device_id, nonce)
        body["seconds"] = (int(seconds.total_seconds()) if isinstance(seconds, timedelta)
                           else int(seconds))
        status, raw = self._post(f"/api/licenses/leases/{lease.id}/borrow", body)
        return self._file_answer(status, raw, lease.key, lease.device_id, nonce)

    # --- usage limits --------------------------------------------------------------------

    def record_usage(self, key: str, meter: str, quantity: int,
                     idempotency_key: str | None = None,
                     device_id: str | None = None) -> dict:
        """POST /api/licenses/usage: records `quantity` on the product's `meter` (from
        `device_id`, if given). Returns the verified `usage` {meter, period, used, limit,
        remaining, resetsAt}. Raises UsageLimitError when the quantity does not fit (nothing
        recorded), RefusedError for any other refusal.

        Keyhook counts a record once per `idempotency_key`. Without one a fresh key is made,
        so each call counts: to make your retries safe, make the key once per unit of work
        and pass the same key again when you retry it."""
        extra = {"meter": meter, "quantity": quantity,
                 "idempotencyKey": idempotency_key or secrets.token_hex(16)}
        answer, _, _ = self._call("/api/licenses/usage", key, device_id, extra)
        usage = answer.get("usage")
        if answer["valid"]:
            if usage is None:
                raise VerificationError("malformed", "a usage answer without its usage")
            return usage
        if answer["code"] == "USAGE_LIMIT_REACHED" and usage is not None:
            raise UsageLimitError(usage["meter"], usage["used"], usage["limit"],
                                  usage["remaining"])
        raise RefusedError(answer["code"], answer["detail"])

    # --- license files -------------------------------------------------------------------

    def checkout_file(self, key: str, device_id: str, ttl: timedelta | int | None = None,
                      encrypt: bool = False) -> tuple[str, dict]:
        """POST /api/licenses/checkout: activates `device_id` and returns its verified license
        file (text, payload), also kept for check_offline. `ttl`: the file's lifetime (within
        the product's bounds; the product's default when None). `encrypt`: the file is
        encrypted to the license key. Raises RefusedError when the license is refused."""
        nonce = new_nonce()
        body = self._request_body(key, device_id, nonce)
        if ttl is not None:
            body["ttl"] = int(ttl.total_seconds()) if isinstance(ttl, timedelta) else int(ttl)
        body["encrypt"] = bool(encrypt)
        status, raw = self._post("/api/licenses/checkout", body)
        return self._file_answer(status, raw, key, device_id, nonce)

    def _file_answer(self, status: int, raw: bytes, key: str, device_id: str,
                     nonce: str) -> tuple[str, dict]:
        """A route's `{ file }` answer (checkout, borrow): the verified file, or the refusal's
        verified signed answer raised as RefusedError."""
        if status != 200:
            raise self._server_error(status, raw)
        try:
            v = json.loads(raw)
        except ValueError as e:
            raise VerificationError("malformed", str(e)) from e
        text = v.get("file") if isinstance(v, dict) else None
        if not isinstance(text, str):
            # Refused: the signed answer says why.
            answer = self.verify_answer(raw, key, device_id, nonce)
            if not answer["valid"]:
                self.cache.forget(self._slot(key, device_id))
            raise RefusedError(answer["code"], answer["detail"])
        # The file carries no nonce, so it proves nothing about the clock: checked against
        # the mark like any file.
        return text, self.verify_file(text, key, device_id)

    def verify_file(self, text: str, key: str | None, device_id: str) -> dict:
        """Verifies a license file offline, after the clock check (the slot's clock mark):
        signature (by a key of the set, not retired before issuedAt), lifetime, product,
        device, issue and expiry times, the build's mode. `key` decrypts encrypted files. The
        file is kept for check_offline unless a file issued later is kept already."""
        now = self._observe_clock(key, device_id)
        payload = self._check_file(text, key, device_id, now)
        s = self._slot(key, device_id)
        kept = self.cache.file(s)
        kept_is_newer = False
        if kept is not None:
            try:
                k = fmt.verify_file(self.config.keys, kept, key)
                kept_is_newer = (fmt.parse_time(k["issuedAt"])
                                 > fmt.parse_time(payload["issuedAt"]))
            except fmt.VerifyError:
                pass
        if not kept_is_newer:
            self.cache.put_file(s, text)
        return payload

    def _check_file(self, text: str, key: str | None, device_id: str, now: datetime) -> dict:
        """A license file's own checks at `now` (no clock mark)."""
        with _typed():
            payload = fmt.verify_file(self.config.keys, text, key)
            fmt.check_file(payload, product_id=self.config.product_id, device_id=device_id,
                           now=now, skew=self.config.clock_skew,
                           environment=self.config.environment,
                           accept_test_licenses=self.config.accept_test_licenses)
        return payload

    # --- offline -------------------------------------------------------------------------

    def check_offline(self, key: str | None, device_id: str) -> Status:
        """The standing without Keyhook: after the clock check (the slot's clock mark), the
        kept license file if it is still valid, else the last good answer if it is within the
        grace period. Both are verified again."""
        s = self._slot(key, device_id)
        if not self.cache.has_proof(s):
            raise NoOfflineProofError("nothing kept for this license and device")
        now = self._observe_clock(key, device_id)
        last_error: KeyhookError | None = None
        text = self.cache.file(s)
        if text is not None:
            try:
                return Status._of_file(self._check_file(text, key, device_id, now))
            except KeyhookError as e:
                last_error = e
        kept = self.cache.answer(s)
        if kept is not None:
            body, nonce = kept
            with _typed():
                answer = fmt.verify_answer(
                    self.config.keys, body.encode(), product_id=self.config.product_id,
                    device_id=device_id, nonce=nonce, license_key=key,
                    environment=self.config.environment,
                    accept_test_licenses=self.config.accept_test_licenses)
                signed_at = fmt.parse_time(answer["signedAt"], "signedAt")
                if signed_at > now + self.config.clock_skew:
                    raise RollbackError("behind", answer["signedAt"])
                if signed_at + self.config.grace < now:
                    raise GraceExpiredError(answer["signedAt"])
                # What the answer said ends on its own: a trial, a license's expiry.
                ends = [(answer.get("trial") or {}).get("expiresAt"),
                        (answer.get("license") or {}).get("expiresAt")]
                for end in ends:
                    if end is not None and fmt.parse_time(end, "expiresAt") <= now:
                        raise fmt.VerifyError("expired", end)
            return Status._of_answer(answer, CACHED_ANSWER)
        if last_error is not None:
            raise last_error
        raise NoOfflineProofError("nothing kept for this license and device")


#: While Keyhook cannot be reached, heartbeats are retried this often (in seconds) until the
#: lease lapses.
_RETRY_SECONDS = 5.0


class Lease:
    """A held floating seat (Client.lease). A daemon thread heartbeats every
    `heartbeatSeconds` (a third of the lease, so two heartbeats may fail before it lapses) and
    records the loss of the seat: `held` turns False and `lost_code` / `lost_detail` say why
    (LEASE_EXPIRED: the lease lapsed or a merchant released it; REVOKED, SUSPENDED, EXPIRED:
    the license; UNREACHABLE: the lease lapsed while Keyhook could not be reached). Stop the
    licensed features then, or lease again. `release()` (or leaving the `with` block) stops
    the thread and gives the seat back."""

    def __init__(self, client: Client, key: str, device_id: str, answer: dict):
        self.client = client
        self.key = key
        self.device_id = device_id
        #: The verified answer that granted the seat.
        self.answer = answer
        #: The lease as Keyhook first answered it: id, expiresAt, heartbeatSeconds.
        self.lease: dict = answer["lease"]
        self.id: str = self.lease["id"]
        self.expires_at: str = self.lease["expiresAt"]
        self.heartbeat_seconds: int = self.lease["heartbeatSeconds"]
        self.lost_code: str | None = None
        self.lost_detail: str | None = None
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._released = False
        self._thread = threading.Thread(target=self._heartbeats, daemon=True,
                                        name=f"keyhook-lease-{self.id[-8:]}")
        self._thread.start()

    @property
    def held(self) -> bool:
        """Whether the seat is still held (as the last heartbeat learnt)."""
        return not self._lost.is_set() and not self._released

    def wait_lost(self, timeout: float | None = None) -> bool:
        """Blocks until the seat is lost (True) or `timeout` seconds passed (False)."""
        return self._lost.wait(timeout)

    def _lose(self, code: str, detail: str) -> None:
        self.lost_code, self.lost_detail = code, detail
        self._lost.set()

    def _heartbeats(self) -> None:
        period = float(max(self.heartbeat_seconds, 1))
        while not self._stop.wait(period):
            try:
                a = self.client._heartbeat(self.key, self.id, self.device_id)
            except KeyhookError as e:
                # Unreachable or refused: the seat is held until its lease lapses.
                expires = fmt.parse_time(self.expires_at, "expiresAt")
                if expires <= self.client._now():
                    self._lose("UNREACHABLE", str(e))
                    return
                period = min(_RETRY_SECONDS, float(max(self.heartbeat_seconds, 1)))
                continue
            if not a["valid"]:
                self._lose(a["code"], a["detail"])
                return
            lease = a.get("lease")
            if lease is not None:
                self.expires_at = lease["expiresAt"]
                self.heartbeat_seconds = lease["heartbeatSeconds"]
            period = float(max(self.heartbeat_seconds, 1))

    def borrow(self, seconds: timedelta | int) -> tuple[str, dict]:
        """Client.borrow on this seat."""
        return self.client.borrow(self, seconds)

    def release(self) -> bool:
        """Stops the heartbeats and gives the seat back now (DELETE); False when it had
        lapsed already, or was released before."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
        if self._released:
            return False
        self._released = True
        return self.client._release_lease(self.id)

    def close(self) -> None:
        """release(), ignoring a Keyhook that cannot be reached (the seat frees itself when
        its lease lapses)."""
        try:
            self.release()
        except KeyhookError:
            pass

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
