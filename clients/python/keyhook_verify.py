"""Offline verification of Keyhook's signed answers (keyhook-answer-v2) and license files
(keyhook-license-file-v1), and the clock mark (keyhook-clock-mark-v1) that stops a clock set
back from stretching them, with the `cryptography` package. One file, no other dependency:
copy it into your app.

    keys = KeySet.from_json(open("signing-keys.json").read())   # GET /api/tenants/{id}/signing-keys
    answer = verify_answer(keys, response.content, product_id="42", device_id=device,
                           nonce=my_nonce, license_key=key)          # raises VerifyError
    check_fresh(answer, now)                                         # online: the clock is right
    guard = ClockGuard(app_dir / "mark.json", product_id="42", device_id=device, license_key=key)
    guard.confirm(now)                                               # after a fresh online answer
    # offline:
    guard.check(now, has_proof=True)                                 # clock_rollback if set back
    payload = verify_file(keys, file_text, license_key=key)
    check_file(payload, product_id="42", device_id=device, now=now)

`environment="test"` (verify_answer, check_file) for test builds: a live build refuses a test
license's file and valid answers about test licenses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import pathlib
import re
from datetime import datetime, timedelta, timezone

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ANSWER_FORMAT = "keyhook-answer-v2"
FILE_FORMAT = "keyhook-license-file-v1"
MARK_FORMAT = "keyhook-clock-mark-v1"
BEGIN = "-----BEGIN KEYHOOK LICENSE FILE-----"
END = "-----END KEYHOOK LICENSE FILE-----"
_MARK = b',"signature":"'
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# A retired key's signatures are trusted up to this long after its retiredAt (the server's
# warm processes stop signing with it within half of that).
RETIREMENT_TOLERANCE = timedelta(minutes=10)
# The longest life of a license file (expiresAt - issuedAt).
MAX_FILE_LIFETIME = timedelta(days=366)


class VerifyError(Exception):
    """Not trusted. `kind` is one of: unsigned, malformed, unsupported_format, unknown_key,
    bad_signature, wrong_product, wrong_device, wrong_nonce, wrong_license, expired, stale,
    not_yet_valid, key_required, decrypt, retired_key, lifetime_too_long, test_license,
    clock_rollback (detail: "behind <time>", "mark missing" or "mark altered")."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


def device_hash(product_id: str, device_id: str) -> str:
    """hex(SHA-256("keyhook-device-v1" || 0 || productId || 0 || deviceId))."""
    data = b"keyhook-device-v1\x00" + product_id.encode() + b"\x00" + device_id.encode()
    return hashlib.sha256(data).hexdigest()


def canonical_key(text: str) -> str | None:
    out = []
    for c in text:
        if c == "-" or c.isspace():
            continue
        c = c.upper()
        c = {"I": "1", "L": "1", "O": "0"}.get(c, c)
        if not (c.isascii() and c.isalnum()) or c == "U":
            return None
        out.append(c)
    return "".join(out) if len(out) == 25 else None


def license_id(key: str) -> str | None:
    """The license id of a Keyhook key: lic_ + Crockford base32 of SHA-256(key)[:16]."""
    canon = canonical_key(key)
    if canon is None:
        return None
    digest = hashlib.sha256(canon.encode()).digest()[:16]
    bits = int.from_bytes(digest, "big") << 2  # 128 bits -> 26 symbols of 5 bits
    symbols = [_CROCKFORD[(bits >> (5 * i)) & 31] for i in range(25, -1, -1)]
    return "lic_" + "".join(symbols).lower()


def key_id(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:16]


def _secret_bytes(license_key: str | None) -> bytes:
    """The canonical Keyhook key, else the key trimmed; empty without a key (a trial)."""
    if license_key is None:
        return b""
    canon = canonical_key(license_key)
    return (canon if canon is not None else license_key.strip()).encode()


class KeySet:
    def __init__(self) -> None:
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._retired: dict[str, datetime] = {}

    @classmethod
    def from_json(cls, text: str | bytes) -> "KeySet":
        ks = cls()
        for k in json.loads(text)["keys"]:
            if k.get("alg") != "Ed25519":
                continue
            raw = base64.b64decode(k["publicKey"])
            if key_id(raw) != k["kid"]:
                raise VerifyError("malformed", f"kid {k['kid']} does not match its key")
            ks._keys[k["kid"]] = Ed25519PublicKey.from_public_bytes(raw)
            if k.get("retiredAt") is not None:
                ks._retired[k["kid"]] = parse_time(k["retiredAt"])
        return ks

    def check_signed_in_service(self, kid: str, signed_at: str) -> None:
        """Refuses a signature the key made after its retirement (beyond the tolerance)."""
        retired = self._retired.get(kid)
        if retired is not None and parse_time(signed_at) > retired + RETIREMENT_TOLERANCE:
            raise VerifyError("retired_key", f"{kid} signed at {signed_at}, retired before")

    def verify(self, kid: str, message: bytes, signature_b64: str) -> None:
        key = self._keys.get(kid)
        if key is None:
            raise VerifyError("unknown_key", kid)
        try:
            key.verify(base64.b64decode(signature_b64, validate=True), message)
        except (InvalidSignature, ValueError) as e:
            raise VerifyError("bad_signature") from e


def parse_time(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def format_time(t: datetime) -> str:
    """RFC 3339 UTC with milliseconds, as Keyhook writes times (finer digits dropped)."""
    t = t.astimezone(timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _check_environment(livemode: bool, environment: str, accept_test_licenses: bool) -> None:
    if environment not in ("live", "test"):
        raise ValueError(f"environment is 'live' or 'test', not {environment!r}")
    if not livemode and environment == "live" and not accept_test_licenses:
        raise VerifyError("test_license", "a test license in a live build")


def verify_answer(keys: KeySet, body: bytes, *, product_id: str, device_id: str | None,
                  nonce: str | None, license_key: str | None, environment: str = "live",
                  accept_test_licenses: bool = False) -> dict:
    """The answer, if it is signed by `keys` and answers exactly this request. A live build
    refuses a valid answer about a test license (unless `accept_test_licenses`, for products
    with acceptTestLicenses); a refusal is returned whatever its mode."""
    i = body.rfind(_MARK)
    if i < 0:
        raise VerifyError("unsigned" if body.endswith(b'"signature":null}') else "malformed")
    if not body.endswith(b'"}'):
        raise VerifyError("bad_signature")
    signature = body[i + len(_MARK):-2].decode()
    message = body[:i] + b"}"
    header = json.loads(message)
    if header.get("format") != ANSWER_FORMAT:
        raise VerifyError("unsupported_format", str(header.get("format", "keyhook-answer-v1")))
    keys.verify(header["kid"], message, signature)
    keys.check_signed_in_service(header["kid"], header["signedAt"])
    a = header
    if a["productId"] != product_id:
        raise VerifyError("wrong_product", a["productId"])
    mine = device_hash(product_id, device_id) if device_id is not None else None
    if a.get("deviceHash") != mine:
        raise VerifyError("wrong_device")
    if a.get("nonce") != nonce:
        raise VerifyError("wrong_nonce")
    trial, lic = a.get("trial"), a.get("license")
    if trial is not None:
        if trial["productId"] != product_id:
            raise VerifyError("wrong_product", trial["productId"])
        if trial["deviceHash"] != mine:
            raise VerifyError("wrong_device")
    if lic is not None:
        if lic["productId"] != product_id:
            raise VerifyError("wrong_product", lic["productId"])
        if lic["id"] != a.get("licenseId"):
            raise VerifyError("wrong_license")
    if license_key is None:
        if a.get("licenseId") is not None or lic is not None or (a["valid"] and trial is None):
            raise VerifyError("wrong_license")
    else:
        if trial is not None:
            raise VerifyError("wrong_license")
        expected = license_id(license_key)
        found = a.get("licenseId")
        if found is not None and expected is not None and found != expected:
            raise VerifyError("wrong_license")
        if found is None and a["valid"]:
            raise VerifyError("wrong_license")
    if a["valid"]:
        _check_environment(a["livemode"], environment, accept_test_licenses)
    return a


def check_fresh(answer: dict, now: datetime, max_age: timedelta = timedelta(minutes=5),
                skew: timedelta = timedelta(minutes=5)) -> None:
    at = parse_time(answer["signedAt"])
    if at > now + skew:
        raise VerifyError("not_yet_valid", answer["signedAt"])
    if at + max_age < now:
        raise VerifyError("stale", answer["signedAt"])


def _mark_mac(high_water: str, product_id: str, device_id: str, license_key: str | None) -> str:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=MARK_FORMAT.encode()).derive(_secret_bytes(license_key))
    message = b"\x00".join(s.encode() for s in (MARK_FORMAT, product_id, device_id, high_water))
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def seal_mark(high_water: datetime, *, product_id: str, device_id: str,
              license_key: str | None) -> str:
    """The clock mark to store for (product, license key, device): the highest local time
    observed, MAC'd (keyhook-clock-mark-v1; docs/integrate.md)."""
    hw = format_time(high_water)
    return json.dumps({"format": MARK_FORMAT, "highWater": hw,
                       "mac": _mark_mac(hw, product_id, device_id, license_key)},
                      separators=(",", ":"))


def open_mark(text: str, *, product_id: str, device_id: str, license_key: str | None) -> datetime:
    """The high-water time of a stored mark; clock_rollback ("mark altered") unless it
    verifies for this (product, license key, device)."""
    try:
        m = json.loads(text)
        hw = m["highWater"]
        mac = m["mac"]
        ok = (m["format"] == MARK_FORMAT and isinstance(hw, str) and isinstance(mac, str)
              and re.fullmatch("[0-9a-fA-F]{64}", mac) is not None
              and hmac.compare_digest(bytes.fromhex(mac), bytes.fromhex(
                  _mark_mac(hw, product_id, device_id, license_key))))
        if ok:
            return parse_time(hw)
    except (ValueError, KeyError, TypeError):
        pass
    raise VerifyError("clock_rollback", "mark altered")


def check_mark(mark: str | None, *, product_id: str, device_id: str, license_key: str | None,
               now: datetime, has_proof: bool,
               tolerance: timedelta = timedelta(minutes=5)) -> str:
    """The clock check before a kept proof is trusted offline. `mark` is the stored mark (None:
    none), `has_proof` whether a license file or answer is kept for this slot. Raises
    clock_rollback (behind the mark beyond `tolerance`, mark altered, or missing while a proof
    is kept); else returns the mark to store, advanced to `now` (never moved back)."""
    slot = {"product_id": product_id, "device_id": device_id, "license_key": license_key}
    if mark is None:
        if has_proof:
            raise VerifyError("clock_rollback", "mark missing")
        return seal_mark(now, **slot)
    high_water = open_mark(mark, **slot)
    if now + tolerance < high_water:
        raise VerifyError("clock_rollback", "behind " + format_time(high_water))
    return seal_mark(max(high_water, now), **slot)


class ClockGuard:
    """Keeps the clock mark of one (product, license key, device) in a file."""

    def __init__(self, path: str | os.PathLike, *, product_id: str, device_id: str,
                 license_key: str | None, tolerance: timedelta = timedelta(minutes=5)):
        self.path = pathlib.Path(path)
        self.slot = {"product_id": product_id, "device_id": device_id, "license_key": license_key}
        self.tolerance = tolerance

    def _write(self, text: str) -> None:
        tmp = self.path.with_name("." + self.path.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.path)

    def check(self, now: datetime, *, has_proof: bool) -> None:
        """Before trusting a kept file or answer offline: raises clock_rollback, else advances
        the mark."""
        try:
            mark = self.path.read_text()
        except FileNotFoundError:
            mark = None
        self._write(check_mark(mark, now=now, has_proof=has_proof, tolerance=self.tolerance,
                               **self.slot))

    def confirm(self, now: datetime) -> None:
        """After a verified, fresh online answer (its nonce and signedAt prove the clock): the
        mark restarts at now, whatever it said."""
        self._write(seal_mark(now, **self.slot))


def _file_key(license_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"keyhook-license-file-v1/aes-256-gcm").derive(_secret_bytes(license_key))


def verify_file(keys: KeySet, text: str, license_key: str | None = None) -> dict:
    """The payload of a license file signed by `keys` (decrypted with `license_key`)."""
    text = text.strip()
    if not (text.startswith(BEGIN) and text.endswith(END)):
        raise VerifyError("malformed", "not a Keyhook license file")
    inner = "".join(text[len(BEGIN):-len(END)].split())
    env = json.loads(base64.b64decode(inner))
    if env.get("format") != FILE_FORMAT:
        raise VerifyError("unsupported_format", str(env.get("format")))
    if env.get("alg") != "Ed25519":
        raise VerifyError("malformed", "algorithm")
    signing_input = f"{FILE_FORMAT}.{env['enc']}.{env['kid']}.{env['payload']}".encode()
    keys.verify(env["kid"], signing_input, env["signature"])
    raw = base64.b64decode(env["payload"])
    if env["enc"] == "none":
        plain = raw
    elif env["enc"] == "aes-256-gcm":
        if license_key is None:
            raise VerifyError("key_required")
        try:
            plain = AESGCM(_file_key(license_key)).decrypt(raw[:12], raw[12:], None)
        except InvalidTag as e:
            raise VerifyError("decrypt") from e
    else:
        raise VerifyError("malformed", "encryption " + env["enc"])
    payload = json.loads(plain)
    if payload.get("format") != FILE_FORMAT or payload.get("kid") != env["kid"]:
        raise VerifyError("malformed", "payload")
    keys.check_signed_in_service(payload["kid"], payload["issuedAt"])
    if parse_time(payload["expiresAt"]) - parse_time(payload["issuedAt"]) > MAX_FILE_LIFETIME:
        raise VerifyError("lifetime_too_long", f"{payload['issuedAt']} to {payload['expiresAt']}")
    return payload


def check_file(payload: dict, *, product_id: str, device_id: str, now: datetime,
               skew: timedelta = timedelta(minutes=5), environment: str = "live",
               accept_test_licenses: bool = False) -> None:
    """That the file is for this product and device, valid at `now`, and of a license this
    build trusts (a live build refuses a test license's file)."""
    if payload["productId"] != product_id:
        raise VerifyError("wrong_product", payload["productId"])
    if payload["deviceHash"] != device_hash(product_id, device_id):
        raise VerifyError("wrong_device")
    if parse_time(payload["issuedAt"]) > now + skew:
        raise VerifyError("not_yet_valid", payload["issuedAt"])
    if parse_time(payload["expiresAt"]) <= now:
        raise VerifyError("expired", payload["expiresAt"])
    ends = payload["license"].get("expiresAt")
    if ends is not None and parse_time(ends) <= now:
        raise VerifyError("expired", ends)
    _check_environment(payload["livemode"], environment, accept_test_licenses)
