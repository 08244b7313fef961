"""The Python verifier against clients/test-vectors (made by the server's signing code)."""

import json
import pathlib
import tempfile
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
                                     license_key=e["licenseKey"], environment=c["environment"])
                kv.check_fresh(a, kv.parse_time(c["now"]), self.max_age, self.skew)
            with self.subTest(c["name"]):
                self.assertEqual(result_of(check), c["result"])

    def test_every_file_vector(self):
        for c in VECTORS["files"]:
            after = []

            def check():
                now = kv.parse_time(c["now"])
                after.append(kv.check_mark(c["mark"], product_id=c["productId"],
                                           device_id=c["deviceId"], license_key=c["licenseKey"],
                                           now=now, has_proof=c["kept"], tolerance=self.skew))
                p = kv.verify_file(self.keys, c["file"], c["licenseKey"])
                kv.check_file(p, product_id=c["productId"], device_id=c["deviceId"], now=now,
                              skew=self.skew, environment=c["environment"])
                self.assertEqual(p["entitlements"], ["pro", "export"])
            with self.subTest(c["name"]):
                self.assertEqual(result_of(check), c["result"])
                self.assertEqual(after[0] if after else None, c["markAfter"])

    def test_every_mark_vector(self):
        for c in VECTORS["marks"]:
            slot = dict(product_id=c["productId"], device_id=c["deviceId"],
                        license_key=c["licenseKey"])
            with self.subTest(c["licenseKey"]):
                self.assertEqual(kv.seal_mark(kv.parse_time(c["highWater"]), **slot), c["mark"])
                self.assertEqual(kv.open_mark(c["mark"], **slot), kv.parse_time(c["highWater"]))

    def test_the_clock_guard_keeps_the_mark_in_its_file(self):
        c = next(c for c in VECTORS["files"] if c["name"] == "valid")
        with tempfile.TemporaryDirectory() as d:
            path = pathlib.Path(d) / "mark.json"
            guard = kv.ClockGuard(path, product_id=c["productId"], device_id=c["deviceId"],
                                  license_key=c["licenseKey"])
            now = kv.parse_time("2026-12-02T00:00:00Z")
            guard.check(now, has_proof=False)          # first use
            with self.assertRaises(kv.VerifyError) as e:  # wound back into the file's life
                guard.check(kv.parse_time("2026-11-28T00:00:00Z"), has_proof=True)
            self.assertEqual(str(e.exception), "clock_rollback: behind 2026-12-02T00:00:00.000Z")
            path.unlink()
            with self.assertRaises(kv.VerifyError) as e:
                guard.check(now, has_proof=True)
            self.assertEqual(str(e.exception), "clock_rollback: mark missing")
            guard.confirm(kv.parse_time("2026-11-28T00:00:00Z"))  # a fresh online answer
            guard.check(kv.parse_time("2026-11-28T00:01:00Z"), has_proof=True)

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
