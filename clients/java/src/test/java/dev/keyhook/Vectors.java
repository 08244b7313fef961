package dev.keyhook;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/** The shared test vectors (clients/test-vectors/vectors.json), read once. */
final class Vectors {
  private Vectors() {}

  private static Map<?, ?> all;

  static Path path() {
    return Path.of(System.getProperty("keyhook.vectors", "../test-vectors/vectors.json"));
  }

  static synchronized Map<?, ?> all() {
    if (all == null) {
      try {
        all = (Map<?, ?>) Json.parse(Files.readAllBytes(path()));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return all;
  }

  @SuppressWarnings("unchecked")
  static List<Map<String, Object>> section(String name) {
    return (List<Map<String, Object>>) all().get(name);
  }

  static String keys() {
    return Json.write(all().get("keys"));
  }

  static long seconds(String name) {
    return ((java.math.BigDecimal) all().get(name)).longValueExact();
  }

  static Instant instant(Object s) {
    return Instant.parse((String) s);
  }

  /** An outcome as the vectors name it. */
  static String result(Check.Action action) {
    try {
      action.run();
      return "ok";
    } catch (VerificationException e) {
      return e.reason();
    } catch (RollbackException e) {
      return "clock_rollback";
    } catch (Exception e) {
      return "unexpected: " + e;
    }
  }
}
