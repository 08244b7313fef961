"""Microseconds of CPU per offline check on the shared vectors (make bench): a signed answer
(signature, format, product, device, license, nonce), a license file (armour, signature,
payload, product, device, times) and an encrypted one (+ HKDF, AES-256-GCM)."""

import json
import pathlib
import time

from keyhook import verify as kv

VECTORS = json.loads(
    (pathlib.Path(__file__).resolve().parents[2] / "test-vectors" / "vectors.json").read_text())


def per_check(n: int, fn) -> float:
    t0 = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - t0) / n * 1e6


def main() -> None:
    keys = kv.KeySet.from_json(json.dumps(VECTORS["keys"]))
    answer = next(c for c in VECTORS["answers"] if c["name"] == "valid")
    e = answer["expect"]
    body = answer["body"].encode()
    plain = next(c for c in VECTORS["files"] if c["name"] == "valid")
    encrypted = next(c for c in VECTORS["files"] if c["name"] == "valid-encrypted")

    def file_check(c):
        now = kv.parse_time(c["now"])
        return lambda: kv.check_file(kv.verify_file(keys, c["file"], c["licenseKey"]),
                                     product_id=c["productId"], device_id=c["deviceId"], now=now)
    n = 2000
    answer_us = per_check(n, lambda: kv.verify_answer(
        keys, body, product_id=e["productId"], device_id=e["deviceId"], nonce=e["nonce"],
        license_key=e["licenseKey"]))
    file_us = per_check(n, file_check(plain))
    encrypted_us = per_check(n, file_check(encrypted))
    print(f"python: signed answer {answer_us:.1f} µs CPU/check, license file {file_us:.1f} µs "
          f"CPU/check, encrypted license file {encrypted_us:.1f} µs CPU/check ({n} each)")


if __name__ == "__main__":
    main()
