package dev.keyhook;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;

/**
 * Floating seats and usage limits against the fake Keyhook: a lease heartbeats from its daemon
 * thread and gives the seat back, a lost seat is reported to its listeners, a borrowed seat is a
 * license file that works offline, the limits' exceptions carry their signed numbers, and a
 * forged, tampered or replayed answer is refused. The fake's seats last 3 s, so heartbeats come
 * every second.
 */
public final class LeaseTest {
  private static final String KEY = FakeKeyhook.KEY;
  private static final String OTHER_KEY = "ABCDE-FGHJK-MNPQR-STVWX-YZ012";
  private static final Instant START = Instant.parse("2026-11-24T10:00:00Z");

  private static String dev(String name) {
    return Devices.deviceIdFrom("42", name);
  }

  private static boolean waitFor(BooleanSupplier condition, long millis) throws InterruptedException {
    long end = System.nanoTime() + millis * 1_000_000;
    while (System.nanoTime() < end) {
      if (condition.getAsBoolean()) {
        return true;
      }
      Thread.sleep(20);
    }
    return condition.getAsBoolean();
  }

  private static int heartbeats(ClientTest.Bed b) {
    return b.kh.requests("/heartbeat").size();
  }

  /** The live threads named for this lease. */
  private static List<Thread> threadsOf(Lease seat) {
    String name = "keyhook-lease-" + seat.id().substring(seat.id().length() - 8);
    List<Thread> out = new ArrayList<>();
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().equals(name) && t.isAlive()) {
        out.add(t);
      }
    }
    return out;
  }

  @Test
  void aLeaseHeartbeatsFromADaemonThreadAndReleaseGivesTheSeatBack() throws Exception {
    try (ClientTest.Bed b = new ClientTest.Bed()) {
      Client c = b.client();
      String d = dev("dev-A");
      Lease seat = c.lease(KEY, d, "laptop");
      Check.isTrue(seat.id().startsWith("lse_") && seat.held() && seat.loss() == null, "leased: " + seat);
      Check.equal(seat.heartbeatSeconds(), 1L, "heartbeat period");
      Check.equal(seat.expiresAt(), "2026-11-24T10:00:03.000Z", "first expiry");
      Check.equal(seat.answer().lease().id(), seat.id(), "the answer's lease");
      Check.equal(seat.answer().code(), "VALID", "the answer");
      Check.equal(b.kh.requests("leases").get(0).body().get("deviceName"), "laptop", "device name sent");
      // Time passes on both sides: each heartbeat extends the lease from Keyhook's clock.
      b.setClock(START.plusSeconds(2), true);
      Check.isTrue(waitFor(() -> seat.expiresAt().equals("2026-11-24T10:00:05.000Z"), 4000), "extended: " + seat);
      Check.isTrue(waitFor(() -> heartbeats(b) >= 2, 4000), "two heartbeats");
      Check.isTrue(seat.held(), "held");
      List<FakeKeyhook.Request> beats = b.kh.requests("/heartbeat");
      HashSet<Object> nonces = new HashSet<>();
      for (FakeKeyhook.Request r : beats) {
        Check.equal(r.route(), "leases/" + seat.id() + "/heartbeat", "route");
        Check.equal(r.body().get("deviceId"), d, "heartbeat device");
        Check.equal(r.body().get("productId"), "42", "heartbeat product");
        Check.isTrue(!r.body().containsKey("licenseKey"), "no key in a heartbeat");
        nonces.add(r.body().get("nonce"));
      }
      Check.equal(nonces.size(), beats.size(), "a fresh nonce per heartbeat");
      List<Thread> threads = threadsOf(seat);
      Check.isTrue(threads.size() == 1 && threads.get(0).isDaemon(), "one daemon heartbeat thread: " + threads);

      Check.isTrue(seat.release(), "released");
      Check.isTrue(!seat.held() && seat.loss() == null, "released, not lost: " + seat);
      synchronized (b.kh) {
        Check.equal(b.kh.deleted, List.of(seat.id()), "DELETE sent");
        Check.isTrue(b.kh.leases.isEmpty(), "the seat is free");
      }
      Check.isTrue(waitFor(() -> threadsOf(seat).isEmpty(), 1000), "the heartbeat thread ended");
      int count = heartbeats(b);
      Thread.sleep(1300);
      Check.equal(heartbeats(b), count, "heartbeats after the release");
      Check.isTrue(!seat.release(), "a second release sends nothing");
      Check.equal(b.kh.requests("leases/" + seat.id()).size(), 1, "one DELETE");

      // try-with-resources gives the seat back too.
      String id;
      try (Lease again = c.lease(KEY, d)) {
        id = again.id();
        Check.isTrue(again.held(), "held in the block");
      }
      synchronized (b.kh) {
        Check.equal(b.kh.deleted, List.of(seat.id(), id), "closed");
        Check.isTrue(b.kh.leases.isEmpty(), "the seat is free again");
      }
    }
  }

  @Test
  void aSeatLostOnKeyhookIsReportedToTheListenersOnce() throws Exception {
    try (ClientTest.Bed b = new ClientTest.Bed(); Lease seat = b.client().lease(KEY, dev("dev-A"))) {
      List<Object[]> told = new ArrayList<>();
      CountDownLatch heard = new CountDownLatch(1);
      Lease.LossListener removed = (l, loss) -> told.add(new Object[] {"removed listener", loss});
      seat.addLossListener(removed);
      seat.addLossListener((l, loss) -> {
        synchronized (told) {
          told.add(new Object[] {l, loss, Thread.currentThread()});
        }
        heard.countDown();
      });
      seat.removeLossListener(removed);
      Check.equal(seat.awaitLoss(Duration.ofMillis(100)), null, "held");
      // A merchant released it (or it lapsed): the next heartbeat answers LEASE_EXPIRED.
      b.set(() -> b.kh.leases.get(seat.id()).expiresAt = START.minusSeconds(1));
      Lease.Loss loss = seat.awaitLoss(Duration.ofSeconds(4));
      Check.isTrue(loss != null && loss.code().equals("LEASE_EXPIRED"), "lost: " + loss);
      Check.isTrue(loss.detail().contains("lapsed"), "the signed detail: " + loss.detail());
      Check.isTrue(heard.await(4, TimeUnit.SECONDS), "the listener was told");
      synchronized (told) {
        Check.equal(told.size(), 1, "told once");
        Check.isTrue(told.get(0)[0] == seat && told.get(0)[1].equals(loss), "the lease and its loss");
        Thread t = (Thread) told.get(0)[2];
        Check.isTrue(t.getName().startsWith("keyhook-lease-") && t.isDaemon(), "on the heartbeat thread: " + t);
      }
      Check.isTrue(!seat.held() && loss.equals(seat.loss()), "not held: " + seat);
      // Told at once when added after the loss, on the caller's thread.
      AtomicReference<Object[]> late = new AtomicReference<>();
      seat.addLossListener((l, x) -> late.set(new Object[] {x, Thread.currentThread()}));
      Check.isTrue(late.get() != null && late.get()[0].equals(loss) && late.get()[1] == Thread.currentThread(), "late listener");
      // No more heartbeats; the lapsed lease is gone on Keyhook.
      int count = heartbeats(b);
      Thread.sleep(1300);
      Check.equal(heartbeats(b), count, "heartbeats after the loss");
      Check.isTrue(waitFor(() -> threadsOf(seat).isEmpty(), 1000), "the heartbeat thread ended");
      Check.isTrue(!seat.release(), "Keyhook answers 404 for a lapsed lease");
    }
  }

  @Test
  void aRevokedLicenseLosesItsSeat() throws Exception {
    try (ClientTest.Bed b = new ClientTest.Bed(); Lease seat = b.client().lease(KEY, dev("dev-A"))) {
      b.set(() -> b.kh.status = "revoked");
      Lease.Loss loss = seat.awaitLoss(Duration.ofSeconds(4));
      Check.equal(loss, new Lease.Loss("REVOKED", "The license is revoked."), "loss");
      Check.isTrue(!seat.held(), "not held");
      RefusedException r = Check.thrown(RefusedException.class, () -> b.client().lease(KEY, dev("dev-A")));
      Check.isTrue(r.code().equals("REVOKED") && r.kind().equals("refused"), "leasing again: " + r);
    }
  }

  @Test
  void aLeaseThatLapsesWhileKeyhookIsUnreachableIsLost() throws Exception {
    try (ClientTest.Bed b = new ClientTest.Bed(); Lease seat = b.client().lease(KEY, dev("dev-A"))) {
      b.set(() -> b.kh.down = 503);
      Check.equal(seat.awaitLoss(Duration.ofMillis(1500)), null, "held while the lease runs");
      Check.isTrue(seat.held() && heartbeats(b) >= 1, "held, heartbeats failing: " + seat);
      // The app's clock passes the lease's expiry (Keyhook still unreachable).
      b.setClock(START.plusSeconds(10), false);
      Lease.Loss loss = seat.awaitLoss(Duration.ofSeconds(4));
      Check.isTrue(loss != null && loss.code().equals(Lease.UNREACHABLE) && loss.detail().contains("503"), "lost: " + loss);
    }
  }

  @Test
  void aReplayedHeartbeatAnswerIsNotTrusted() throws Exception {
    try (ClientTest.Bed b = new ClientTest.Bed(); Lease seat = b.client().lease(KEY, dev("dev-A"))) {
      // Every heartbeat is answered with the lease's answer (another request's nonce): not
      // trusted, so the seat is lost once the lease lapses.
      b.set(() -> b.kh.replay = true);
      b.setClock(START.plusSeconds(10), false);
      Lease.Loss loss = seat.awaitLoss(Duration.ofSeconds(4));
      Check.isTrue(loss != null && loss.code().equals(Lease.UNREACHABLE) && loss.detail().contains("wrong_nonce"), "lost: " + loss);
      Check.equal(seat.expiresAt(), "2026-11-24T10:00:03.000Z", "not extended");
    }
  }

  @Test
  void everySeatInUseIsRefusedWithTheSignedNumbers() throws Exception {
    try (ClientTest.Bed b = new ClientTest.Bed()) {
      Client c = b.client();
      try (Lease seat = c.lease(KEY, dev("dev-A")); Lease again = c.lease(KEY, dev("dev-A"))) {
        Check.equal(again.id(), seat.id(), "one device holds one seat");
        ConcurrencyLimitException e = Check.thrown(ConcurrencyLimitException.class, () -> c.lease(KEY, dev("dev-B")));
        Check.isTrue(e.inUse() == 1 && e.maxConcurrent() == 1, "numbers: " + e);
        Check.isTrue(e.kind().equals("concurrency_limit") && e.code().equals("CONCURRENCY_LIMIT_REACHED"), "kind and code: " + e);
        Check.equal(e.getMessage(), "every seat is in use (1 of 1)", "message");
        RefusedException r = Check.thrown(RefusedException.class, () -> c.lease(OTHER_KEY, dev("dev-B")));
        Check.isTrue(r.code().equals("NOT_FOUND") && r.kind().equals("refused"), "unknown key: " + r);
        Check.isTrue(seat.release(), "released");
        // The freed seat is another device's.
        try (Lease other = c.lease(KEY, dev("dev-B"))) {
          Check.isTrue(other.held() && !other.id().equals(seat.id()), "the freed seat: " + other);
        }
      }
    }
  }

  @Test
  void aBorrowedSeatIsAVerifiedLicenseFileThatWorksOffline() throws Exception {
    try (ClientTest.Bed b = new ClientTest.Bed()) {
      Client c = b.client();
      String d = dev("dev-A");
      try (Lease seat = c.lease(KEY, d)) {
        Client.CheckedOut out = seat.borrow(Duration.ofHours(1));
        Check.isTrue(out.text().startsWith(LicenseFile.BEGIN), "a license file");
        Check.equal(out.payload().deviceHash(), Devices.deviceHash("42", d), "this device's");
        Check.equal(out.payload().licenseId(), LicenseKeys.licenseId(KEY), "this license's");
        Check.equal(out.payload().expiresAt(), "2026-11-24T11:00:00.000Z", "until the borrow ends");
        Check.equal(b.kh.requests("/borrow").get(0).body().get("seconds"), new java.math.BigDecimal(3600), "seconds sent");
        synchronized (b.kh) {
          Check.equal(b.kh.leases.get(seat.id()).expiresAt, START.plusSeconds(3600), "the seat is taken until then");
        }
        // It verifies with the published keys alone, and the client keeps it for offline use.
        Check.equal(LicenseFile.verify(KeySet.parse(b.keys), out.text(), KEY).productId(), "42", "verified offline");
        Status s = b.offline().validate(KEY, d);
        Check.isTrue(s.valid() && s.source() == Source.LICENSE_FILE && s.has("pro"), "offline: " + s);
        // Four more base64 characters in the armoured file: it no longer verifies.
        b.set(() -> b.kh.alter = body -> new String(body, StandardCharsets.UTF_8).replaceFirst("\\\\n", "\\\\nAAAA").getBytes(StandardCharsets.UTF_8));
        Check.kind("verification", () -> seat.borrow(Duration.ofMinutes(1)));
        b.set(() -> b.kh.alter = null);
        // Beyond the license's maxBorrowSeconds: Keyhook's 409.
        b.set(() -> b.kh.maxBorrowSeconds = 3600);
        ServerException e = Check.thrown(ServerException.class, () -> c.borrow(seat, Duration.ofHours(2)));
        Check.isTrue(e.status() == 409 && e.code().equals("conflict"), "too long: " + e);
        // A revoked license: the signed refusal, and the kept file is forgotten.
        b.set(() -> b.kh.status = "revoked");
        RefusedException r = Check.thrown(RefusedException.class, () -> seat.borrow(Duration.ofMinutes(5)));
        Check.equal(r.code(), "REVOKED", "refused");
        Check.kind("network", () -> b.offline().validate(KEY, d));
      }
    }
  }

  @Test
  void usageIsRecordedAndTheLimitIsRefusedWithItsNumbers() throws Exception {
    try (ClientTest.Bed b = new ClientTest.Bed()) {
      Client c = b.client();
      Answer.Usage u = c.recordUsage(KEY, "exports", 2);
      Check.equal(u, new Answer.Usage("exports", "month", 2, 5, 3, "2026-12-01T00:00:00.000Z"), "first record");
      Check.equal(c.recordUsage(KEY, "exports", 2).remaining(), 1L, "second record");
      UsageLimitException e = Check.thrown(UsageLimitException.class, () -> c.recordUsage(KEY, "exports", 2));
      Check.isTrue(e.meter().equals("exports") && e.used() == 4 && e.limit() == 5 && e.remaining() == 1, "numbers: " + e);
      Check.isTrue(e.kind().equals("usage_limit") && e.code().equals("USAGE_LIMIT_REACHED"), "kind and code: " + e);
      synchronized (b.kh) {
        Check.equal(b.kh.meters.get("exports").used, 4L, "nothing recorded");
      }
      // A smaller quantity still fits.
      Check.equal(c.recordUsage(KEY, "exports", 1).remaining(), 0L, "the last one");
      List<FakeKeyhook.Request> records = b.kh.requests("usage");
      HashSet<Object> keys = new HashSet<>();
      for (FakeKeyhook.Request r : records) {
        String k = (String) r.body().get("idempotencyKey");
        Check.isTrue(k.matches("[0-9a-f]{32}"), "a fresh idempotency key: " + k);
        Check.isTrue(!r.body().containsKey("deviceId"), "no device");
        Check.equal(r.body().get("meter"), "exports", "meter");
        keys.add(k);
      }
      Check.equal(keys.size(), 4, "one key per call");
      // Refusals with their signed codes; a meter the product lacks is Keyhook's 409.
      Check.equal(Check.thrown(RefusedException.class, () -> c.recordUsage(OTHER_KEY, "exports", 1)).code(), "NOT_FOUND", "unknown key");
      ServerException s = Check.thrown(ServerException.class, () -> c.recordUsage(KEY, "imports", 1));
      Check.isTrue(s.status() == 409 && s.code().equals("conflict"), "unknown meter: " + s);
      b.set(() -> b.kh.status = "suspended");
      Check.equal(Check.thrown(RefusedException.class, () -> c.recordUsage(KEY, "exports", 1)).code(), "SUSPENDED", "suspended");
    }
  }

  @Test
  void aRetryWithTheCallersIdempotencyKeyCountsOnce() throws Exception {
    try (ClientTest.Bed b = new ClientTest.Bed()) {
      Client c = b.client();
      String d = dev("dev-A");
      Answer.Usage first = c.recordUsage(KEY, "exports", 1, "job-7", d);
      Answer.Usage retry = c.recordUsage(KEY, "exports", 1, "job-7", d);
      Check.equal(retry, first, "the same answer");
      Check.equal(first.remaining(), 4L, "counted once");
      FakeKeyhook.Request r = b.kh.requests("usage").get(0);
      Check.isTrue(r.body().get("deviceId").equals(d) && r.body().get("idempotencyKey").equals("job-7"), "sent: " + r);
      Check.equal(b.kh.requests("usage").get(1).body().get("quantity"), java.math.BigDecimal.ONE, "quantity");
    }
  }

  @Test
  void aForgedOrMismatchedAnswerIsRefused(Cases cases) {
    Object[][] table = {
      {"lease: tampered", "lease", null, alter("\"heartbeatSeconds\":1", "\"heartbeatSeconds\":9"), VerificationException.BAD_SIGNATURE},
      {"lease: another request's nonce", "lease", edit(a -> a.put("nonce", "an-old-nonce")), null, VerificationException.WRONG_NONCE},
      {"lease: another device", "lease", edit(a -> a.put("deviceHash", Devices.deviceHash("42", "someone-else"))), null, VerificationException.WRONG_DEVICE},
      {"lease: another license", "lease", edit(a -> { a.put("licenseId", "lic_other"); sub(a, "license").put("id", "lic_other"); }), null, VerificationException.WRONG_LICENSE},
      {"lease: another product", "lease", edit(a -> a.put("productId", "43")), null, VerificationException.WRONG_PRODUCT},
      {"lease: stale", "lease", edit(a -> a.put("signedAt", "2026-11-24T09:54:59.000Z")), null, VerificationException.STALE},
      {"lease: a lease of the wrong type", "lease", edit(a -> a.put("lease", "lse_x")), null, VerificationException.MALFORMED},
      {"lease: a heartbeat period that is no count", "lease", edit(a -> sub(a, "lease").put("heartbeatSeconds", -1)), null, VerificationException.MALFORMED},
      {"lease: valid without its lease", "lease", edit(a -> a.remove("lease")), null, VerificationException.MALFORMED},
      {"lease: unsigned", "lease", null, unsigned(), VerificationException.UNSIGNED},
      {"usage: tampered", "usage", null, alter("\"remaining\":3", "\"remaining\":5"), VerificationException.BAD_SIGNATURE},
      {"usage: another request's nonce", "usage", edit(a -> a.put("nonce", "an-old-nonce")), null, VerificationException.WRONG_NONCE},
      {"usage: a device though none was sent", "usage", edit(a -> a.put("deviceHash", Devices.deviceHash("42", "someone-else"))), null, VerificationException.WRONG_DEVICE},
      {"usage: another license", "usage", edit(a -> { a.put("licenseId", "lic_other"); sub(a, "license").put("id", "lic_other"); }), null, VerificationException.WRONG_LICENSE},
      {"usage: a count beyond 2^53", "usage", edit(a -> sub(a, "usage").put("limit", 1L << 53)), null, VerificationException.MALFORMED},
      {"usage: a negative count", "usage", edit(a -> sub(a, "usage").put("used", -1)), null, VerificationException.MALFORMED},
      {"usage: valid without its usage", "usage", edit(a -> a.remove("usage")), null, VerificationException.MALFORMED},
      {"usage: from the future", "usage", edit(a -> a.put("signedAt", "2026-11-24T10:05:01.000Z")), null, VerificationException.NOT_YET_VALID},
    };
    for (Object[] row : table) {
      cases.run((String) row[0], () -> {
        try (ClientTest.Bed b = new ClientTest.Bed()) {
          @SuppressWarnings("unchecked")
          Consumer<Map<String, Object>> e = (Consumer<Map<String, Object>>) row[2];
          @SuppressWarnings("unchecked")
          UnaryOperator<byte[]> al = (UnaryOperator<byte[]>) row[3];
          b.set(() -> {
            b.kh.edit = e;
            b.kh.alter = al;
          });
          VerificationException v = Check.reason((String) row[4], () -> call(b.client(), (String) row[1]));
          Check.equal(v.kind(), "verification", "kind");
        }
      });
    }
    // Signed, but by a key the tenant never published.
    for (String route : new String[] {"lease", "usage"}) {
      cases.run(route + ": signed by an unknown key", () -> {
        try (ClientTest.Bed b = new ClientTest.Bed(); FakeKeyhook forger = new FakeKeyhook(START)) {
          b.keys = forger.keySet(null);
          Check.reason(VerificationException.UNKNOWN_KEY, () -> call(b.client(), route));
        }
      });
    }
  }

  private static void call(Client c, String route) {
    if (route.equals("lease")) {
      c.lease(KEY, dev("dev-A")).close();
    } else {
      c.recordUsage(KEY, "exports", 2);
    }
  }

  private static Consumer<Map<String, Object>> edit(Consumer<Map<String, Object>> e) {
    return e;
  }

  private static UnaryOperator<byte[]> alter(String from, String to) {
    return body -> new String(body, StandardCharsets.UTF_8).replace(from, to).getBytes(StandardCharsets.UTF_8);
  }

  private static UnaryOperator<byte[]> unsigned() {
    return body -> {
      String s = new String(body, StandardCharsets.UTF_8);
      return (s.substring(0, s.lastIndexOf(",\"signature\":\"")) + ",\"signature\":null}").getBytes(StandardCharsets.UTF_8);
    };
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> sub(Map<String, Object> a, String name) {
    return (Map<String, Object>) a.get(name);
  }
}
