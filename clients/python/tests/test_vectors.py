"""The Python verifier and client against clients/test-vectors (made by the server's signing
code): every case gives its result, in the verifier's functions and through the Client."""

import json
import pathlib
import tempfile
import unittest
from datetime import timedelta

import keyhook
from keyhook import verify as kv

VECTORS = json.loads(
    (pathlib.Path(__file__).resolve().parents[2] / "test-vectors" / "vectors.json").read_text())


def result_of(fn) -> str:
    try:
        fn()
        return "ok"
    except kv.VerifyError as e:
        return e.kind


def client_result_of(fn) -> str:
    """The vectors' name of a client error (the verifier's reason, or clock_rollback)."""
    try:
        fn()
        return "ok"
    except keyhook.RollbackError:
        return "clock_rollback"
    except keyhook.VerificationError as e:
        return e.reason


class Vectors(unittest.TestCase):
    keys = kv.KeySet.from_json(json.dumps(VECTORS["keys"]))
    max_age = timedelta(seconds=VECTORS["maxAnswerAgeSeconds"])
    skew = timedelta(seconds=VECTORS["clockSkewSeconds"])

    def client(self, case, product_id, cache_dir=None) -> keyhook.Client:
        now = kv.parse_time(case["now"])
        return keyhook.Client("http://127.0.0.1:9", product_id, self.keys,
                              environment=case["environment"], cache_dir=cache_dir,
                              max_answer_age=self.max_age, clock_skew=self.skew,
                              clock=lambda: now)

    def test_every_answer_vector(self):
        self.assertGreaterEqual(len(VECTORS["answers"]), 25)
        for c in VECTORS["answers"]:
            e = c["expect"]

            def check():
                a = kv.verify_answer(self.keys, c["body"].encode(), product_id=e["productId"],
                                     device_id=e["deviceId"], nonce=e["nonce"],
                                     license_key=e["licenseKey"], environment=c["environment"])
                kv.check_fresh(a, kv.parse_time(c["now"]), self.max_age, self.skew)

            def through_the_client():
                self.client(c, e["productId"]).verify_answer(
                    c["body"].encode(), e["licenseKey"], e["deviceId"], e["nonce"])
            with self.subTest(c["name"]):
                self.assertEqual(result_of(check), c["result"])
                self.assertEqual(client_result_of(through_the_client), c["result"])

    def test_every_file_vector(self):
        self.assertGreaterEqual(len(VECTORS["files"]), 26)
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

    def test_every_file_vector_through_the_client(self):
        """The slot as a client leaves it (its mark, a kept proof), then Client.verify_file:
        the result and the mark it leaves."""
        for c in VECTORS["files"]:
            with tempfile.TemporaryDirectory() as d, self.subTest(c["name"]):
                s = keyhook.slot(c["productId"], c["licenseKey"], c["deviceId"])
                if c["mark"] is not None:
                    (pathlib.Path(d) / f"mark-{s}.json").write_text(c["mark"])
                if c["kept"]:
                    (pathlib.Path(d) / f"file-{s}.lic").write_text(c["file"])
                client = self.client(c, c["productId"], d)
                got = client_result_of(
                    lambda: client.verify_file(c["file"], c["licenseKey"], c["deviceId"]))
                self.assertEqual(got, c["result"])
                mark = pathlib.Path(d) / f"mark-{s}.json"
                self.assertEqual(mark.read_text() if mark.exists() else None,
                                 c["markAfter"] if c["markAfter"] is not None else c["mark"])

    def test_every_mark_vector(self):
        for c in VECTORS["marks"]:
            slot = dict(product_id=c["productId"], device_id=c["deviceId"],
                        license_key=c["licenseKey"])
            with self.subTest(c["licenseKey"]):
                self.assertEqual(kv.seal_mark(kv.parse_time(c["highWater"]), **slot), c["mark"])
                self.assertEqual(kv.open_mark(c["mark"], **slot), kv.parse_time(c["highWater"]))

    def test_every_license_id_vector(self):
        for c in VECTORS["licenseIds"]:
            with self.subTest(c["key"]):
                self.assertEqual(kv.license_id(c["key"]), c["licenseId"])

    def test_every_device_id_vector(self):
        for c in VECTORS["deviceIds"]:
            with self.subTest(c["machineId"]):
                self.assertEqual(keyhook.device_id_from(c["productId"], c["machineId"]),
                                 c["deviceId"])

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


if __name__ == "__main__":
    unittest.main()
