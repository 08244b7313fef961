package dev.keyhook;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.Comparator;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

/** The client against a fake Keyhook: online calls, their verification, and the offline fallback. */
public final class ClientTest {
  private static final String KEY = FakeKeyhook.KEY;
  private static final Instant START = Instant.parse("2026-11-24T10:00:00Z");

  /** A clock the test moves. */
  static final class MovableClock extends Clock {
    volatile Instant now;

    MovableClock(Instant now) {
      this.now = now;
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  /** A fake Keyhook and clients that share its clock and one cache directory. */
  static final class Bed implements AutoCloseable {
    final FakeKeyhook kh;
    final Path dir;
    final MovableClock clock = new MovableClock(START);
    String keys;

    Bed() throws Exception {
      kh = new FakeKeyhook(START);
      dir = Files.createTempDirectory("keyhook-java-client");
      keys = kh.keySet(null);
    }

    // One HTTP client for the bed's clients (each of the JDK's starts a selector thread).
    final java.net.http.HttpClient http =
        java.net.http.HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    Client client(UnaryOperator<Config> change) {
      return new Client(change.apply(Config.of(kh.url(), "42", keys).cacheDir(dir).clock(clock).httpClient(http)));
    }

    Client client() {
      return client(c -> c);
    }

    /** A client whose Keyhook is unreachable (nothing listens on port 9). */
    Client offline() {
      return client(c -> c.baseUrl("http://127.0.0.1:9"));
    }

    /** Moves the app's clock; Keyhook's follows when asked. */
    void setClock(Instant at, boolean keyhookToo) {
      clock.now = at;
      if (keyhookToo) {
        synchronized (kh) {
          kh.now = at;
        }
      }
    }

    Path mark(String key, String device) {
      return dir.resolve("mark-" + Cache.slot("42", key, device) + ".json");
    }

    void set(Runnable change) {
      synchronized (kh) {
        change.run();
      }
    }

    @Override
    public void close() throws java.io.IOException {
      kh.close();
      try (Stream<Path> walk = Files.walk(dir)) {
        walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  private static String dev(String name) {
    return Devices.deviceIdFrom("42", name);
  }

  @Test
  void validateActivateDeactivateAgainstKeyhook() throws Exception {
    try (Bed b = new Bed()) {
      Client c = b.client();
      String a = dev("dev-A");
      Status s = c.validate(KEY, a);
      Check.isTrue(!s.valid() && s.code().equals("NOT_ACTIVATED") && !s.offline(), "before activation: " + s);
      for (String d : new String[] {a, dev("dev-B")}) {
        s = c.activate(KEY, d, "laptop");
        Check.isTrue(s.valid() && s.code().equals("VALID"), "activate: " + s);
      }
      s = c.activate(KEY, dev("dev-C"), null);
      Check.equal(s.code(), "DEVICE_LIMIT_REACHED", "third device");
      Check.isTrue(!s.valid(), "third device refused");
      s = c.deactivate(KEY, dev("dev-B"));
      Check.isTrue(!s.valid() && s.code().equals("NOT_ACTIVATED"), "deactivate: " + s);
      Check.isTrue(c.activate(KEY, dev("dev-C"), null).valid(), "a freed seat");
      s = c.validate(KEY, a);
      Check.isTrue(s.valid() && s.source() == Source.ONLINE && s.answer().license().activeDevices() == 2, "validate: " + s);
      // Without a key: the device's trial, verified as a trial of this product and device.
      s = c.validate(null, dev("dev-D"));
      Check.isTrue(s.valid() && s.code().equals("TRIAL") && s.answer().trial() != null, "trial: " + s);
      s = c.validate("ABCDE-FGHJK-MNPQR-STVWX-YZ012", a);
      Check.isTrue(!s.valid() && s.code().equals("NOT_FOUND"), "unknown key: " + s);
    }
  }

  @Test
  void eachAnswerIsBoundToItsRequest(Cases cases) {
    Object[][] table = {
      {"nonce mismatch (a replayed answer)", edit(a -> a.put("nonce", "an-old-nonce")), null, VerificationException.WRONG_NONCE},
      {"no nonce echoed", edit(a -> a.remove("nonce")), null, VerificationException.WRONG_NONCE},
      {"another product", edit(a -> a.put("productId", "43")), null, VerificationException.WRONG_PRODUCT},
      {"another product's license", edit(a -> license(a).put("productId", "43")), null, VerificationException.WRONG_PRODUCT},
      {"another device", edit(a -> a.put("deviceHash", Devices.deviceHash("42", "someone-else"))), null, VerificationException.WRONG_DEVICE},
      {"no device", edit(a -> a.remove("deviceHash")), null, VerificationException.WRONG_DEVICE},
      {"another license", edit(a -> { a.put("licenseId", "lic_other"); license(a).put("id", "lic_other"); }), null, VerificationException.WRONG_LICENSE},
      {"stale", edit(a -> a.put("signedAt", "2026-11-24T09:54:59.000Z")), null, VerificationException.STALE},
      {"from the future", edit(a -> a.put("signedAt", "2026-11-24T10:05:01.000Z")), null, VerificationException.NOT_YET_VALID},
      {"old format", edit(a -> a.put("format", "keyhook-answer-v1")), null, VerificationException.UNSUPPORTED_FORMAT},
      {"a member of the wrong type", edit(a -> a.put("valid", "true")), null, VerificationException.MALFORMED},
      {"tampered body", null, alter(s -> s.replace("\"maxDevices\":2", "\"maxDevices\":9")), VerificationException.BAD_SIGNATURE},
      {"signature cut", null, alter(s -> s.substring(0, s.length() - 10)), VerificationException.BAD_SIGNATURE},
      {"no signature", null, alter(s -> s.substring(0, s.lastIndexOf(",\"signature\":\"")) + "}"), VerificationException.MALFORMED},
      {"unsigned", null, alter(s -> s.substring(0, s.lastIndexOf(",\"signature\":\"")) + ",\"signature\":null}"), VerificationException.UNSIGNED},
    };
    for (Object[] row : table) {
      cases.run((String) row[0], () -> {
        try (Bed b = new Bed()) {
          Client c = b.client();
          c.activate(KEY, dev("dev-A"), null);
          @SuppressWarnings("unchecked")
          java.util.function.Consumer<Map<String, Object>> e = (java.util.function.Consumer<Map<String, Object>>) row[1];
          @SuppressWarnings("unchecked")
          UnaryOperator<byte[]> al = (UnaryOperator<byte[]>) row[2];
          b.set(() -> {
            b.kh.edit = e;
            b.kh.alter = al;
          });
          Check.reason((String) row[3], () -> c.validate(KEY, dev("dev-A")));
          Check.kind("verification", () -> c.validate(KEY, dev("dev-A")));
        }
      });
    }
  }

  private static java.util.function.Consumer<Map<String, Object>> edit(java.util.function.Consumer<Map<String, Object>> e) {
    return e;
  }

  private static UnaryOperator<byte[]> alter(UnaryOperator<String> f) {
    return body -> f.apply(new String(body, StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8);
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> license(Map<String, Object> a) {
    return (Map<String, Object>) a.get("license");
  }

  @Test
  void aLiveBuildRefusesATestLicense() throws Exception {
    try (Bed b = new Bed()) {
      b.set(() -> b.kh.livemode = false);
      String d = dev("dev-A");
      Check.reason(VerificationException.TEST_LICENSE, () -> b.client().activate(KEY, d, null));
      Check.kind("test_license", () -> b.client().validate(KEY, d));
      Status s = b.client(c -> c.environment(Environment.TEST)).validate(KEY, d);
      Check.isTrue(s.valid() && !s.livemode(), "a test build: " + s);
      s = b.client(c -> c.acceptTestLicenses(true)).validate(KEY, d);
      Check.isTrue(s.valid(), "acceptTestLicenses: " + s);
      // Offline too: the kept test license's file is refused by a live build.
      b.client(c -> c.environment(Environment.TEST)).checkoutFile(KEY, d, null, false);
      Check.kind("test_license", () -> b.offline().validate(KEY, d));
    }
  }

  @Test
  void aRetiredKeyIsTrustedOnlyOnWhatItSignedBeforeItsRetirement() throws Exception {
    try (Bed b = new Bed()) {
      b.keys = b.kh.keySet("2026-11-24T09:50:00.000Z"); // retired 10 minutes ago: within the tolerance
      b.client().activate(KEY, dev("dev-A"), null);
      b.keys = b.kh.keySet("2026-11-24T09:49:59.000Z");
      Check.reason(VerificationException.RETIRED_KEY, () -> b.client().validate(KEY, dev("dev-A")));
      Check.kind("retired_key", () -> b.client().validate(KEY, dev("dev-A")));
    }
  }

  @Test
  void networkFailureFallsBackToTheLastAnswerWithinTheGracePeriod() throws Exception {
    try (Bed b = new Bed()) {
      String d = dev("dev-A");
      Check.kind("network", () -> b.offline().validate(KEY, d));
      b.client().activate(KEY, d, null);
      b.setClock(START.plus(Duration.ofDays(6)), false);
      Status s = b.offline().validate(KEY, d);
      Check.isTrue(s.valid() && s.source() == Source.CACHED_ANSWER && s.offline(), "within the grace period: " + s);
      // A 5xx is Keyhook unreachable too.
      b.set(() -> b.kh.down = 503);
      Check.equal(b.client().validate(KEY, d).source(), Source.CACHED_ANSWER, "503");
      // A 4xx is an answer: no fallback.
      b.set(() -> b.kh.down = 429);
      ServerException e = Check.thrown(ServerException.class, () -> b.client().validate(KEY, d));
      Check.isTrue(e.status() == 429 && e.code().equals("unavailable") && e.kind().equals("server"), "429: " + e);
      // Past the grace period (7 days by default).
      b.setClock(START.plus(Duration.ofDays(7)).plusSeconds(1), false);
      GraceExpiredException g = Check.thrown(GraceExpiredException.class, () -> b.offline().validate(KEY, d));
      Check.equal(g.since(), "2026-11-24T10:00:00.000Z", "since");
      Check.equal(g.kind(), "grace_expired", "kind");
      // A longer grace is the merchant's choice.
      Check.isTrue(b.client(c -> c.baseUrl("http://127.0.0.1:9").grace(Duration.ofDays(14))).validate(KEY, d).valid(), "14 days");
    }
  }

  @Test
  void aKeptLicenseFileCarriesTheAppOfflineAndAClockSetBackIsRefused() throws Exception {
    try (Bed b = new Bed()) {
      String d = dev("dev-A");
      Client.CheckedOut out = b.client().checkoutFile(KEY, d, Duration.ofDays(2), true);
      Check.isTrue(out.text().startsWith(LicenseFile.BEGIN) && out.payload().has("pro") && !out.payload().has("enterprise"), "checkout");
      b.setClock(START.plus(Duration.ofDays(1)), false);
      Status s = b.offline().validate(KEY, d);
      Check.isTrue(s.valid() && s.source() == Source.LICENSE_FILE && s.has("pro"), "offline from the file: " + s);
      // The clock set back two days: behind the mark.
      b.setClock(START.minus(Duration.ofDays(1)), false);
      RollbackException r = Check.rollback(RollbackException.Reason.BEHIND, () -> b.offline().validate(KEY, d));
      Check.equal(r.highWater(), "2026-11-25T10:00:00.000Z", "high water");
      // ... with the mark deleted, or edited back, or another license's.
      String mark = Files.readString(b.mark(KEY, d));
      Files.delete(b.mark(KEY, d));
      Check.rollback(RollbackException.Reason.MARK_MISSING, () -> b.offline().validate(KEY, d));
      Files.writeString(b.mark(KEY, d), mark.replace("2026-11-25", "2026-11-23"));
      Check.rollback(RollbackException.Reason.MARK_ALTERED, () -> b.offline().validate(KEY, d));
      Files.writeString(b.mark(KEY, d), ClockMark.seal(new ClockMark.Slot("42", "ABCDE-FGHJK-MNPQR-STVWX-YZ012", d), START));
      Check.rollback(RollbackException.Reason.MARK_ALTERED, () -> b.offline().validate(KEY, d));
      // Nothing offline repairs it; a fresh online answer proves the clock and restarts the mark.
      b.setClock(START.plus(Duration.ofDays(1)), true);
      Check.isTrue(b.client().validate(KEY, d).valid(), "online");
      Check.equal(b.offline().validate(KEY, d).source(), Source.LICENSE_FILE, "offline after the repair");
      // The file expires on its own (two days after its checkout); then the last answer.
      b.setClock(START.plus(Duration.ofDays(2)), false);
      Check.equal(b.offline().checkOffline(KEY, d).source(), Source.CACHED_ANSWER, "after the file");
      Files.delete(b.dir.resolve("answer-" + Cache.slot("42", KEY, d) + ".json"));
      Check.reason(VerificationException.EXPIRED, () -> b.offline().checkOffline(KEY, d));
    }
  }

  @Test
  void anEncryptedFileNeedsItsKey() throws Exception {
    try (Bed b = new Bed()) {
      String text = b.client().checkoutFile(KEY, dev("dev-A"), null, true).text();
      KeySet keys = KeySet.parse(b.keys);
      Check.reason(VerificationException.KEY_REQUIRED, () -> LicenseFile.verify(keys, text, null));
      Check.reason(VerificationException.DECRYPT, () -> LicenseFile.verify(keys, text, "ABCDE-FGHJK-MNPQR-STVWX-YZ012"));
      Check.equal(LicenseFile.verify(keys, text, "7k2m9 q4x1c 8v3b6 n0d5f hjkmp").productId(), "42", "lenient key input");
    }
  }

  @Test
  void revokedLicensesLoseTheirOfflineProofs() throws Exception {
    try (Bed b = new Bed()) {
      String d = dev("dev-A");
      b.client().checkoutFile(KEY, d, null, false);
      b.client().validate(KEY, d);
      b.set(() -> b.kh.status = "revoked");
      Status s = b.client().validate(KEY, d);
      Check.isTrue(!s.valid() && s.code().equals("REVOKED"), "revoked: " + s);
      // The kept file and answer are forgotten: offline, nothing vouches for the license.
      Check.kind("network", () -> b.offline().validate(KEY, d));
      try (Stream<Path> files = Files.list(b.dir)) {
        files.forEach(p -> Check.isTrue(p.getFileName().toString().startsWith("mark-"), "kept after the revocation: " + p));
      }
      RefusedException r = Check.thrown(RefusedException.class, () -> b.client().checkoutFile(KEY, d, null, false));
      Check.isTrue(r.code().equals("REVOKED") && r.kind().equals("refused"), "checkout of a revoked license: " + r);
    }
  }

  @Test
  void deactivationForgetsTheProofsAndAFullLicenseRefusesAFile() throws Exception {
    try (Bed b = new Bed()) {
      b.client().checkoutFile(KEY, dev("dev-A"), null, false);
      b.client().checkoutFile(KEY, dev("dev-B"), null, false);
      RefusedException r = Check.thrown(RefusedException.class, () -> b.client().checkoutFile(KEY, dev("dev-C"), null, false));
      Check.equal(r.code(), "DEVICE_LIMIT_REACHED", "third file");
      b.client().deactivate(KEY, dev("dev-A"));
      Check.kind("network", () -> b.offline().validate(KEY, dev("dev-A")));
      Check.isTrue(b.offline().validate(KEY, dev("dev-B")).valid(), "the other device keeps its file");
    }
  }

  @Test
  void anAnswerVerifiedOutsideTheClientRestartsTheMark() throws Exception {
    try (Bed b = new Bed()) {
      String d = dev("dev-A");
      Client c = b.client();
      c.activate(KEY, d, null);
      String nonce = Client.newNonce();
      Check.isTrue(nonce.length() == 32 && !nonce.equals(Client.newNonce()), "nonce " + nonce);
      // An app that sends its own requests: the body as received, the nonce it sent.
      java.net.http.HttpResponse<byte[]> res = java.net.http.HttpClient.newHttpClient().send(
          java.net.http.HttpRequest.newBuilder(java.net.URI.create(b.kh.url() + "/api/licenses/validate"))
              .POST(java.net.http.HttpRequest.BodyPublishers.ofString(Json.write(Map.of(
                  "productId", "42", "licenseKey", KEY, "deviceId", d, "nonce", nonce))))
              .build(),
          java.net.http.HttpResponse.BodyHandlers.ofByteArray());
      Files.writeString(b.mark(KEY, d), "edited");
      c.verifyAnswer(res.body(), KEY, d, nonce);
      Check.equal(Files.readString(b.mark(KEY, d)), ClockMark.seal(new ClockMark.Slot("42", KEY, d), START), "mark");
      Check.reason(VerificationException.WRONG_NONCE, () -> c.verifyAnswer(res.body(), KEY, d, Client.newNonce()));
    }
  }
}
