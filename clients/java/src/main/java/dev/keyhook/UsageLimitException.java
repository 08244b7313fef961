package dev.keyhook;

/**
 * The quantity does not fit what remains of the meter this period: Keyhook's signed answer
 * {@code USAGE_LIMIT_REACHED}, with its numbers; nothing was recorded (a smaller quantity may
 * still fit). Kind {@code usage_limit}.
 */
public final class UsageLimitException extends KeyhookException {
  private static final long serialVersionUID = 1L;

  /** The signed answer's code. */
  public static final String CODE = "USAGE_LIMIT_REACHED";

  private final String meter;
  private final long used;
  private final long limit;
  private final long remaining;

  UsageLimitException(String meter, long used, long limit, long remaining) {
    super("the " + meter + " limit is reached (" + used + " of " + limit + " used, " + remaining + " left)", null);
    this.meter = meter;
    this.used = used;
    this.limit = limit;
    this.remaining = remaining;
  }

  /** The meter. */
  public String meter() {
    return meter;
  }

  /** Recorded this period (this record not counted). */
  public long used() {
    return used;
  }

  /** The meter's limit per period. */
  public long limit() {
    return limit;
  }

  /** What remains this period. */
  public long remaining() {
    return remaining;
  }

  /** {@value #CODE}, the signed answer's code. */
  public String code() {
    return CODE;
  }

  @Override
  public String kind() {
    return "usage_limit";
  }
}
