"""A small Keyhook for the client's tests: the validation routes over real HTTP on a loopback
port, answers signed with its own Ed25519 key in the server's format, license files plain or
encrypted, and knobs to misbehave (replay, tamper, answer about something else, fail, move its
clock). What the real server does is proven by the cross-language end-to-end test
(tests/clients_e2e.rs); this one lets each refusal be provoked on purpose."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keyhook import verify as kv

PRODUCT = "42"
DETAILS = {
    "VALID": "The license is valid.",
    "TRIAL": "The trial is running.",
    "NOT_FOUND": "No license with this key exists for this product.",
    "NOT_ACTIVATED": "The device is not activated on this license.",
    "DEVICE_LIMIT_REACHED": "The license is activated on its maximum number of devices.",
    "REVOKED": "The license has been revoked.",
    "CONCURRENCY_LIMIT_REACHED": "Every seat of the license is in use.",
    "LEASE_EXPIRED": "The lease has lapsed or was released.",
    "USAGE_LIMIT_REACHED": "The quantity exceeds what remains of the meter this period.",
}


def new_key() -> tuple[Ed25519PrivateKey, bytes, str]:
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
    return private, raw, kv.key_id(raw)


class FakeKeyhook:
    def __init__(self) -> None:
        self.signing_key, raw, self.kid = new_key()
        self.public_key = base64.b64encode(raw).decode()
        self.licenses: dict[str, dict] = {}
        self.trials: dict[str, datetime] = {}
        self.requests: list[tuple[str, dict]] = []
        # Misbehaviours, off by default.
        self.clock_offset = timedelta(0)       # the server's clock against the real one
        self.fail_status: int | None = None    # answer every request with this HTTP error
        self.replay = False                    # answer with the previous answer's body
        self.tamper = None                     # bytes -> bytes, after signing
        self.rewrite = None                    # dict -> None, before signing
        self.livemode = True
        self.last_body: bytes | None = None
        # Floating seats: lease id -> {license, device, expiresAt}; heartbeat = lease / 3.
        self.lease_seconds = 900
        self.leases: dict[str, dict] = {}
        self.deleted: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def keys_json(self, retired_at: str | None = None) -> str:
        key = {"kid": self.kid, "alg": "Ed25519", "publicKey": self.public_key,
               "status": "retired" if retired_at else "active",
               "createdAt": "2026-01-01T00:00:00.000Z"}
        if retired_at:
            key["retiredAt"] = retired_at
        return json.dumps({"keys": [key]})

    def add_license(self, key: str, max_devices: int = 2, status: str = "active",
                    max_concurrent: int = 1, meters: dict[str, int] | None = None) -> str:
        lid = kv.license_id(key)
        self.licenses[kv.canonical_key(key)] = {
            "id": lid, "status": status, "maxDevices": max_devices, "devices": [],
            "expiresAt": "2099-01-01T00:00:00.000Z", "maxConcurrent": max_concurrent,
            # meter -> {limit, used, seen idempotency keys}
            "meters": {m: {"limit": n, "used": 0, "keys": set()}
                       for m, n in (meters or {}).items()}}
        return lid

    def license(self, key: str) -> dict:
        return self.licenses[kv.canonical_key(key)]

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.clock_offset

    # --- what the server signs ---------------------------------------------------------

    def sign(self, message: bytes) -> bytes:
        signature = base64.b64encode(self.signing_key.sign(message))
        return message[:-1] + b',"signature":"' + signature + b'"}'

    def answer(self, req: dict, code: str, lic: dict | None, trial: dict | None = None,
               extra: dict | None = None) -> bytes:
        product, device = req.get("productId"), req.get("deviceId")
        a: dict = {"format": kv.ANSWER_FORMAT, "valid": code in ("VALID", "TRIAL"),
                   "code": code, "detail": DETAILS[code], "livemode": self.livemode,
                   "productId": product}
        if device is not None:
            a["deviceHash"] = kv.device_hash(product, device)
        if lic is not None:
            a["licenseId"] = lic["id"]
            a["license"] = {"id": lic["id"], "productId": product, "status": lic["status"],
                            "expiresAt": lic["expiresAt"], "maxDevices": lic["maxDevices"],
                            "activeDevices": len(lic["devices"])}
        if trial is not None:
            a["trial"] = trial
        a.update(extra or {})
        a["nonce"] = req.get("nonce")
        a["signedAt"] = kv.format_time(self.now())
        a["kid"] = self.kid
        if self.rewrite is not None:
            self.rewrite(a)
        body = self.sign(json.dumps(a, separators=(",", ":")).encode())
        if self.replay and self.last_body is not None:
            body = self.last_body
        self.last_body = body
        return self.tamper(body) if self.tamper is not None else body

    def license_file(self, req: dict, lic: dict, ttl: int, encrypt: bool) -> str:
        issued = self.now()
        payload = {"format": kv.FILE_FORMAT, "kid": self.kid, "tenantId": "ten_fake",
                   "licenseId": lic["id"], "productId": req["productId"],
                   "deviceHash": kv.device_hash(req["productId"], req["deviceId"]),
                   "livemode": self.livemode,
                   "license": {"status": lic["status"], "expiresAt": lic["expiresAt"],
                               "maxDevices": lic["maxDevices"], "maxIps": 0},
                   "entitlements": ["pro"], "issuedAt": kv.format_time(issued),
                   "expiresAt": kv.format_time(issued + timedelta(seconds=ttl))}
        plain = json.dumps(payload, separators=(",", ":")).encode()
        if encrypt:
            key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                       info=b"keyhook-license-file-v1/aes-256-gcm").derive(
                kv.secret_bytes(req["licenseKey"]))
            nonce = os.urandom(12)
            plain = nonce + AESGCM(key).encrypt(nonce, plain, None)
        enc = "aes-256-gcm" if encrypt else "none"
        payload_b64 = base64.b64encode(plain).decode()
        signature = base64.b64encode(self.signing_key.sign(
            f"{kv.FILE_FORMAT}.{enc}.{self.kid}.{payload_b64}".encode())).decode()
        envelope = json.dumps({"format": kv.FILE_FORMAT, "alg": "Ed25519", "kid": self.kid,
                               "enc": enc, "payload": payload_b64, "signature": signature},
                              separators=(",", ":")).encode()
        b64 = base64.b64encode(envelope).decode()
        lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
        return "\n".join([kv.BEGIN, *lines, kv.END]) + "\n"

    # --- the routes --------------------------------------------------------------------

    def live_leases(self, lic: dict) -> list[dict]:
        return [le for le in self.leases.values()
                if le["license"] is lic and le["expiresAt"] > self.now()]

    def lease_answer(self, req: dict, lease_id: str) -> bytes:
        le = self.leases[lease_id]
        lease = {"id": lease_id, "expiresAt": kv.format_time(le["expiresAt"]),
                 "heartbeatSeconds": max(self.lease_seconds // 3, 1)}
        return self.answer(req, "VALID", le["license"], extra={"lease": lease})

    def lease_route(self, path: str, req: dict) -> tuple[int, bytes]:
        """POST /api/licenses/leases/{id}/heartbeat and /borrow."""
        lease_id, _, action = path[len("/api/licenses/leases/"):].partition("/")
        le = self.leases.get(lease_id)
        if le is None or le["device"] != req.get("deviceId"):
            return 404, b'{"error":{"code":"not_found","message":"no such lease"}}'
        if le["expiresAt"] <= self.now():
            return 200, self.answer(req, "LEASE_EXPIRED", le["license"])
        if action == "heartbeat":
            le["expiresAt"] = self.now() + timedelta(seconds=self.lease_seconds)
            return 200, self.lease_answer(req, lease_id)
        if action == "borrow":
            le["expiresAt"] = self.now() + timedelta(seconds=req["seconds"])
            req = dict(req, licenseKey=le["key"])
            text = self.license_file(req, le["license"], req["seconds"], False)
            out = json.dumps({"file": text, "kid": self.kid}).encode()
            return 200, self.tamper(out) if self.tamper is not None else out
        return 404, b'{"error":{"code":"not_found","message":"no such route"}}'

    def delete(self, path: str) -> int:
        self.requests.append(("DELETE " + path, {}))
        lease_id = path[len("/api/licenses/leases/"):]
        le = self.leases.pop(lease_id, None)
        self.deleted.append(lease_id)
        return 204 if le is not None and le["expiresAt"] > self.now() else 404

    def route(self, path: str, req: dict) -> tuple[int, bytes]:
        self.requests.append((path, req))
        if self.fail_status is not None:
            return self.fail_status, json.dumps(
                {"error": {"code": "unavailable", "message": "try again"}}).encode()
        if path.startswith("/api/licenses/leases/"):
            return self.lease_route(path, req)
        key, device = req.get("licenseKey"), req.get("deviceId")
        if path == "/api/licenses/validate" and key is None:
            started = self.trials.setdefault(device, self.now())
            trial = {"productId": req["productId"],
                     "deviceHash": kv.device_hash(req["productId"], device),
                     "startedAt": kv.format_time(started),
                     "expiresAt": kv.format_time(started + timedelta(days=14))}
            return 200, self.answer(req, "TRIAL", None, trial)
        lic = self.licenses.get(kv.canonical_key(key or "") or "")
        if lic is None:
            return 200, self.answer(req, "NOT_FOUND", None)
        if lic["status"] == "revoked":
            return 200, self.answer(req, "REVOKED", lic)
        if path == "/api/licenses/leases":
            live = self.live_leases(lic)
            mine = [i for i, le in self.leases.items()
                    if le in live and le["device"] == device]
            if not mine and len(live) >= lic["maxConcurrent"]:
                return 200, self.answer(req, "CONCURRENCY_LIMIT_REACHED", lic, extra={
                    "seats": {"inUse": len(live), "maxConcurrent": lic["maxConcurrent"]}})
            lease_id = mine[0] if mine else f"lse_{lic['id']}_{os.urandom(10).hex()}"
            self.leases[lease_id] = {"license": lic, "device": device, "key": key,
                                     "expiresAt": self.now()
                                     + timedelta(seconds=self.lease_seconds)}
            return 200, self.lease_answer(req, lease_id)
        if path == "/api/licenses/usage":
            m = lic["meters"][req["meter"]]
            counted = req["idempotencyKey"] in m["keys"]
            fits = counted or m["used"] + req["quantity"] <= m["limit"]
            if fits and not counted:
                m["used"] += req["quantity"]
                m["keys"].add(req["idempotencyKey"])
            usage = {"meter": req["meter"], "period": "month", "used": m["used"],
                     "limit": m["limit"], "remaining": m["limit"] - m["used"],
                     "resetsAt": "2099-01-01T00:00:00.000Z"}
            return 200, self.answer(req, "VALID" if fits else "USAGE_LIMIT_REACHED", lic,
                                    extra={"usage": usage})
        active = device in lic["devices"]
        if path == "/api/licenses/validate":
            return 200, self.answer(req, "VALID" if active else "NOT_ACTIVATED", lic)
        if path == "/api/licenses/deactivate":
            if active:
                lic["devices"].remove(device)
            return 200, self.answer(req, "NOT_ACTIVATED", lic)
        if path in ("/api/licenses/activate", "/api/licenses/checkout"):
            if not active and len(lic["devices"]) >= lic["maxDevices"]:
                return 200, self.answer(req, "DEVICE_LIMIT_REACHED", lic)
            if not active:
                lic["devices"].append(device)
            if path == "/api/licenses/activate":
                return 200, self.answer(req, "VALID", lic)
            text = self.license_file(req, lic, req.get("ttl") or 7 * 86400,
                                     bool(req.get("encrypt")))
            return 200, json.dumps({"file": text, "kid": self.kid}).encode()
        return 404, b'{"error":{"code":"not_found","message":"no such route"}}'

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                status, out = fake.route(self.path, body)
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def do_DELETE(self) -> None:  # noqa: N802
                self.send_response(fake.delete(self.path))
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        return Handler
