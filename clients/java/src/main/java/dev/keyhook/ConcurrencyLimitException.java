package dev.keyhook;

/**
 * Every floating seat of the license is in use: Keyhook's signed answer {@code
 * CONCURRENCY_LIMIT_REACHED}, with its numbers. Lease again later, or tell the user how many
 * seats are taken. Kind {@code concurrency_limit}.
 */
public final class ConcurrencyLimitException extends KeyhookException {
  private static final long serialVersionUID = 1L;

  /** The signed answer's code. */
  public static final String CODE = "CONCURRENCY_LIMIT_REACHED";

  private final long inUse;
  private final long maxConcurrent;

  ConcurrencyLimitException(long inUse, long maxConcurrent) {
    super("every seat is in use (" + inUse + " of " + maxConcurrent + ")", null);
    this.inUse = inUse;
    this.maxConcurrent = maxConcurrent;
  }

  /** Seats held by live leases. */
  public long inUse() {
    return inUse;
  }

  /** The license's floating seats. */
  public long maxConcurrent() {
    return maxConcurrent;
  }

  /** {@value #CODE}, the signed answer's code. */
  public String code() {
    return CODE;
  }

  @Override
  public String kind() {
    return "concurrency_limit";
  }
}
