"""Offline verification of Keyhook's signed answers (keyhook-answer-v2) and license files
(keyhook-license-file-v1), with the `cryptography` package. One file, no other dependency:
copy it into your app.

    keys = KeySet.from_json(open("signing-keys.json").read())   # GET /api/tenants/{id}/signing-keys
    answer = verify_answer(keys, response.content, product_id="42", device_id=device,
                           nonce=my_nonce, license_key=key)          # raises VerifyError
    check_fresh(answer, now)
    payload = verify_file(keys, file_text, license_key=key)
    check_file(payload, product_id="42", device_id=device, now=now)
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timedelta, timezone

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ANSWER_FORMAT = "keyhook-answer-v2"
FILE_FORMAT = "keyhook-license-file-v1"
BEGIN = "-----BEGIN KEYHOOK LICENSE FILE-----"
END = "-----END KEYHOOK LICENSE FILE-----"
_MARK = b',"signature":"'
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class VerifyError(Exception):
    """Not trusted. `kind` is one of: unsigned, malformed, unsupported_format, unknown_key,
    bad_signature, wrong_product, wrong_device, wrong_nonce, wrong_license, expired, stale,
    not_yet_valid, key_required, decrypt, clock_rollback."""

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


class KeySet:
    def __init__(self) -> None:
        self._keys: dict[str, Ed25519PublicKey] = {}

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
        return ks

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


def verify_answer(keys: KeySet, body: bytes, *, product_id: str, device_id: str | None,
                  nonce: str | None, license_key: str | None) -> dict:
    """The answer, if it is signed by `keys` and answers exactly this request."""
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
    return a


def check_fresh(answer: dict, now: datetime, max_age: timedelta = timedelta(minutes=5),
                skew: timedelta = timedelta(minutes=5)) -> None:
    at = parse_time(answer["signedAt"])
    if at > now + skew:
        raise VerifyError("not_yet_valid", answer["signedAt"])
    if at + max_age < now:
        raise VerifyError("stale", answer["signedAt"])


def check_clock(now: datetime, newest_seen: datetime | None,
                skew: timedelta = timedelta(minutes=5)) -> None:
    """Refuses a clock set back behind the newest signed time already seen."""
    if newest_seen is not None and now + skew < newest_seen:
        raise VerifyError("clock_rollback", newest_seen.isoformat())


def _file_key(license_key: str) -> bytes:
    canon = canonical_key(license_key)
    ikm = (canon if canon is not None else license_key.strip()).encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"keyhook-license-file-v1/aes-256-gcm").derive(ikm)


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
    return payload


def check_file(payload: dict, *, product_id: str, device_id: str, now: datetime,
               skew: timedelta = timedelta(minutes=5)) -> None:
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
