package dev.keyhook;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;

/**
 * make bench: microseconds of CPU (this thread) per offline check on the shared vectors, after
 * a warm-up that lets the JIT compile the paths (what a long-running app sees; the first checks
 * after start are slower).
 */
public final class Bench {
  interface Check {
    void run();
  }

  private static double cpuMicrosPerCheck(int n, Check check) {
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    for (int i = 0; i < 2_000; i++) {
      check.run();
    }
    long start = mx.getCurrentThreadCpuTime();
    for (int i = 0; i < n; i++) {
      check.run();
    }
    return (mx.getCurrentThreadCpuTime() - start) / 1_000.0 / n;
  }

  public static void main(String[] args) {
    KeySet keys = KeySet.parse(Vectors.keys());
    Map<String, Object> c = Vectors.section("answers").get(0);
    Map<?, ?> e = (Map<?, ?>) c.get("expect");
    byte[] body = ((String) c.get("body")).getBytes(StandardCharsets.UTF_8);
    Answer.Expected expected =
        new Answer.Expected((String) e.get("productId"), (String) e.get("deviceId"), (String) e.get("nonce"), (String) e.get("licenseKey"));
    int n = 2_000;
    double answer = cpuMicrosPerCheck(n, () -> Answer.verify(keys, body, expected));
    double[] files = new double[2];
    for (int i = 0; i < 2; i++) {
      Map<String, Object> f = Vectors.section("files").get(i);
      String text = (String) f.get("file");
      String key = (String) f.get("licenseKey");
      Instant now = Vectors.instant(f.get("now"));
      files[i] = cpuMicrosPerCheck(n, () ->
          LicenseFile.verify(keys, text, key).check((String) f.get("productId"), (String) f.get("deviceId"), now, Duration.ofMinutes(5)));
    }
    System.out.printf(
        "java: signed answer %.1f µs CPU/check, license file %.1f µs CPU/check, encrypted license file %.1f µs CPU/check (%d each, after 2000 to warm up; Java %s)%n",
        answer, files[0], files[1], n, System.getProperty("java.version"));
  }
}
