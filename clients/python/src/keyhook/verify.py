"""Offline verification of Keyhook's signed answers (keyhook-answer-v2) and license files
(keyhook-license-file-v1), and the clock mark (keyhook-clock-mark-v1) that stops a clock set
back from stretching them (docs/integrate.md). The `Client` (keyhook.client) is built on these
functions; use them directly when your app makes its own HTTP calls.

This module imports nothing of the package and needs only `cryptography`: it can also be copied
into an app on its own (it was `keyhook_verify.py`).

    keys = KeySet.from_json(open("signing-keys.json").read())   # GET /api/tenants/{id}/signing-keys
    answer = verify_answer(keys, response_body, product_id="42", device_id=device,
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

Every refusal is a `VerifyError` whose `kind` is the result named by the shared test vectors
(clients/test-vectors): anything that does not parse as what it claims to be is `malformed`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import pathlib
import re
from datetime import datetime, timedelta, timezone
from typing import Any

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
# Unicode White_Space, the characters every Keyhook client skips in a key and trims off an
# imported one (Python's str.isspace and JavaScript's \s each differ from it a little).
_WHITE_SPACE = frozenset("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
                         "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}\Z")
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))\Z")


class VerifyError(Exception):
    """Not trusted. `kind` is one of: unsigned, malformed, unsupported_format, unknown_key,
    bad_public_key, bad_signature, wrong_product, wrong_device, wrong_nonce, wrong_license,
    expired, stale, not_yet_valid, key_required, decrypt, retired_key, lifetime_too_long,
    test_license, clock_rollback (detail: "behind <time>", "mark missing" or "mark altered")."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


def parse_time(s: Any, field: str = "time") -> datetime:
    """An RFC 3339 timestamp (what Keyhook signs), as an aware datetime; `malformed` for
    anything else (a date alone, no offset, a word)."""
    m = _RFC3339.match(s) if isinstance(s, str) else None
    if m is None:
        raise VerifyError("malformed", f"{field} is not an RFC 3339 timestamp")
    year, month, day, hour, minute, second, fraction, sign, off_h, off_m = m.groups()
    try:
        if fraction is None or len(fraction) in (3, 6):
            # What Keyhook writes: the C parser (ten times faster), once the regex passed.
            iso = s[:10] + "T" + s[11:]
            return datetime.fromisoformat(iso[:-1] + "+00:00" if sign is None else iso)
        offset = timedelta(0)
        if sign is not None:
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            if sign == "-":
                offset = -offset
        micro = int((fraction or "0")[:6].ljust(6, "0"))
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                        micro, tzinfo=timezone(offset))
    except ValueError as e:
        raise VerifyError("malformed", f"{field} is not an RFC 3339 timestamp") from e


def format_time(t: datetime) -> str:
    """RFC 3339 UTC with milliseconds, as Keyhook writes times (finer digits dropped)."""
    t = t.astimezone(timezone.utc)
    return (f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:"
            f"{t.second:02d}.{t.microsecond // 1000:03d}Z")


def device_hash(product_id: str, device_id: str) -> str:
    """hex(SHA-256("keyhook-device-v1" || 0 || productId || 0 || deviceId))."""
    data = b"keyhook-device-v1\x00" + product_id.encode() + b"\x00" + device_id.encode()
    return hashlib.sha256(data).hexdigest()


def canonical_key(text: str) -> str | None:
    """The canonical form of a Keyhook key (25 uppercase Crockford symbols), or None for text
    that is not one. Lenient: case, hyphens and white space, I/L -> 1, O -> 0 (ASCII only)."""
    out = []
    for c in text:
        if c == "-" or c in _WHITE_SPACE:
            continue
        if not c.isascii():
            return None
        c = c.upper()
        c = {"I": "1", "L": "1", "O": "0"}.get(c, c)
        if not c.isalnum() or c == "U":
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


def _trim(text: str) -> str:
    start, end = 0, len(text)
    while start < end and text[start] in _WHITE_SPACE:
        start += 1
    while end > start and text[end - 1] in _WHITE_SPACE:
        end -= 1
    return text[start:end]


def secret_bytes(license_key: str | None) -> bytes:
    """What the file and mark keys derive from: the canonical Keyhook key, else the key
    trimmed; empty without a key (a trial)."""
    if license_key is None:
        return b""
    canon = canonical_key(license_key)
    return (canon if canon is not None else _trim(license_key)).encode()


def _b64decode(text: Any, what: str) -> bytes:
    """Standard, padded base64, nothing else (like every other Keyhook verifier)."""
    if not isinstance(text, str) or len(text) % 4 != 0 or not _BASE64.match(text):
        raise VerifyError("malformed", f"{what}: bad base64")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise VerifyError("malformed", f"{what}: bad base64") from e


def _json(data: bytes | str, what: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise VerifyError("malformed", f"{what}: {e}") from e


# The shapes of what is signed: a member of the wrong type is `malformed`, as in the Rust
# client, whose types are checked by its JSON reader. `?` marks a member that may be absent or
# null; "u32" a whole number from 0 to 2^32 - 1.
_ANSWER_SHAPE = {"format": "str", "valid": "bool", "code": "str", "detail": "str",
                 "livemode": "bool", "productId": "str", "deviceHash": "str?",
                 "licenseId": "str?", "license": "license?", "trial": "trial?",
                 "nonce": "str?", "signedAt": "str", "kid": "str", "manageUrl": "str?",
                 "lease": "lease?", "seats": "seats?", "usage": "usage?",
                 "meters": "usages?"}
_ANSWER_LICENSE_SHAPE = {"id": "str", "productId": "str", "status": "str",
                         "expiresAt": "str?", "maxDevices": "u32", "activeDevices": "u32"}
_TRIAL_SHAPE = {"productId": "str", "deviceHash": "str", "startedAt": "str",
                "expiresAt": "str"}
_PAYLOAD_SHAPE = {"format": "str", "kid": "str", "tenantId": "str", "licenseId": "str",
                  "productId": "str", "deviceHash": "str", "livemode": "bool",
                  "license": "file_license", "entitlements": "strs", "issuedAt": "str",
                  "expiresAt": "str"}
_FILE_LICENSE_SHAPE = {"status": "str", "expiresAt": "str?", "maxDevices": "u32",
                       "maxIps": "u32"}
_ENVELOPE_SHAPE = {"format": "str", "alg": "str", "kid": "str", "enc": "str",
                   "payload": "str", "signature": "str"}
# Floating licenses: the seat a lease answer grants, the counts of CONCURRENCY_LIMIT_REACHED.
_LEASE_SHAPE = {"id": "str", "expiresAt": "str", "heartbeatSeconds": "u32",
                "borrowedUntil": "str?"}
_SEATS_SHAPE = {"inUse": "u32", "maxConcurrent": "u32"}
# Usage limits: the meter a usage answer recorded on (counts up to 10^12).
_USAGE_SHAPE = {"meter": "str", "period": "str", "used": "u53", "limit": "u53",
                "remaining": "u53", "resetsAt": "str?"}
_NESTED = {"license": _ANSWER_LICENSE_SHAPE, "trial": _TRIAL_SHAPE,
           "file_license": _FILE_LICENSE_SHAPE, "lease": _LEASE_SHAPE, "seats": _SEATS_SHAPE,
           "usage": _USAGE_SHAPE}


def _has_type(value: Any, kind: str) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "u32":
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**32
    if kind == "usages":
        return isinstance(value, list) and all(_has_type(v, "usage") for v in value)
    if kind == "u53":
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53
    if kind == "strs":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return isinstance(value, dict) and _shape_errors(value, _NESTED[kind]) is None


def _shape_errors(obj: Any, shape: dict) -> str | None:
    if not isinstance(obj, dict):
        return "not an object"
    for name, kind in shape.items():
        optional = kind.endswith("?")
        kind = kind.rstrip("?")
        value = obj.get(name)
        if value is None and optional:
            continue
        if not _has_type(value, kind):
            return f"{name} is missing or not a {kind}"
    return None


def _check_shape(obj: Any, shape: dict, what: str) -> dict:
    problem = _shape_errors(obj, shape)
    if problem is not None:
        raise VerifyError("malformed", f"{what}: {problem}")
    return obj


class KeySet:
    """A tenant's public keys by kid (the body of GET /api/tenants/{id}/signing-keys)."""

    def __init__(self) -> None:
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._retired: dict[str, datetime] = {}

    @classmethod
    def from_json(cls, text: str | bytes) -> "KeySet":
        """Each key's kid must be the one its public key derives (a mislabelled key is
        refused); keys of other algorithms are skipped."""
        published = _json(text, "key set")
        if not isinstance(published, dict) or not isinstance(published.get("keys"), list):
            raise VerifyError("malformed", "key set: no keys")
        ks = cls()
        for k in published["keys"]:
            _check_shape(k, {"kid": "str", "alg": "str", "publicKey": "str",
                             "retiredAt": "str?"}, "key set")
            if k["alg"] != "Ed25519":
                continue
            try:
                raw = base64.b64decode(k["publicKey"].strip(), validate=True)
                key = Ed25519PublicKey.from_public_bytes(raw)
            except (binascii.Error, ValueError) as e:
                raise VerifyError("bad_public_key", k["kid"]) from e
            if key_id(raw) != k["kid"]:
                raise VerifyError("malformed", f"key set: kid {k['kid']} does not match its key")
            ks._keys[k["kid"]] = key
            if k.get("retiredAt") is not None:
                ks._retired[k["kid"]] = parse_time(k["retiredAt"], "key set: retiredAt")
        return ks

    def kids(self) -> list[str]:
        return list(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def check_signed_in_service(self, kid: str, signed_at: str) -> None:
        """Refuses a signature the key made after its retirement (beyond the tolerance)."""
        retired = self._retired.get(kid)
        if retired is not None and parse_time(signed_at, "signedAt") > retired + RETIREMENT_TOLERANCE:
            raise VerifyError("retired_key", f"{kid} signed at {signed_at}, retired before")

    def verify(self, kid: str, message: bytes, signature_b64: str) -> None:
        key = self._keys.get(kid)
        if key is None:
            raise VerifyError("unknown_key", kid)
        try:
            signature = _b64decode(signature_b64, "signature")
        except VerifyError as e:
            raise VerifyError("bad_signature") from e
        if len(signature) != 64:
            raise VerifyError("bad_signature")
        try:
            key.verify(signature, message)
        except InvalidSignature as e:
            raise VerifyError("bad_signature") from e


def _check_environment(livemode: bool, environment: str, accept_test_licenses: bool) -> None:
    if environment not in ("live", "test"):
        raise ValueError(f"environment is 'live' or 'test', not {environment!r}")
    if not livemode and environment == "live" and not accept_test_licenses:
        raise VerifyError("test_license", "a test license in a live build")


def signed_parts(body: bytes) -> tuple[bytes, str]:
    """The signed message (the body cut at its last `,"signature":"`, closed with `}`) and the
    base64 signature."""
    i = body.rfind(_MARK)
    if i < 0:
        if body.endswith(b'"signature":null}'):
            raise VerifyError("unsigned")
        raise VerifyError("malformed", "no signature member")
    if not body.endswith(b'"}'):
        raise VerifyError("bad_signature")
    try:
        signature = body[i + len(_MARK):-2].decode("ascii")
    except UnicodeDecodeError as e:
        raise VerifyError("bad_signature") from e
    return body[:i] + b"}", signature


def verify_answer(keys: KeySet, body: bytes | str, *, product_id: str, device_id: str | None,
                  nonce: str | None, license_key: str | None, environment: str = "live",
                  accept_test_licenses: bool = False) -> dict:
    """The answer, if it is signed by `keys` and answers exactly this request. A live build
    refuses a valid answer about a test license (unless `accept_test_licenses`, for products
    with acceptTestLicenses); a refusal is returned whatever its mode."""
    message, signature = signed_parts(body.encode() if isinstance(body, str) else bytes(body))
    header = _json(message, "answer")
    if not isinstance(header, dict):
        raise VerifyError("malformed", "answer: not an object")
    found = header.get("format")
    if not isinstance(found, (str, type(None))):
        raise VerifyError("malformed", "answer: format is not a str")
    if found != ANSWER_FORMAT:
        raise VerifyError("unsupported_format", found or "keyhook-answer-v1")
    if not isinstance(header.get("kid"), str):
        raise VerifyError("malformed", "answer without kid")
    keys.verify(header["kid"], message, signature)
    a = _check_shape(header, _ANSWER_SHAPE, "answer")
    keys.check_signed_in_service(a["kid"], a["signedAt"])
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
    """That the answer was signed at most `max_age` before `now` and not more than `skew`
    after it."""
    at = parse_time(answer["signedAt"], "signedAt")
    if at > now + skew:
        raise VerifyError("not_yet_valid", answer["signedAt"])
    if at + max_age < now:
        raise VerifyError("stale", answer["signedAt"])


def _mark_mac(high_water: str, product_id: str, device_id: str, license_key: str | None) -> str:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=MARK_FORMAT.encode()).derive(secret_bytes(license_key))
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
        hw, mac = m["highWater"], m["mac"]
        ok = (m["format"] == MARK_FORMAT and isinstance(hw, str) and isinstance(mac, str)
              and re.fullmatch("[0-9a-fA-F]{64}", mac) is not None
              and hmac.compare_digest(bytes.fromhex(mac), bytes.fromhex(
                  _mark_mac(hw, product_id, device_id, license_key))))
        if ok:
            return parse_time(hw, "highWater")
    except (ValueError, KeyError, TypeError, VerifyError):
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


def write_atomically(path: pathlib.Path, text: str) -> None:
    """A temporary file, then a rename: a crash never leaves half a file."""
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class ClockGuard:
    """Keeps the clock mark of one (product, license key, device) in a file."""

    def __init__(self, path: str | os.PathLike, *, product_id: str, device_id: str,
                 license_key: str | None, tolerance: timedelta = timedelta(minutes=5)):
        self.path = pathlib.Path(path)
        self.slot = {"product_id": product_id, "device_id": device_id, "license_key": license_key}
        self.tolerance = tolerance

    def check(self, now: datetime, *, has_proof: bool) -> None:
        """Before trusting a kept file or answer offline: raises clock_rollback, else advances
        the mark."""
        try:
            mark = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            mark = None
        write_atomically(self.path, check_mark(mark, now=now, has_proof=has_proof,
                                               tolerance=self.tolerance, **self.slot))

    def confirm(self, now: datetime) -> None:
        """After a verified, fresh online answer (its nonce and signedAt prove the clock): the
        mark restarts at now, whatever it said."""
        write_atomically(self.path, seal_mark(now, **self.slot))


def _file_key(license_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"keyhook-license-file-v1/aes-256-gcm").derive(secret_bytes(license_key))


def verify_file(keys: KeySet, text: str, license_key: str | None = None) -> dict:
    """The payload of a license file signed by `keys` (decrypted with `license_key`)."""
    text = text.strip()
    if not (text.startswith(BEGIN) and text.endswith(END)):
        raise VerifyError("malformed", "not a Keyhook license file")
    inner = "".join(text[len(BEGIN):-len(END)].split())
    env = _check_shape(_json(_b64decode(inner, "license file"), "license file"),
                       _ENVELOPE_SHAPE, "license file")
    if env["format"] != FILE_FORMAT:
        raise VerifyError("unsupported_format", env["format"])
    if env["alg"] != "Ed25519":
        raise VerifyError("malformed", "algorithm " + env["alg"])
    signing_input = f"{FILE_FORMAT}.{env['enc']}.{env['kid']}.{env['payload']}".encode()
    keys.verify(env["kid"], signing_input, env["signature"])
    raw = _b64decode(env["payload"], "license file payload")
    if env["enc"] == "none":
        plain = raw
    elif env["enc"] == "aes-256-gcm":
        if license_key is None:
            raise VerifyError("key_required")
        if len(raw) < 12 + 16:
            raise VerifyError("decrypt")
        try:
            plain = AESGCM(_file_key(license_key)).decrypt(raw[:12], raw[12:], None)
        except InvalidTag as e:
            raise VerifyError("decrypt") from e
    else:
        raise VerifyError("malformed", "encryption " + env["enc"])
    payload = _check_shape(_json(plain, "license file payload"), _PAYLOAD_SHAPE,
                           "license file payload")
    if payload["format"] != FILE_FORMAT:
        raise VerifyError("unsupported_format", payload["format"])
    if payload["kid"] != env["kid"]:
        raise VerifyError("malformed", "payload and envelope name different keys")
    keys.check_signed_in_service(payload["kid"], payload["issuedAt"])
    if (parse_time(payload["expiresAt"], "expiresAt")
            - parse_time(payload["issuedAt"], "issuedAt") > MAX_FILE_LIFETIME):
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
    if parse_time(payload["issuedAt"], "issuedAt") > now + skew:
        raise VerifyError("not_yet_valid", payload["issuedAt"])
    if parse_time(payload["expiresAt"], "expiresAt") <= now:
        raise VerifyError("expired", payload["expiresAt"])
    ends = payload["license"].get("expiresAt")
    if ends is not None and parse_time(ends, "license.expiresAt") <= now:
        raise VerifyError("expired", ends)
    _check_environment(payload["livemode"], environment, accept_test_licenses)
