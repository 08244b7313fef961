"""Floating seats and usage against the small Keyhook (tests/fake_keyhook.py): a lease
heartbeats from its thread and gives the seat back, a lost seat is reported, the limits'
errors carry their signed numbers, and a tampered or replayed answer is refused."""

import pathlib
import re
import shutil
import tempfile
import time
import unittest
from datetime import timedelta

import keyhook
from keyhook import verify as kv

from fake_keyhook import PRODUCT, FakeKeyhook
from test_client import KEY, Clock


def wait_for(condition, seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


class Base(unittest.TestCase):
    def setUp(self) -> None:
        self.server = FakeKeyhook()
        self.addCleanup(self.server.close)
        self.server.lease_seconds = 3  # heartbeats every second
        self.server.add_license(KEY, max_concurrent=1, meters={"exports": 5})
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="keyhook-python-"))
        self.addCleanup(shutil.rmtree, self.dir)
        self.clock = Clock()
        self.device = keyhook.device_id_from(PRODUCT, "machine-1")
        self.client = keyhook.Client(self.server.url, PRODUCT, self.server.keys_json(),
                                     cache_dir=self.dir, clock=self.clock)

    def paths(self) -> list[str]:
        return [p for p, _ in self.server.requests]

    def heartbeats(self) -> list[dict]:
        return [r for p, r in self.server.requests if p.endswith("/heartbeat")]


class LeaseTest(Base):
    def test_a_lease_heartbeats_and_release_gives_the_seat_back(self):
        with self.client.lease(KEY, self.device) as seat:
            self.assertTrue(seat.id.startswith("lse_"))
            self.assertEqual(seat.heartbeat_seconds, 1)
            first = seat.expires_at
            self.assertTrue(wait_for(lambda: len(self.heartbeats()) >= 2, 4))
            self.assertTrue(seat.held)
            self.assertGreater(kv.parse_time(seat.expires_at), kv.parse_time(first))
            beats = self.heartbeats()
            self.assertEqual(len({b["nonce"] for b in beats}), len(beats))
            self.assertTrue(all(b["deviceId"] == self.device for b in beats))
        self.assertEqual(self.server.deleted, [seat.id])
        self.assertFalse(seat.held)
        self.assertEqual(self.server.leases, {})
        count = len(self.heartbeats())
        time.sleep(1.3)
        self.assertEqual(len(self.heartbeats()), count, "heartbeats after release")
        self.assertFalse(seat.release(), "a second release sends nothing")
        self.assertEqual(self.paths().count(f"DELETE /api/licenses/leases/{seat.id}"), 1)

    def test_a_seat_lost_on_keyhook_is_reported(self):
        seat = self.client.lease(KEY, self.device)
        self.addCleanup(seat.close)
        self.assertIsNone(seat.lost_code)
        # A merchant released it (or it lapsed): the next heartbeat answers LEASE_EXPIRED.
        self.server.leases[seat.id]["expiresAt"] = self.server.now() - timedelta(seconds=1)
        self.assertTrue(seat.wait_lost(4))
        self.assertFalse(seat.held)
        self.assertEqual(seat.lost_code, "LEASE_EXPIRED")
        self.assertFalse(seat.release(), "Keyhook answers 404 for a lapsed lease")

    def test_a_lease_that_lapses_while_keyhook_is_unreachable_is_lost(self):
        seat = self.client.lease(KEY, self.device)
        self.addCleanup(seat.close)
        self.server.fail_status = 503
        self.assertFalse(seat.wait_lost(1.5), "held while the lease runs")
        self.assertTrue(seat.held)
        self.clock.offset = timedelta(seconds=10)
        self.assertTrue(seat.wait_lost(4))
        self.assertEqual(seat.lost_code, "UNREACHABLE")
        self.assertIn("503", seat.lost_detail)

    def test_every_seat_in_use_raises_the_signed_numbers(self):
        seat = self.client.lease(KEY, self.device)
        self.addCleanup(seat.close)
        again = self.client.lease(KEY, self.device)
        self.addCleanup(again.close)
        self.assertEqual(again.id, seat.id, "one device holds one seat")
        other = keyhook.device_id_from(PRODUCT, "machine-2")
        with self.assertRaises(keyhook.ConcurrencyLimitError) as e:
            self.client.lease(KEY, other)
        self.assertEqual((e.exception.in_use, e.exception.max_concurrent), (1, 1))
        self.assertEqual(e.exception.kind, "concurrency_limit")
        with self.assertRaises(keyhook.RefusedError) as r:
            self.client.lease("ABCDE-FGHJK-MNPQR-STVWX-YZ012", other)
        self.assertEqual(r.exception.code, "NOT_FOUND")

    def test_a_borrowed_seat_is_a_verified_license_file_kept_for_offline_use(self):
        with self.client.lease(KEY, self.device) as seat:
            text, payload = seat.borrow(timedelta(hours=1))
            self.assertIn(kv.BEGIN, text)
            self.assertEqual(payload["deviceHash"], kv.device_hash(PRODUCT, self.device))
            borrow = next(r for p, r in self.server.requests if p.endswith("/borrow"))
            self.assertEqual(borrow["seconds"], 3600)
            s = self.client.check_offline(KEY, self.device)
            self.assertEqual(s.source, keyhook.LICENSE_FILE)
            # Four more base64 characters in the armored file: it no longer verifies.
            self.server.tamper = lambda b: b.replace(b"\\n", b"\\nAAAA", 1)
            with self.assertRaises(keyhook.VerificationError):
                seat.borrow(60)

    def test_a_tampered_or_replayed_lease_answer_is_refused(self):
        self.server.tamper = lambda b: b.replace(b'"heartbeatSeconds":1',
                                                 b'"heartbeatSeconds":9')
        with self.assertRaises(keyhook.VerificationError) as e:
            self.client.lease(KEY, self.device)
        self.assertEqual(e.exception.reason, "bad_signature")
        self.server.tamper = None
        seat = self.client.lease(KEY, self.device)
        self.addCleanup(seat.close)
        # A replayed heartbeat answer (another nonce) is not trusted: the seat is not
        # extended by it, and is lost once the lease lapses.
        self.server.replay = True
        self.clock.offset = timedelta(seconds=10)
        self.assertTrue(seat.wait_lost(4))
        self.assertEqual(seat.lost_code, "UNREACHABLE")
        self.assertIn("wrong_nonce", seat.lost_detail)


class UsageTest(Base):
    def test_usage_remaining_decreases_and_the_limit_carries_its_numbers(self):
        u = self.client.record_usage(KEY, "exports", 2)
        self.assertEqual((u["meter"], u["used"], u["limit"], u["remaining"]),
                         ("exports", 2, 5, 3))
        self.assertEqual(self.client.record_usage(KEY, "exports", 2)["remaining"], 1)
        with self.assertRaises(keyhook.UsageLimitError) as e:
            self.client.record_usage(KEY, "exports", 2)
        self.assertEqual((e.exception.meter, e.exception.used, e.exception.limit,
                          e.exception.remaining), ("exports", 4, 5, 1))
        self.assertEqual(e.exception.kind, "usage_limit")
        keys = [r["idempotencyKey"] for p, r in self.server.requests]
        self.assertEqual(len(set(keys)), 3)
        self.assertTrue(all(re.fullmatch("[0-9a-f]{32}", k) for k in keys))

    def test_a_retry_with_the_callers_idempotency_key_counts_once(self):
        a = self.client.record_usage(KEY, "exports", 1, "job-7", device_id=self.device)
        b = self.client.record_usage(KEY, "exports", 1, "job-7", device_id=self.device)
        self.assertEqual((a["remaining"], b["remaining"]), (4, 4))
        self.assertEqual(self.server.requests[0][1]["deviceId"], self.device)

    def test_a_tampered_or_replayed_usage_answer_is_refused(self):
        self.server.tamper = lambda b: b.replace(b'"remaining":3', b'"remaining":5')
        with self.assertRaises(keyhook.VerificationError) as e:
            self.client.record_usage(KEY, "exports", 2)
        self.assertEqual(e.exception.reason, "bad_signature")
        self.server.tamper = None
        self.server.replay = True
        with self.assertRaises(keyhook.VerificationError) as e:
            self.client.record_usage(KEY, "exports", 1)
        self.assertEqual(e.exception.reason, "wrong_nonce")


if __name__ == "__main__":
    unittest.main()
