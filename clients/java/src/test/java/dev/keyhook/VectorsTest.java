package dev.keyhook;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;

/**
 * The shared test vectors, made by the server's own signing code: every case gives its result
 * through the client, and leaves the clock mark they say.
 */
public final class VectorsTest {
  private static Client client(Map<String, Object> c, String product, Path dir) {
    return new Client(
        Config.of("http://127.0.0.1:9", product, Vectors.keys())
            .environment(Environment.of((String) c.get("environment")))
            .maxAnswerAge(Duration.ofSeconds(Vectors.seconds("maxAnswerAgeSeconds")))
            .clockSkew(Duration.ofSeconds(Vectors.seconds("clockSkewSeconds")))
            .clock(Clock.fixed(Vectors.instant(c.get("now")), ZoneOffset.UTC))
            .cacheDir(dir));
  }

  @Test
  void everyAnswerVectorGivesItsResult(Cases cases) {
    List<Map<String, Object>> answers = Vectors.section("answers");
    Check.isTrue(answers.size() >= 22, "answer vectors: " + answers.size());
    for (Map<String, Object> c : answers) {
      cases.run("answer " + c.get("name"), () -> {
        Map<?, ?> e = (Map<?, ?>) c.get("expect");
        Client client = client(c, (String) e.get("productId"), null);
        String got = Vectors.result(() -> client.verifyAnswer(
            ((String) c.get("body")).getBytes(StandardCharsets.UTF_8),
            (String) e.get("licenseKey"), (String) e.get("deviceId"), (String) e.get("nonce")));
        Check.equal(got, c.get("result"), "result");
      });
    }
  }

  /** The floating-seat and usage members of the server's own answers, read as they are signed. */
  @Test
  void leaseAndUsageVectorsCarryTheirSignedMembers(Cases cases) {
    Answer.Usage exports = new Answer.Usage("exports", "month", 998, 1000, 2, "2026-12-01T00:00:00.000Z");
    for (String name : new String[] {"lease", "concurrency-limit", "usage", "usage-limit", "valid-with-usage"}) {
      cases.run(name, () -> {
        Map<String, Object> c =
            Vectors.section("answers").stream().filter(v -> v.get("name").equals(name)).findFirst().orElseThrow();
        Map<?, ?> e = (Map<?, ?>) c.get("expect");
        Answer a = client(c, (String) e.get("productId"), null).verifyAnswer(
            ((String) c.get("body")).getBytes(StandardCharsets.UTF_8),
            (String) e.get("licenseKey"), (String) e.get("deviceId"), (String) e.get("nonce"));
        switch (name) {
          case "lease":
            Check.isTrue(a.valid(), "valid");
            Check.equal(a.lease(), new Answer.LeaseInfo(
                "lse_0123456789abcdefghjkmnpqrs_7k2m9q4x1c8v3b6n0d5f", "2026-11-24T10:15:00.000Z", 300, null), "lease");
            Check.isTrue(a.seats() == null && a.usage() == null && a.meters() == null, "nothing else");
            break;
          case "concurrency-limit":
            Check.isTrue(!a.valid() && a.code().equals(ConcurrencyLimitException.CODE), "refused: " + a.code());
            Check.equal(a.seats(), new Answer.Seats(5, 5), "seats");
            Check.equal(a.lease(), null, "no lease");
            break;
          case "usage":
            Check.isTrue(a.valid(), "valid");
            Check.equal(a.usage(), exports, "usage");
            break;
          case "usage-limit":
            Check.isTrue(!a.valid() && a.code().equals(UsageLimitException.CODE), "refused: " + a.code());
            Check.equal(a.usage(), exports, "usage");
            break;
          default:
            Check.equal(a.meters(), List.of(exports, new Answer.Usage("projects", "lifetime", 3, 1_000_000_000_000L, 999_999_999_997L, null)), "meters");
            Check.equal(a.usage(), null, "no usage");
        }
      });
    }
  }

  @Test
  void everyFileVectorGivesItsResultAndLeavesItsMark(Cases cases) throws Exception {
    List<Map<String, Object>> files = Vectors.section("files");
    Check.isTrue(files.size() >= 24, "file vectors: " + files.size());
    for (Map<String, Object> c : files) {
      cases.run("file " + c.get("name"), () -> {
        Path dir = Files.createTempDirectory("keyhook-java-vectors");
        try {
          String product = (String) c.get("productId");
          String key = (String) c.get("licenseKey");
          String device = (String) c.get("deviceId");
          String text = (String) c.get("file");
          String mark = (String) c.get("mark");
          String slot = Cache.slot(product, key, device);
          Path markPath = dir.resolve("mark-" + slot + ".json");
          // The slot as a client leaves it: its clock mark, and a proof it keeps.
          if (mark != null) {
            Files.writeString(markPath, mark);
          }
          if ((Boolean) c.get("kept")) {
            Files.writeString(dir.resolve("file-" + slot + ".lic"), text);
          }
          Client client = client(c, product, dir);
          String got = Vectors.result(() -> {
            FilePayload p = client.verifyFile(text, key, device);
            Check.equal(p.entitlements(), List.of("pro", "export"), "entitlements");
          });
          Check.equal(got, c.get("result"), "result");
          String want = c.get("markAfter") != null ? (String) c.get("markAfter") : mark;
          String stored = Files.exists(markPath) ? Files.readString(markPath) : null;
          Check.equal(stored, want, "the mark after the check");
          // The same check through the function underneath.
          String after = Vectors.result(() -> Check.equal(
              ClockMark.check(new ClockMark.Slot(product, key, device), mark, (Boolean) c.get("kept"),
                  Vectors.instant(c.get("now")), Duration.ofSeconds(Vectors.seconds("clockSkewSeconds"))),
              c.get("markAfter"), "ClockMark.check"));
          Check.equal(after, c.get("markAfter") == null ? "clock_rollback" : "ok", "ClockMark.check");
        } finally {
          try (var walk = Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
          }
        }
      });
    }
  }

  @Test
  void everyMarkVectorSealsAndOpens(Cases cases) {
    List<Map<String, Object>> marks = Vectors.section("marks");
    Check.isTrue(marks.size() >= 4, "mark vectors: " + marks.size());
    for (Map<String, Object> c : marks) {
      cases.run("mark for key " + c.get("licenseKey"), () -> {
        ClockMark.Slot slot =
            new ClockMark.Slot((String) c.get("productId"), (String) c.get("licenseKey"), (String) c.get("deviceId"));
        Instant at = Vectors.instant(c.get("highWater"));
        Check.equal(ClockMark.seal(slot, at), c.get("mark"), "sealed");
        Check.equal(ClockMark.open(slot, (String) c.get("mark")), at, "opened");
      });
    }
  }

  @Test
  void licenseIdsMatchTheServer(Cases cases) {
    Map<String, Object> c = Vectors.section("answers").get(0);
    Map<?, ?> body = (Map<?, ?>) Json.parse((String) c.get("body"));
    Check.equal(LicenseKeys.licenseId((String) ((Map<?, ?>) c.get("expect")).get("licenseKey")), body.get("licenseId"), "license id");
    // The license-id and device-id vectors, where the vectors have them.
    List<Map<String, Object>> ids = Vectors.section("licenseIds");
    if (ids != null) {
      for (Map<String, Object> v : ids) {
        cases.run("license id of " + Json.write(v.get("key")), () ->
            Check.equal(LicenseKeys.licenseId((String) v.get("key")), v.get("licenseId"), "license id"));
      }
    }
    List<Map<String, Object>> devices = Vectors.section("deviceIds");
    if (devices != null) {
      for (Map<String, Object> v : devices) {
        cases.run("device id of " + v.get("machineId"), () -> Check.equal(
            Devices.deviceIdFrom((String) v.get("productId"), (String) v.get("machineId")), v.get("deviceId"), "device id"));
      }
    }
  }
}
