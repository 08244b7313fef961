package dev.keyhook;

/**
 * The clock cannot be trusted offline: it is behind the clock mark (the highest local time
 * observed) beyond the tolerance, or the mark is missing while a proof is kept, or it does not
 * verify. Kept proofs are refused until an online check succeeds. Kind {@code rollback}.
 */
public final class RollbackException extends KeyhookException {
  private static final long serialVersionUID = 1L;

  /** Why the clock is not trusted. */
  public enum Reason {
    /** The clock is behind a time already observed: it was set back. */
    BEHIND,
    /** No clock mark, though an offline proof is kept: the mark was deleted. */
    MARK_MISSING,
    /** The mark does not verify: edited, or copied from another slot or license. */
    MARK_ALTERED
  }

  private final Reason reason;
  private final String highWater;

  RollbackException(Reason reason, String highWater) {
    super(message(reason, highWater), null);
    this.reason = reason;
    this.highWater = highWater;
  }

  private static String message(Reason reason, String highWater) {
    switch (reason) {
      case BEHIND:
        return "the system clock was set back: it is behind " + highWater + ", a time already seen";
      case MARK_MISSING:
        return "the system clock was set back: the clock mark is missing while an offline proof is kept";
      default:
        return "the system clock was set back: the clock mark does not verify";
    }
  }

  public Reason reason() {
    return reason;
  }

  /** The time the clock is behind ({@link Reason#BEHIND}), else null. */
  public String highWater() {
    return highWater;
  }

  @Override
  public String kind() {
    return "rollback";
  }
}
