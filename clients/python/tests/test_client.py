"""The client against a small Keyhook over real HTTP (tests/fake_keyhook.py): every answer is
verified (nonce, product, device, license, key, freshness, mode), the offline fallback holds
within the grace period and refuses a clock set back, and a revoked license loses its proofs."""

import json
import pathlib
import re
import shutil
import socket
import tempfile
import unittest
from datetime import datetime, timedelta, timezone

import keyhook
from keyhook import verify as kv

from fake_keyhook import PRODUCT, FakeKeyhook

KEY = "7K2M9-Q4X1C-8V3B6-N0D5F-HJKMP"
OTHER_KEY = "ABCDE-FGHJK-MNPQR-STVWX-YZ012"
UNREACHABLE = "http://127.0.0.1:9"


class Clock:
    """The client's clock: real time moved by `offset`."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset


class ClientTest(unittest.TestCase):
    def setUp(self) -> None:
        self.server = FakeKeyhook()
        self.addCleanup(self.server.close)
        self.server.add_license(KEY, max_devices=1)
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="keyhook-python-"))
        self.addCleanup(shutil.rmtree, self.dir)
        self.clock = Clock()
        self.device = keyhook.device_id_from(PRODUCT, "machine-1")

    def client(self, url=None, **options) -> keyhook.Client:
        options.setdefault("cache_dir", self.dir)
        options.setdefault("clock", self.clock)
        return keyhook.Client(url or self.server.url, PRODUCT,
                              options.pop("keys", self.server.keys_json()), **options)

    def refused(self, fn) -> keyhook.KeyhookError:
        with self.assertRaises(keyhook.KeyhookError) as e:
            fn()
        return e.exception

    # --- online ------------------------------------------------------------------------

    def test_validate_activate_and_the_device_limit_each_with_a_fresh_nonce(self):
        c = self.client()
        s = c.validate(KEY, self.device)
        self.assertEqual((s.valid, s.code, s.source, s.offline),
                         (False, "NOT_ACTIVATED", keyhook.ONLINE, False))
        s = c.activate(KEY, self.device, "Ada's laptop")
        self.assertEqual((s.valid, s.code), (True, "VALID"))
        self.assertEqual(s.answer["license"]["activeDevices"], 1)
        other = keyhook.device_id_from(PRODUCT, "machine-2")
        self.assertEqual(c.activate(KEY, other).code, "DEVICE_LIMIT_REACHED")
        self.assertEqual(self.server.requests[1][1]["deviceName"], "Ada's laptop")
        nonces = [r["nonce"] for _, r in self.server.requests]
        self.assertEqual(len(set(nonces)), 3)
        self.assertTrue(all(re.fullmatch("[0-9a-f]{32}", n) for n in nonces))
        self.assertTrue(all(r["environment"] == "live" for _, r in self.server.requests))

    def test_a_trial_is_verified_as_this_devices_trial(self):
        s = self.client().trial(self.device)
        self.assertEqual((s.valid, s.code), (True, "TRIAL"))
        self.assertEqual(s.answer["trial"]["deviceHash"], kv.device_hash(PRODUCT, self.device))
        self.assertNotIn("licenseKey", self.server.requests[0][1])

    def test_a_replayed_answer_is_refused(self):
        c = self.client()
        c.activate(KEY, self.device)
        self.server.replay = True
        e = self.refused(lambda: c.validate(KEY, self.device))
        self.assertIsInstance(e, keyhook.VerificationError)
        self.assertEqual((e.kind, e.reason), ("verification", "wrong_nonce"))

    def test_an_answer_about_another_product_device_or_license_is_refused(self):
        c = self.client()
        c.activate(KEY, self.device)
        for rewrite, reason in [
            (lambda a: a.update(productId="43"), "wrong_product"),
            (lambda a: a.update(deviceHash=kv.device_hash(PRODUCT, "machine-2")), "wrong_device"),
            (lambda a: a.update(licenseId=kv.license_id(OTHER_KEY),
                                license=dict(a["license"], id=kv.license_id(OTHER_KEY))),
             "wrong_license"),
        ]:
            with self.subTest(reason):
                self.server.rewrite = rewrite
                e = self.refused(lambda: c.validate(KEY, self.device))
                self.assertEqual((e.kind, e.reason), ("verification", reason))

    def test_a_tampered_answer_fails_its_signature(self):
        c = self.client()
        self.server.tamper = lambda b: b.replace(b'"maxDevices":1', b'"maxDevices":9')
        e = self.refused(lambda: c.activate(KEY, self.device))
        self.assertEqual((e.kind, e.reason), ("verification", "bad_signature"))

    def test_stale_and_future_answers_are_refused(self):
        c = self.client()
        self.server.clock_offset = -timedelta(minutes=6)
        self.assertEqual(self.refused(lambda: c.validate(KEY, self.device)).reason, "stale")
        self.server.clock_offset = timedelta(minutes=6)
        self.assertEqual(self.refused(lambda: c.validate(KEY, self.device)).reason,
                         "not_yet_valid")
        self.server.clock_offset = timedelta(minutes=4)  # within the clock skew
        self.assertEqual(c.validate(KEY, self.device).code, "NOT_ACTIVATED")

    def test_another_tenants_keys_trust_nothing(self):
        stranger = FakeKeyhook()
        self.addCleanup(stranger.close)
        e = self.refused(lambda: self.client(keys=stranger.keys_json()).validate(KEY, self.device))
        self.assertEqual((e.kind, e.reason), ("verification", "unknown_key"))

    def test_a_retired_keys_new_signatures_are_refused(self):
        retired = kv.format_time(datetime.now(timezone.utc) - timedelta(hours=1))
        c = self.client(keys=self.server.keys_json(retired_at=retired))
        e = self.refused(lambda: c.validate(KEY, self.device))
        self.assertIsInstance(e, keyhook.RetiredKeyError)
        self.assertEqual(e.kind, "retired_key")

    def test_a_live_build_refuses_a_valid_test_license_and_a_test_build_takes_it(self):
        self.server.livemode = False
        e = self.refused(lambda: self.client().activate(KEY, self.device))
        self.assertIsInstance(e, keyhook.TestLicenseError)
        self.assertEqual(e.kind, "test_license")
        s = self.client(environment="test").validate(KEY, self.device)
        self.assertEqual((s.valid, s.livemode), (True, False))
        self.assertEqual(self.server.requests[-1][1]["environment"], "test")
        s = self.client(accept_test_licenses=True).validate(KEY, self.device)
        self.assertTrue(s.valid)

    def test_http_errors_are_typed(self):
        self.server.fail_status = 409
        e = self.refused(lambda: self.client().activate(KEY, self.device))
        self.assertIsInstance(e, keyhook.ServerError)
        self.assertEqual((e.kind, e.status, e.code, e.message),
                         ("server", 409, "unavailable", "try again"))

    def test_a_server_that_never_answers_is_a_network_error(self):
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # accepts connections, never answers
        self.addCleanup(silent.close)
        c = self.client(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.3)
        self.assertEqual(self.refused(lambda: c.validate(KEY, self.device)).kind, "network")

    # --- offline -----------------------------------------------------------------------

    def test_unreachable_falls_back_to_the_last_answer_within_the_grace_period(self):
        self.client().activate(KEY, self.device)
        offline = self.client(UNREACHABLE, grace=timedelta(days=3))
        s = offline.validate(KEY, self.device)
        self.assertEqual((s.valid, s.code, s.source, s.offline),
                         (True, "VALID", keyhook.CACHED_ANSWER, True))
        self.clock.offset = timedelta(days=2, hours=23)
        self.assertTrue(offline.validate(KEY, self.device).valid)
        self.clock.offset = timedelta(days=3, minutes=1)
        e = self.refused(lambda: offline.validate(KEY, self.device))
        self.assertIsInstance(e, keyhook.GraceExpiredError)
        self.assertEqual(e.kind, "grace_expired")
        # A device never seen has nothing kept: the network error comes through.
        other = keyhook.device_id_from(PRODUCT, "machine-2")
        self.assertEqual(self.refused(lambda: offline.validate(KEY, other)).kind, "network")

    def test_a_5xx_falls_back_offline_and_a_4xx_does_not(self):
        c = self.client()
        c.activate(KEY, self.device)
        self.server.fail_status = 503
        self.assertEqual(c.validate(KEY, self.device).source, keyhook.CACHED_ANSWER)
        self.server.fail_status = 429
        self.assertEqual(self.refused(lambda: c.validate(KEY, self.device)).kind, "server")

    def test_a_license_file_carries_the_app_offline_and_a_clock_set_back_is_refused(self):
        text, payload = self.client().checkout_file(KEY, self.device, ttl=timedelta(days=7),
                                                    encrypt=True)
        self.assertIn("BEGIN KEYHOOK LICENSE FILE", text)
        self.assertEqual(payload["entitlements"], ["pro"])
        self.assertEqual(self.server.requests[-1][1]["ttl"], 7 * 86400)
        self.assertTrue(self.server.requests[-1][1]["encrypt"])
        with self.assertRaises(kv.VerifyError) as unreadable:  # encrypted to the key
            kv.verify_file(kv.KeySet.from_json(self.server.keys_json()), text)
        self.assertEqual(unreadable.exception.kind, "key_required")
        offline = self.client(UNREACHABLE, grace=timedelta(0))
        self.clock.offset = timedelta(days=5)
        s = offline.validate(KEY, self.device)
        self.assertEqual((s.valid, s.source), (True, keyhook.LICENSE_FILE))
        self.assertTrue(s.has("pro") and not s.has("enterprise"))
        # Wound back two days (still inside the file's life): behind the mark.
        self.clock.offset = timedelta(days=3)
        e = self.refused(lambda: offline.validate(KEY, self.device))
        self.assertIsInstance(e, keyhook.RollbackError)
        self.assertEqual((e.kind, e.reason), ("rollback", "behind"))
        # The mark deleted, or edited back.
        mark = next(self.dir.glob("mark-*.json"))
        stored = mark.read_text()
        mark.unlink()
        self.assertEqual(self.refused(lambda: offline.validate(KEY, self.device)).reason,
                         "mark_missing")
        hw = json.loads(stored)["highWater"]
        mark.write_text(stored.replace(hw, kv.format_time(self.clock())))
        self.assertEqual(self.refused(lambda: offline.validate(KEY, self.device)).reason,
                         "mark_altered")
        # A fresh online answer (the clock right again) proves the clock and restarts the mark.
        self.clock.offset = timedelta(0)
        self.assertTrue(self.client().validate(KEY, self.device).valid)
        self.assertEqual(offline.validate(KEY, self.device).source, keyhook.LICENSE_FILE)
        # Past the file's expiry nothing is left (grace 0 for the answer).
        self.clock.offset = timedelta(days=8)
        e = self.refused(lambda: offline.validate(KEY, self.device))
        self.assertEqual(e.kind, "grace_expired")

    def test_a_revoked_license_forgets_its_offline_proofs(self):
        c = self.client()
        c.checkout_file(KEY, self.device)
        self.assertEqual(len(list(self.dir.glob("file-*.lic"))), 1)
        self.server.license(KEY)["status"] = "revoked"
        s = c.validate(KEY, self.device)
        self.assertEqual((s.valid, s.code), (False, "REVOKED"))
        self.assertEqual(list(self.dir.glob("file-*.lic")) + list(self.dir.glob("answer-*")), [])
        e = self.refused(lambda: self.client(UNREACHABLE).validate(KEY, self.device))
        self.assertEqual(e.kind, "network")
        self.assertIsInstance(self.refused(lambda: c.check_offline(KEY, self.device)),
                              keyhook.NoOfflineProofError)

    def test_deactivate_frees_the_seat_and_forgets_the_proofs(self):
        c = self.client()
        c.checkout_file(KEY, self.device)
        s = c.deactivate(KEY, self.device)
        self.assertEqual((s.valid, s.code), (False, "NOT_ACTIVATED"))
        self.assertEqual(self.server.license(KEY)["devices"], [])
        self.assertEqual(self.refused(lambda: c.check_offline(KEY, self.device)).kind,
                         "no_offline_proof")

    def test_a_refused_checkout_is_a_refused_error_with_the_signed_code(self):
        c = self.client()
        c.activate(KEY, self.device)
        other = keyhook.device_id_from(PRODUCT, "machine-2")
        e = self.refused(lambda: c.checkout_file(KEY, other))
        self.assertIsInstance(e, keyhook.RefusedError)
        self.assertEqual((e.kind, e.code), ("refused", "DEVICE_LIMIT_REACHED"))

    def test_an_older_file_does_not_replace_a_newer_one(self):
        c = self.client()
        older, _ = c.checkout_file(KEY, self.device)
        self.server.clock_offset = timedelta(minutes=1)
        newer, _ = c.checkout_file(KEY, self.device)
        c.verify_file(older, KEY, self.device)
        self.assertEqual(next(self.dir.glob("file-*.lic")).read_text(), newer)

    def test_without_a_cache_directory_proofs_live_in_memory(self):
        c = self.client(cache_dir=None)
        c.checkout_file(KEY, self.device)
        self.assertEqual(list(self.dir.iterdir()), [])
        s = c.check_offline(KEY, self.device)
        self.assertEqual(s.source, keyhook.LICENSE_FILE)

    # --- device ids --------------------------------------------------------------------

    def test_device_ids_are_stable_per_product_and_hide_the_machine_id(self):
        a = keyhook.device_id_from("42", "0123456789abcdef")
        self.assertEqual(a, keyhook.device_id_from("42", "0123456789abcdef"))
        self.assertNotEqual(a, keyhook.device_id_from("43", "0123456789abcdef"))
        self.assertTrue(re.fullmatch("[0-9a-f]{64}", a))
        if pathlib.Path("/etc/machine-id").exists():
            self.assertEqual(keyhook.device_id("42"), keyhook.device_id("42"))
            self.assertEqual(keyhook.device_id("42"),
                             keyhook.device_id_from("42", keyhook.machine_id()))

    def test_bad_settings_are_refused(self):
        with self.assertRaises(keyhook.ConfigError):
            self.client(environment="staging")
        with self.assertRaises(keyhook.ConfigError):
            self.client("keyhook.example.com")
        with self.assertRaises(keyhook.ConfigError):
            keyhook.Client(self.server.url, PRODUCT, '{"keys":[]}')
        with self.assertRaises(keyhook.VerificationError):
            keyhook.Client(self.server.url, PRODUCT, "not json")


if __name__ == "__main__":
    unittest.main()
