package dev.keyhook;

/**
 * The build the app is. {@link #LIVE} (the default) refuses licenses from Stripe test-mode
 * payments: online Keyhook answers {@code TEST_LICENSE}, offline a test license's file or kept
 * answer is refused ({@code test_license}). {@link #TEST} accepts them, for your own test builds.
 * Live licenses are good in both.
 */
public enum Environment {
  LIVE("live"),
  TEST("test");

  private final String wire;

  Environment(String wire) {
    this.wire = wire;
  }

  /** As sent to Keyhook: {@code live} or {@code test}. */
  public String wire() {
    return wire;
  }

  /** From {@code live} or {@code test}. */
  public static Environment of(String wire) {
    for (Environment e : values()) {
      if (e.wire.equals(wire)) {
        return e;
      }
    }
    throw new ConfigException("configuration: environment is live or test, not " + wire, null);
  }
}
