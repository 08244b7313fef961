package dev.keyhook.examples;

import dev.keyhook.Answer;
import dev.keyhook.Client;
import dev.keyhook.ConcurrencyLimitException;
import dev.keyhook.Config;
import dev.keyhook.Devices;
import dev.keyhook.Environment;
import dev.keyhook.Json;
import dev.keyhook.KeyhookException;
import dev.keyhook.Lease;
import dev.keyhook.RefusedException;
import dev.keyhook.Status;
import dev.keyhook.UsageLimitException;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.IntFunction;
import java.util.function.Supplier;

/**
 * The cross-language end-to-end script (tests/clients_e2e.rs runs it through clients/java/e2e.sh):
 * one phase against a running Keyhook (online, offline, rollback; or seats: floating seats and a
 * usage meter), one JSON line per step on stdout: {@code {"step", "ok", "code", "offline"}}.
 *
 * <p>Environment: KEYHOOK_URL, KEYHOOK_TENANT_ID, KEYHOOK_PRODUCT_ID, KEYHOOK_LICENSE_KEY,
 * KEYHOOK_CACHE_DIR, KEYHOOK_ENVIRONMENT (test or live), KEYHOOK_CLOCK_OFFSET_SECONDS.
 */
public final class E2e {
  private final String phase;
  private int n;

  private E2e(String phase) {
    this.phase = phase;
  }

  private static String env(String name) {
    String v = System.getenv(name);
    if (v == null || v.isEmpty()) {
      System.err.println("e2e: " + name + " is not set");
      System.exit(2);
    }
    return v;
  }

  /** A step's outcome: the signed answer's code when there is one, else the error's kind. */
  private void step(String action, String device, Supplier<Status> run) {
    String name = phase + "." + (++n) + "." + action + " " + device;
    Map<String, Object> line = new LinkedHashMap<>();
    line.put("step", name);
    try {
      Status s = run.get();
      line.put("ok", s.valid());
      line.put("code", s.code());
      line.put("offline", s.offline());
    } catch (RefusedException e) {
      line.put("ok", false);
      line.put("code", e.code());
      line.put("offline", false);
    } catch (KeyhookException e) {
      String kind = e.kind();
      line.put("ok", false);
      line.put("code", kind);
      // Decided without an answer from Keyhook.
      line.put("offline", java.util.Set.of("network", "rollback", "grace_expired", "no_offline_proof").contains(kind));
      System.err.println("e2e: " + name + ": " + e.getMessage());
    }
    System.out.println(Json.write(line));
  }

  /** A step of the seats phase: its line's ok and code when no error is thrown. */
  private record Seat(boolean ok, String code) {}

  /**
   * A step of the seats phase: its outcome, else the limit's numbers ({@code
   * CONCURRENCY_LIMIT_REACHED 1/1}, {@code USAGE_LIMIT_REACHED 2/2}), the signed code of any other
   * refusal, or the error's kind. {@code run} is given the step's number (1-based).
   */
  private void seat(String action, String device, IntFunction<Seat> run) {
    String name = phase + "." + (++n) + "." + action + " " + device;
    Map<String, Object> line = new LinkedHashMap<>();
    line.put("step", name);
    try {
      Seat s = run.apply(n);
      line.put("ok", s.ok());
      line.put("code", s.code());
    } catch (ConcurrencyLimitException e) {
      line.put("ok", false);
      line.put("code", "CONCURRENCY_LIMIT_REACHED " + e.inUse() + "/" + e.maxConcurrent());
    } catch (UsageLimitException e) {
      line.put("ok", false);
      line.put("code", "USAGE_LIMIT_REACHED " + e.used() + "/" + e.limit());
    } catch (RefusedException e) {
      line.put("ok", false);
      line.put("code", e.code());
    } catch (KeyhookException e) {
      line.put("ok", false);
      line.put("code", e.kind());
      System.err.println("e2e: " + name + ": " + e.getMessage());
    }
    line.put("offline", false);
    System.out.println(Json.write(line));
  }

  /** The tenant's signing keys, fetched online once and kept in the cache directory. */
  private static String keySet(String url, String tenant, Path dir) throws IOException, InterruptedException {
    Path kept = dir.resolve("signing-keys.json");
    if (Files.exists(kept)) {
      return Files.readString(kept);
    }
    HttpResponse<String> res =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(URI.create(url + "/api/tenants/" + tenant + "/signing-keys")).build(),
                HttpResponse.BodyHandlers.ofString());
    if (res.statusCode() != 200) {
      throw new IOException("signing keys: " + res.statusCode());
    }
    Files.writeString(kept, res.body());
    return res.body();
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: E2e online|offline|rollback|seats");
      System.exit(2);
    }
    String phase = args[0];
    String url = env("KEYHOOK_URL");
    String product = env("KEYHOOK_PRODUCT_ID");
    String key = env("KEYHOOK_LICENSE_KEY");
    Path dir = Path.of(env("KEYHOOK_CACHE_DIR"));
    Files.createDirectories(dir);
    String offset = System.getenv("KEYHOOK_CLOCK_OFFSET_SECONDS");
    Clock clock = Clock.systemUTC();
    if (offset != null && !offset.isEmpty()) {
      clock = Clock.offset(clock, Duration.ofSeconds(Long.parseLong(offset)));
    }
    Client client =
        new Client(
            Config.of(url, product, keySet(url, env("KEYHOOK_TENANT_ID"), dir))
                .cacheDir(dir)
                .environment(Environment.of(env("KEYHOOK_ENVIRONMENT")))
                .timeout(Duration.ofSeconds(5))
                .clock(clock));
    E2e e2e = new E2e(phase);
    switch (phase) {
      case "online":
        e2e.step("validate", "dev-A", () -> client.validate(key, Devices.deviceIdFrom(product, "dev-A")));
        for (String d : new String[] {"dev-A", "dev-B", "dev-C"}) {
          e2e.step("activate", d, () -> client.activate(key, Devices.deviceIdFrom(product, d), d));
        }
        e2e.step("deactivate", "dev-B", () -> client.deactivate(key, Devices.deviceIdFrom(product, "dev-B")));
        e2e.step("activate", "dev-C", () -> client.activate(key, Devices.deviceIdFrom(product, "dev-C"), "dev-C"));
        e2e.step("validate", "dev-A", () -> client.validate(key, Devices.deviceIdFrom(product, "dev-A")));
        e2e.step("checkout", "dev-A", () -> {
          client.checkoutFile(key, Devices.deviceIdFrom(product, "dev-A"), null, false);
          return new Status(true, "VALID", "checked out", true, dev.keyhook.Source.ONLINE, null, null);
        });
        break;
      case "offline":
      case "rollback":
        e2e.step("validate", "dev-A", () -> client.validate(key, Devices.deviceIdFrom(product, "dev-A")));
        break;
      case "seats":
        Map<String, Lease> leases = new HashMap<>();
        String[][] steps = {
          {"lease", "dev-A"}, {"lease", "dev-B"}, {"release", "dev-A"}, {"lease", "dev-B"},
          {"usage", "dev-B"}, {"usage", "dev-B"}, {"usage", "dev-B"}, {"release", "dev-B"},
        };
        for (String[] s : steps) {
          String d = s[1];
          String device = Devices.deviceIdFrom(product, d);
          switch (s[0]) {
            case "lease":
              e2e.seat("lease", d, step -> {
                Lease l = client.lease(key, device);
                leases.put(d, l);
                return new Seat(true, l.answer().code());
              });
              break;
            case "release":
              e2e.seat("release", d, step -> {
                // A lease never granted is not live either.
                Lease l = leases.get(d);
                return l != null && l.release() ? new Seat(true, "RELEASED") : new Seat(false, "NOT_LIVE");
              });
              break;
            default:
              e2e.seat("usage", d, step -> {
                Answer.Usage u = client.recordUsage(key, "exports", 1, "e2e-seats-" + step, device);
                return new Seat(true, "VALID " + u.used() + "/" + u.limit());
              });
          }
        }
        break;
      default:
        System.err.println("e2e: unknown phase " + phase);
        System.exit(2);
    }
  }
}
