"""The Python verifier against clients/test-vectors (made by the server's signing code)."""

import json
import pathlib
import time
import unittest
from datetime import timedelta

import keyhook_verify as kv

VECTORS = json.loads(
    (pathlib.Path(__file__).parent.parent / "test-vectors" / "vectors.json").read_text())


def result_of(fn) -> str:
    try:
        fn()
        return "ok"
    except kv.VerifyError as e:
        return e.kind


class Vectors(unittest.TestCase):
    keys = kv.KeySet.from_json(json.dumps(VECTORS["keys"]))
    max_age = timedelta(seconds=VECTORS["maxAnswerAgeSeconds"])
    skew = timedelta(seconds=VECTORS["clockSkewSeconds"])

    def test_every_answer_vector(self):
        for c in VECTORS["answers"]:
            e = c["expect"]

            def check():
                a = kv.verify_answer(self.keys, c["body"].encode(), product_id=e["productId"],
                                     device_id=e["deviceId"], nonce=e["nonce"],
                                     license_key=e["licenseKey"])
                kv.check_fresh(a, kv.parse_time(c["now"]), self.max_age, self.skew)
            with self.subTest(c["name"]):
                self.assertEqual(result_of(check), c["result"])

    def test_every_file_vector(self):
        for c in VECTORS["files"]:
            def check():
                now = kv.parse_time(c["now"])
                newest = kv.parse_time(c["newestSeen"]) if c["newestSeen"] else None
                kv.check_clock(now, newest, self.skew)
                p = kv.verify_file(self.keys, c["file"], c["licenseKey"])
                kv.check_file(p, product_id=c["productId"], device_id=c["deviceId"], now=now,
                              skew=self.skew)
                self.assertEqual(p["entitlements"], ["pro", "export"])
            with self.subTest(c["name"]):
                self.assertEqual(result_of(check), c["result"])

    def test_license_ids_match_the_server(self):
        a = json.loads(VECTORS["answers"][0]["body"])
        self.assertEqual(kv.license_id(VECTORS["answers"][0]["expect"]["licenseKey"]),
                         a["licenseId"])


def bench() -> None:
    """Microseconds per offline check (make bench)."""
    c = VECTORS["answers"][0]
    e = c["expect"]
    keys = kv.KeySet.from_json(json.dumps(VECTORS["keys"]))
    body = c["body"].encode()
    file = VECTORS["files"][0]
    n = 2000
    t0 = time.process_time()
    for _ in range(n):
        kv.verify_answer(keys, body, product_id=e["productId"], device_id=e["deviceId"],
                         nonce=e["nonce"], license_key=e["licenseKey"])
    answer_us = (time.process_time() - t0) / n * 1e6
    t0 = time.process_time()
    now = kv.parse_time(file["now"])
    for _ in range(n):
        p = kv.verify_file(keys, file["file"])
        kv.check_file(p, product_id=file["productId"], device_id=file["deviceId"], now=now)
    file_us = (time.process_time() - t0) / n * 1e6
    print(f"python: signed answer {answer_us:.1f} µs CPU/check, license file {file_us:.1f} µs "
          f"CPU/check ({n} each)")


if __name__ == "__main__":
    import sys
    if sys.argv[1:] == ["bench"]:
        bench()
    else:
        unittest.main()
